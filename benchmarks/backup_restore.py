"""Backup and restore of a ~1 GiB PostgreSQL database on the lab's db1 (role pgbackrest).

    .venv/bin/python benchmarks/backup_restore.py [--scale 70] [--load-seconds 90] [--json F]

Needs the lab up and converged (`rampart lab up`, `ansible-playbook playbooks/site.yml`).
Measures, in one run on the same disk:

1. a pgbench database of --scale (70 ≈ 1 GiB; created once, kept between runs as `bench`);
2. a full backup through `rampart-pg-backup full` (backup + verification), and pgBackRest's
   own backup time (from `info`);
3. the restore of that backup alone (`pgbackrest restore` into a scratch directory), and a
   raw copy of the live data directory to the same disk (`cp -a` + `sync`, the physical
   limit); restore throughput is reported as a ratio to the raw copy;
4. a restore drill of the latest backup (`rampart-pg-restore drill`) while pgbench writes
   at a modest rate: RTO (restore + WAL replay + start as a primary) and RPO (commit time of
   the primary's last transaction at the drill's start minus the last one replayed).

Targets (issue 5): RPO <= 60 s, RTO <= 2 min for 1 GiB. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
# testinfra's ansible:// backend calls ansible-inventory from PATH: the venv's.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

import testinfra  # noqa: E402

PG_DATA = "/var/lib/postgresql/15/main"
SCRATCH = "/var/lib/rampart-bench"


def host() -> testinfra.host.Host:
    Path("~/.ansible/cp").expanduser().mkdir(parents=True, exist_ok=True)
    return testinfra.get_host("ansible://db1", ansible_inventory="inventories/lab/hosts.yml")


def sh(db: testinfra.host.Host, command: str, what: str) -> str:
    result = db.run(command)
    if result.rc != 0:
        raise SystemExit(
            f"db1: {what} failed ({result.rc}): {result.stdout[-800:]} {result.stderr[-800:]}"
        )
    return str(result.stdout)


def timed(db: testinfra.host.Host, command: str, what: str) -> tuple[float, str]:
    started = time.monotonic()
    out = sh(db, command, what)
    return time.monotonic() - started, out


def as_pg(command: str) -> str:
    return f"cd / && runuser -u postgres -- {command}"


def psql(db: testinfra.host.Host, sql: str, database: str = "postgres") -> str:
    return sh(db, as_pg(f"psql -X -A -t -d {database} -c {shlex.quote(sql)}"), sql).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument(
        "--load-seconds",
        type=int,
        default=90,
        help="pgbench write load during the drill (starts before it)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    db = host()
    figures: dict[str, object] = {"scale": args.scale}

    # 1. Data.
    exists = psql(db, "SELECT count(*) FROM pg_database WHERE datname = 'bench'") == "1"
    scale = psql(db, "SELECT count(*) FROM pgbench_branches", "bench") if exists else ""
    if scale != str(args.scale):
        if exists:
            psql(db, "DROP DATABASE bench")
        psql(db, "CREATE DATABASE bench")
        seconds, _ = timed(db, as_pg(f"pgbench -i -q -s {args.scale} bench"), "pgbench -i")
        figures["pgbench_init_seconds"] = round(seconds, 1)
    psql(db, "CHECKPOINT")
    figures["database_bytes"] = int(psql(db, "SELECT pg_database_size('bench')"))
    figures["data_dir_bytes"] = int(sh(db, f"du -sb {PG_DATA} | cut -f1", "du").strip())
    print(
        f"database bench: {figures['database_bytes'] / 2**30:.2f} GiB, data directory "
        f"{figures['data_dir_bytes'] / 2**30:.2f} GiB",
        flush=True,
    )

    # 2. Full backup, verified.
    seconds, out = timed(db, "/usr/local/sbin/rampart-pg-backup full", "backup")
    figures["backup_run_seconds"] = round(seconds, 1)
    info = json.loads(sh(db, as_pg("pgbackrest --stanza=main --output=json info"), "info"))
    last = info[0]["backup"][-1]
    figures["backup_label"] = last["label"]
    figures["pgbackrest_backup_seconds"] = last["timestamp"]["stop"] - last["timestamp"]["start"]
    figures["backup_repo_bytes"] = last["info"]["repository"]["delta"]
    print(
        f"full backup + verify: {seconds:.1f} s (pgBackRest backup alone "
        f"{figures['pgbackrest_backup_seconds']} s, "
        f"{last['info']['repository']['delta'] / 2**20:.0f} MiB in the repository)",
        flush=True,
    )

    # 3. Restore alone vs a raw copy of the data directory, same disk.
    sh(
        db,
        f"rm -rf {SCRATCH} && mkdir -p {SCRATCH} && chown postgres:postgres {SCRATCH}",
        "scratch",
    )
    seconds, _ = timed(
        db,
        as_pg(
            f"pgbackrest --stanza=main --pg1-path={SCRATCH}/restore --archive-mode=off "
            "--type=immediate restore"
        )
        + " && sync",
        "pgbackrest restore",
    )
    restored_bytes = int(sh(db, f"du -sb {SCRATCH}/restore | cut -f1", "du").strip())
    sh(db, f"rm -rf {SCRATCH}/restore", "cleanup")
    copy_seconds, _ = timed(db, f"cp -a {PG_DATA} {SCRATCH}/copy && sync", "raw copy")
    copy_bytes = int(sh(db, f"du -sb {SCRATCH}/copy | cut -f1", "du").strip())
    sh(db, f"rm -rf {SCRATCH}", "cleanup")
    figures["restore_seconds"] = round(seconds, 1)
    figures["restore_mib_s"] = round(restored_bytes / seconds / 2**20, 1)
    figures["raw_copy_seconds"] = round(copy_seconds, 1)
    figures["raw_copy_mib_s"] = round(copy_bytes / copy_seconds / 2**20, 1)
    figures["restore_vs_raw_copy"] = round(figures["restore_mib_s"] / figures["raw_copy_mib_s"], 2)
    print(
        f"restore: {seconds:.1f} s ({figures['restore_mib_s']} MiB/s); raw copy: "
        f"{copy_seconds:.1f} s ({figures['raw_copy_mib_s']} MiB/s); ratio "
        f"{figures['restore_vs_raw_copy']}",
        flush=True,
    )

    # 4. Drill of the latest backup under a write load.
    load = threading.Thread(
        target=db.run,
        args=(as_pg(f"pgbench -n -c 2 -R 50 -T {args.load_seconds} bench"),),
        daemon=True,
    )
    load.start()
    time.sleep(min(30, args.load_seconds / 3))
    _, out = timed(db, "/usr/local/sbin/rampart-pg-restore drill", "restore drill")
    load.join()
    match = re.search(r"RTO=([\d.]+)s RPO=([\d.]+)s report=(\S+)", out)
    if not match:
        raise SystemExit(f"db1: the drill printed no RTO/RPO line: {out[-800:]}")
    figures["drill_rto_seconds"] = float(match.group(1))
    figures["drill_rpo_seconds"] = float(match.group(2))
    figures["drill_report"] = json.loads(sh(db, f"cat {match.group(3)}", "report"))
    print(out.strip().splitlines()[-1], flush=True)

    verdict = {
        "rpo_le_60s": figures["drill_rpo_seconds"] <= 60,
        "rto_le_120s": figures["drill_rto_seconds"] <= 120,
    }
    figures["targets"] = verdict
    print(json.dumps({k: v for k, v in figures.items() if k != "drill_report"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
