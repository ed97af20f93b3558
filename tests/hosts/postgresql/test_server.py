"""postgresql: the live server runs with the role's settings, on the private address only."""

from __future__ import annotations

import pytest
from testinfra.host import Host

from .support import psql, role_vars


def test_cluster_is_enabled_and_running(db: Host) -> None:
    service = db.service("postgresql@15-main")
    assert service.is_enabled, "db1: postgresql@15-main is not enabled"
    assert service.is_running, "db1: postgresql@15-main is not running"
    assert psql(db, "SELECT current_setting('server_version_num')::int / 10000") == "15", (
        "db1: the running server is not PostgreSQL 15"
    )


# (setting, role variable, how the variable's value reads in SHOW)
LIVE = [
    ("max_connections", "postgresql_max_connections", str),
    ("shared_buffers", "postgresql_shared_buffers", str),
    ("work_mem", "postgresql_work_mem", str),
    ("log_min_duration_statement", "postgresql_log_min_duration_ms", lambda v: f"{v}ms"),
    ("listen_addresses", "postgresql_listen_addresses", ",".join),
    ("shared_preload_libraries", "postgresql_shared_preload_libraries", ",".join),
]


@pytest.mark.parametrize(("setting", "variable", "shown"), LIVE, ids=[s for s, *_ in LIVE])
def test_setting_is_live(db: Host, setting: str, variable: str, shown: object) -> None:
    expected = shown(role_vars(db)[variable])  # type: ignore[operator]
    live = psql(db, f"SHOW {setting}")
    assert live == expected, f"db1: SHOW {setting} is {live!r}, {variable} says {expected!r}"


def test_defaults_are_the_sizing_of_the_issue(db: Host) -> None:
    # The lab keeps the role's defaults; the issue fixes them.
    live = {s: psql(db, f"SHOW {s}") for s in ("max_connections", "shared_buffers", "work_mem")}
    assert live == {"max_connections": "400", "shared_buffers": "256MB", "work_mem": "4MB"}, (
        f"db1: live sizing {live}"
    )


def test_slow_queries_are_logged(db: Host) -> None:
    marker = "rampart_slow_query_probe"
    psql(db, f"SELECT pg_sleep(0.15), '{marker}'")
    log = db.run(
        "journalctl -u postgresql@15-main --since '-2min' --no-pager -o cat; "
        "tail -n 200 /var/log/postgresql/postgresql-15-main.log"
    ).stdout
    lines = [line for line in log.splitlines() if marker in line and "duration:" in line]
    assert lines, "db1: a 150 ms statement was not logged with its duration"


def test_pg_stat_statements_records_queries(db: Host) -> None:
    # Constants are normalised away in pg_stat_statements; a column alias is kept.
    psql(db, "SELECT 1 AS rampart_pgss_probe")
    count = psql(
        db,
        "SELECT count(*) FROM pg_stat_statements WHERE query LIKE 'SELECT $1 AS rampart_pgss%'",
    )
    assert int(count) >= 1, "db1: pg_stat_statements did not record a query"


def test_listens_on_private_address_and_loopback_only(db: Host) -> None:
    v = role_vars(db)
    port = int(v["postgresql_port"])
    # /proc/net/tcp: local address (hex, little-endian) and state 0A = LISTEN.
    listening = set()
    for line in db.check_output("cat /proc/net/tcp").splitlines()[1:]:
        fields = line.split()
        addr, hexport = fields[1].split(":")
        if fields[3] == "0A" and int(hexport, 16) == port:
            listening.add(".".join(str(b) for b in reversed(bytes.fromhex(addr))))
    ipv6 = db.run("cat /proc/net/tcp6")
    v6_listeners = [
        line
        for line in (ipv6.stdout.splitlines()[1:] if ipv6.rc == 0 else [])
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
    ]
    assert listening == set(v["postgresql_listen_addresses"]), (
        f"db1: port {port} listens on {sorted(listening)}, "
        f"expected {v['postgresql_listen_addresses']}"
    )
    assert not v6_listeners, f"db1: port {port} also listens on IPv6: {v6_listeners}"
