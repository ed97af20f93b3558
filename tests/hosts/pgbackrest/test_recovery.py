"""Disaster recovery (runbooks/DatabaseLost.md): db1's data directory is deleted and
PostgreSQL killed; playbooks/restore.yml brings back every archived row and a working
primary that archives again."""

from __future__ import annotations

from collections.abc import Callable

from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import PG_DATA, PG_SERVICE, archive_now, metrics, psql


def test_lost_data_directory_is_recovered_by_the_restore_playbook(
    db: Host, run_playbook: Callable[..., PlaybookRun]
) -> None:
    psql(db, "DROP TABLE IF EXISTS dr_probe", database="erp")
    psql(
        db,
        "CREATE TABLE dr_probe AS SELECT g AS id, md5(g::text) AS v "
        "FROM generate_series(1, 2000) g",
        database="erp",
    )
    expected = psql(db, "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM dr_probe", database="erp")
    archive_now(db)

    db.check_output(f"kill -9 $(head -1 {PG_DATA}/postmaster.pid); rm -rf {PG_DATA}")
    assert db.run(f"test -e {PG_DATA}").rc != 0

    run = run_playbook("playbooks/restore.yml", "--limit", "db1")
    assert run.returncode == 0, f"restore.yml failed: {run.failure_summary()}"
    assert db.service(PG_SERVICE).is_running, f"db1: {PG_SERVICE} is not running after restore"
    assert psql(db, "SELECT pg_is_in_recovery()") == "f"
    restored = psql(db, "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM dr_probe", database="erp")
    assert restored == expected, "db1: dr_probe differs after the recovery"
    # Writes are archived again on the new timeline, and the new full backup is good.
    psql(db, "INSERT INTO dr_probe VALUES (2001, 'after')", database="erp")
    archive_now(db)
    assert (
        metrics(db, "rampart_backup.prom")[
            'rampart_backup_last_attempt_success{backup="pg-backup"}'
        ]
        == 1.0
    )


def test_restore_refuses_a_data_directory_that_still_holds_a_cluster(
    db: Host, run_playbook: Callable[..., PlaybookRun]
) -> None:
    run = run_playbook("playbooks/restore.yml", "--limit", "db1")
    assert run.returncode != 0, "db1: restore.yml replaced a live cluster without restore_force"
    assert "still holds a cluster" in run.stdout, run.stdout[-1500:]
    assert db.service(PG_SERVICE).is_running, f"db1: the refused restore stopped {PG_SERVICE}"
