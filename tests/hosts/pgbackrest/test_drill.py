"""Restore drills (playbooks/restore-drill.yml) on db1: point-in-time recovery is exact, and
a drill of the latest backup loses nothing committed more than archive_timeout earlier."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import archive_now, psql

DRILL_PORT = 5433
N, M = 1000, 500
RESULT = re.compile(r"RTO=(?P<rto>[\d.]+)s RPO=(?P<rpo>[\d.]+)s report=(?P<report>\S+\.json)")


def checksum(db: Host, table: str, port: int = 5432) -> str:
    return psql(
        db,
        f"SELECT count(*) || ':' || md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM {table}",  # noqa: S608
        port=port,
        database="erp",
    )


def drill(run_playbook: Callable[..., PlaybookRun], **extra: object) -> tuple[PlaybookRun, dict]:
    args = ["--limit", "db1"]
    if extra:
        args += ["-e", json.dumps(extra)]
    run = run_playbook("playbooks/restore-drill.yml", *args)
    assert run.returncode == 0, f"restore drill failed: {run.failure_summary()}"
    match = RESULT.search(run.stdout)
    assert match, f"restore-drill.yml printed no RTO=…s RPO=…s report=… line:\n{run.stdout[-2000:]}"
    return run, match.groupdict()


@pytest.fixture
def scratch(db: Host) -> Iterator[None]:
    yield
    db.run("/usr/local/sbin/rampart-pg-restore drill-stop")


def test_pitr_restores_exactly_the_rows_committed_before_t(
    db: Host, run_playbook: Callable[..., PlaybookRun], scratch: None
) -> None:
    psql(db, "DROP TABLE IF EXISTS pitr_probe", database="erp")
    psql(db, "CREATE TABLE pitr_probe (id int PRIMARY KEY, v text NOT NULL)", database="erp")
    psql(
        db,
        f"INSERT INTO pitr_probe SELECT g, md5(g::text) FROM generate_series(1, {N}) g",  # noqa: S608
        database="erp",
    )
    expected = checksum(db, "pitr_probe")
    target = psql(db, "SELECT clock_timestamp()")
    time.sleep(1.0)
    psql(
        db,
        f"INSERT INTO pitr_probe SELECT g, md5(g::text) FROM generate_series({N + 1}, {N + M}) g",  # noqa: S608
        database="erp",
    )
    assert checksum(db, "pitr_probe").startswith(f"{N + M}:")
    archive_now(db)  # the WAL past T must be in the repository for recovery to stop at T

    run, result = drill(run_playbook, drill_target_time=target, drill_keep=True)
    restored = checksum(db, "pitr_probe", port=DRILL_PORT)
    assert restored == expected, (
        f"db1: restored to {target}: {restored} (count:md5), expected {expected}"
    )
    report = json.loads(db.file(result["report"]).content_string)
    assert (report["status"], report["mode"], report["target_time"]) == ("passed", "pitr", target)
    assert report["rto_seconds"] > 0


def test_latest_drill_loses_nothing_older_than_archive_timeout(
    db: Host, run_playbook: Callable[..., PlaybookRun], scratch: None
) -> None:
    timeout = int(psql(db, "SELECT setting FROM pg_settings WHERE name = 'archive_timeout'"))
    psql(db, "DROP TABLE IF EXISTS rpo_probe", database="erp")
    psql(
        db,
        "CREATE TABLE rpo_probe (id int PRIMARY KEY, v text NOT NULL, "
        "at timestamptz NOT NULL DEFAULT clock_timestamp())",
        database="erp",
    )
    psql(
        db,
        "INSERT INTO rpo_probe (id, v) SELECT g, md5(g::text) FROM generate_series(1, 100) g",
        database="erp",
    )
    # Nothing forces a WAL switch here: only archive_timeout gets these rows archived.
    time.sleep(timeout + 3)
    psql(
        db,
        "INSERT INTO rpo_probe (id, v) SELECT g, md5(g::text) FROM generate_series(101, 110) g",
        database="erp",
    )
    failure = float(psql(db, "SELECT extract(epoch FROM clock_timestamp())"))

    run, result = drill(run_playbook, drill_keep=True)
    must_have = psql(
        db,
        f"SELECT count(*) FROM rpo_probe WHERE at < to_timestamp({failure - timeout})",  # noqa: S608
        database="erp",
    )
    present = psql(
        db,
        f"SELECT count(*) FROM rpo_probe WHERE at < to_timestamp({failure - timeout})",  # noqa: S608
        port=DRILL_PORT,
        database="erp",
    )
    assert int(must_have) == 100 and present == must_have, (
        f"db1: {must_have} rows committed > {timeout} s before the failure, {present} restored"
    )
    assert float(result["rpo"]) <= timeout + 5, (
        f"db1: drill RPO {result['rpo']} s exceeds archive_timeout {timeout} s"
    )
    report = json.loads(db.file(result["report"]).content_string)
    assert report["status"] == "passed" and report["mode"] == "latest"
    assert set(report["sanity"]["databases"]) >= {"erp", "postgres"}


def test_drill_writes_its_metrics(db: Host) -> None:
    text = db.file("/var/lib/prometheus/node-exporter/rampart_restore_drill.prom").content_string
    for name in (
        "rampart_restore_drill_last_success",
        "rampart_restore_drill_rto_seconds",
        "rampart_restore_drill_rpo_seconds",
    ):
        assert re.search(rf'^{name}{{backup="pg-backup"}} [\d.e+-]+$', text, re.M), (
            f"db1: rampart_restore_drill.prom lacks {name}:\n{text}"
        )
    assert 'rampart_restore_drill_last_success{backup="pg-backup"} 1\n' in text
