"""Fault tests on db1: PostgreSQL killed mid-backup, a full repository, a wrong passphrase.
A backup is reported good only after it is listed and verified; every failure is reported
with its cause and the failure metric."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import PG_DATA, PG_SERVICE, backup_sets, metrics, psql, wait_for

UNIT = "rampart-pg-backup@full.service"
SUCCESS = 'rampart_backup_last_attempt_success{backup="pg-backup"}'
LAST_GOOD = 'rampart_backup_last_success_timestamp_seconds{backup="pg-backup"}'
REPO_DIR = "/var/lib/pgbackrest/backup/main"
SMALL_REPO = "/mnt/rampart-small-repo"
REPO = "/var/lib/pgbackrest"


def copy_tree(src: str, dst: str) -> str:
    """Shell to copy src's content into dst, owners and modes kept, while PostgreSQL keeps
    archiving WAL: pgBackRest's in-flight *.pgbackrest.tmp files are renamed away under a
    plain `cp -a` (which then fails on them) and are never needed."""
    return (
        f"tar -C {src} --exclude='*.pgbackrest.tmp' --ignore-failed-read -cf - . "
        f"| tar -C {dst} -xpf -"
    )


@pytest.fixture(scope="module", autouse=True)
def ballast(db: Host) -> Iterator[None]:
    """~150 MB of poorly compressible rows: a backup takes long enough to be interrupted and
    does not fit the small repository."""
    psql(
        db,
        "CREATE TABLE IF NOT EXISTS fault_ballast AS SELECT g AS id, "
        "md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS v "
        "FROM generate_series(1, 1000000) g",
        database="erp",
    )
    yield
    db.run(f"systemctl start {PG_SERVICE}")
    psql(db, "DROP TABLE IF EXISTS fault_ballast", database="erp")


@pytest.fixture
def small_repo(db: Host) -> Iterator[str]:
    """The repository on a size-limited filesystem: a copy of it on a tmpfs with 12 MiB to
    spare, bind-mounted over /var/lib/pgbackrest (an nspawn host has no loop devices; tmpfs
    and bind mounts work). Afterwards the WAL archived meanwhile is copied back. Runs before
    the kill tests: pgBackRest would resume their interrupted backup, which needs less room."""
    db.check_output(
        f"set -e; used=$(du -sm {REPO}/ | cut -f1); mkdir -p {SMALL_REPO}; "
        f"mount -t tmpfs -o size=$((used + 12))m,mode=0750 rampart-small-repo {SMALL_REPO}; "
        f"{copy_tree(REPO, SMALL_REPO)}; chown postgres:postgres {SMALL_REPO}; "
        f"mount --bind {SMALL_REPO} {REPO}"
    )
    try:
        yield SMALL_REPO
    finally:
        db.run(
            f"umount {REPO}; {copy_tree(SMALL_REPO + '/archive', REPO + '/archive')}; "
            f"umount {SMALL_REPO}; rmdir {SMALL_REPO}"
        )


def test_full_repository_fails_clearly_with_the_failure_metric(db: Host, small_repo: str) -> None:
    last_good = metrics(db, "rampart_backup.prom").get(LAST_GOOD)
    # A full repository also stops WAL archiving; a short archive timeout ends the retry
    # (which then waits for WAL that cannot be stored) sooner.
    run = db.run("env PGBACKREST_ARCHIVE_TIMEOUT=10 /usr/local/sbin/rampart-pg-backup full")
    assert run.rc == 1, f"db1: backup into a full repository exited {run.rc}: {run.stdout}"
    result = [line for line in run.stdout.splitlines() if line.startswith("RESULT")]
    assert result and result[0].startswith("RESULT failed"), run.stdout
    assert "No space left on device" in result[0], f"db1: the cause is not named: {result[0]}"
    m = metrics(db, "rampart_backup.prom")
    assert m[SUCCESS] == 0.0 and m.get(LAST_GOOD) == last_good, m


def run_backup_killing_postgres(db: Host, restart_after: float | None) -> tuple[str, float]:
    """Start the full-backup unit, SIGKILL the postmaster (its backends follow) as soon as
    the new backup set's directory appears in the repository, optionally restart PostgreSQL,
    wait for the unit to end. Returns (the run's journal, time of the kill)."""
    restart = f"sleep {restart_after}; systemctl start {PG_SERVICE};" if restart_after else ""
    script = f"""
set -e
before=$(ls {REPO_DIR})
systemctl start --no-block {UNIT}
for i in $(seq 1200); do
  new=$(ls {REPO_DIR} | grep -Fvx "$before" | grep -E '^[0-9]{{8}}-[0-9]{{6}}F$' || true)
  if [ -n "$new" ] && [ -d "{REPO_DIR}/$new/pg_data" ]; then break; fi
  sleep 0.05
done
[ -n "$new" ] || {{ echo "no backup started"; exit 3; }}
kill -9 $(head -1 {PG_DATA}/postmaster.pid)
date +%s.%N
{restart}
"""
    out = db.run(script)
    assert out.rc == 0, f"db1: kill script: {out.stdout} {out.stderr}"
    killed_at = float(out.stdout.split()[0])
    wait_for(
        lambda: db.run(f"systemctl is-active {UNIT}").stdout.strip() in ("inactive", "failed"),
        600,
        f"{UNIT} to finish",
    )
    journal = db.check_output(
        f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="
        f"$(systemctl show -p InvocationID --value {UNIT})"
    )
    return journal, killed_at


def test_backup_killed_midway_is_reported_failed_and_retried(db: Host) -> None:
    labels_before = {b["label"] for b in backup_sets(db)}
    journal, killed_at = run_backup_killing_postgres(db, restart_after=1.0)
    lines = [line for line in journal.splitlines() if line.startswith(("attempt", "RESULT"))]
    assert lines and lines[0].startswith("attempt 1: full backup FAILED"), (
        f"db1: the interrupted attempt was not reported failed: {lines}"
    )
    assert lines[-2].startswith("attempt 2:") and "done and verified" in lines[-2], lines
    assert lines[-1].startswith("RESULT ok"), lines
    new = [b for b in backup_sets(db) if b["label"] not in labels_before]
    assert len(new) == 1 and new[0]["timestamp"]["stop"] > killed_at, (
        f"db1: new backup sets after the kill: {new}"
    )
    assert new[0]["label"] in lines[-1], f"db1: reported {lines[-1]}, listed {new[0]['label']}"
    m = metrics(db, "rampart_backup.prom")
    assert m[SUCCESS] == 1.0 and m[LAST_GOOD] > killed_at, m


def test_backup_with_postgres_down_is_never_reported_good(db: Host) -> None:
    labels_before = {b["label"] for b in backup_sets(db)}
    last_good = metrics(db, "rampart_backup.prom")[LAST_GOOD]
    try:
        journal, _ = run_backup_killing_postgres(db, restart_after=None)
    finally:
        db.run(f"systemctl start {PG_SERVICE}")
    assert "attempt 1: full backup FAILED" in journal and "attempt 2: full backup FAILED" in journal
    assert "RESULT failed" in journal, journal
    assert db.run(f"systemctl is-failed {UNIT}").stdout.strip() == "failed"
    m = metrics(db, "rampart_backup.prom")
    assert m[SUCCESS] == 0.0, f"db1: failure metric not written: {m}"
    assert m[LAST_GOOD] == last_good, "db1: a failed run moved the last-success timestamp"
    assert {b["label"] for b in backup_sets(db)} == labels_before, "db1: a failed run is listed"


def test_wrong_passphrase_refuses_to_restore(
    db: Host, run_playbook: Callable[..., PlaybookRun]
) -> None:
    run = run_playbook(
        "playbooks/restore-drill.yml",
        "--limit",
        "db1",
        "-e",
        json.dumps({"restore_repo_cipher_pass": "not-the-passphrase-of-this-repository"}),
    )
    assert run.returncode != 0, "db1: a restore with a wrong passphrase succeeded"
    assert (
        "the repository passphrase does not decrypt repository /var/lib/pgbackrest" in run.stdout
    ), f"db1: no clear passphrase error:\n{run.stdout[-1500:]}"
    assert db.run("test -e /var/lib/rampart-drill").rc != 0, "db1: the failed drill left its files"


def test_next_scheduled_run_recovers_the_metric(db: Host) -> None:
    start = time.time()
    db.check_output(f"systemctl start {UNIT}")
    m = metrics(db, "rampart_backup.prom")
    assert m[SUCCESS] == 1.0 and m[LAST_GOOD] >= start, m
