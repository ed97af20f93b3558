"""Helpers of the pgbackrest host tests: psql on db1, the role's settings, the metrics files."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from expected import PGBACKREST as EXPECTED
from lab_support import REPO
from testinfra.host import Host

__all__ = ["DB_HOST", "EXPECTED", "LAB_PASSPHRASE", "archive_now", "backup_sets", "last_line",
           "metrics", "pgbackrest", "psql", "wait_for"]
# The lab inventory's db group.
DB_HOST = "db1"
PG_SERVICE = "postgresql@15-main"
PG_DATA = "/var/lib/postgresql/15/main"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
LAB_PASSPHRASE = REPO / "inventories/lab/.state/secrets/pgbackrest_repo_cipher_pass"


def psql(host: Host, sql: str, *, port: int = 5432, database: str = "postgres") -> str:
    """SQL as the postgres OS user on the local socket; unaligned, tuples only."""
    command = (
        f"cd / && runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 "
        f"-p {port} -d {shlex.quote(database)} -c {shlex.quote(sql)}"
    )
    result = host.run(command)
    assert result.rc == 0, f"{DB_HOST}: psql -p {port} {sql!r}: {result.stderr}"
    return str(result.stdout).strip()


def pgbackrest(host: Host, *args: str) -> Any:
    return host.run(
        "cd / && runuser -u postgres -- pgbackrest --stanza=main "
        + " ".join(shlex.quote(a) for a in args)
    )


def backup_sets(host: Host) -> list[dict[str, Any]]:
    result = pgbackrest(host, "--output=json", "info")
    assert result.rc == 0, f"{DB_HOST}: pgbackrest info: {result.stderr}"
    return list(json.loads(result.stdout)[0].get("backup", []))


def metrics(host: Host, name: str) -> dict[str, float]:
    """{series (name + labels): value} of one textfile-collector file."""
    text = host.file(f"{TEXTFILE_DIR}/{name}").content_string
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def archive_now(host: Host) -> None:
    """Switch the WAL segment and wait until it is in the repository (pgbackrest check)."""
    result = pgbackrest(host, "check")
    assert result.rc == 0, f"{DB_HOST}: pgbackrest check: {result.stdout} {result.stderr}"


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{DB_HOST}: {what} not within {timeout:.0f} s"
        time.sleep(0.5)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
