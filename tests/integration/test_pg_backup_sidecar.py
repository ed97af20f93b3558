"""pg-backup.sh (the Docker target's backup job) against a real PostgreSQL and pgBackRest.

The script the target uploads (infra/backups/pg-backup.sh), the policy file it generates from
the pgbackrest role's defaults and PostgreSQL's archive_command as the target passes it run
here for real: Debian's PostgreSQL as the unprivileged `postgres` user, on a Unix socket in a
temporary directory (no TCP listener), and pgBackRest with an encrypted posix repository in
that directory instead of S3 (the repository type is an environment setting). Everything is
stopped by its PID and the directory removed at the end.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import backups

pytestmark = pytest.mark.integration

STANZA = "erp"
JOB = "pg-backup"
PASSPHRASE = "a-passphrase-of-32-characters-ok"  # noqa: S105 - a throwaway test repository
WRONG_PASS = "not-the-passphrase-of-this-repository"  # noqa: S105


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL server binaries missing (Debian package postgresql)"
    return Path(found[-1]).parent


def _as_postgres() -> list[str]:
    """Run as the `postgres` user when root (PostgreSQL refuses root), else as ourselves."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Bench:
    root: Path
    env: dict[str, str]
    socket_dir: Path
    spool: Path
    metrics: Path
    repo: Path
    server: subprocess.Popen[bytes]

    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_as_postgres(), *args], env=env or self.env, text=True,
                              errors="replace",
                              capture_output=True, timeout=timeout, cwd=self.root)

    def sql(self, query: str) -> str:
        result = self.run("psql", "-X", "-A", "-t", "-h", str(self.socket_dir), "-d", "postgres",
                          "-c", query, timeout=30)
        assert result.returncode == 0, f"psql: {result.stderr}"
        return result.stdout.strip()

    def script(self, *args: str, env: dict[str, str] | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.run("sh", str(self.root / "pg-backup.sh"), *args, env=env,
                        timeout=timeout)

    @property
    def direct(self) -> dict[str, str]:
        """The environment for calling pgBackRest directly (the script adds these itself)."""
        return {**self.env, "PGBACKREST_REPO1_CIPHER_TYPE": "aes-256-cbc",
                "PGBACKREST_REPO1_CIPHER_PASS": PASSPHRASE}

    def serve_log(self) -> str:
        path = self.root / "serve.log"
        return path.read_text(errors="replace") if path.exists() else "(no serve.log)"

    def series(self, name: str) -> dict[str, float]:
        values = {}
        path = self.metrics / name
        for line in path.read_text().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                values[key] = float(value)
        return values


def _wait(what: str, check, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    assert shutil.which("pgbackrest"), "pgbackrest missing (Debian package pgbackrest)"
    pg_bin = _pg_bin()
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="rampart-pg-backup-"))
    server = None
    try:
        spool = root / "pgbackrest-wal"  # the word pgBackRest wants in archive_command
        dirs = {name: root / name for name in ("run", "metrics", "repo", "log", "lock",
                                                "secrets")}
        for d in (spool, *dirs.values()):
            d.mkdir()
        policy = dataclasses.replace(backups.load_policy(), retry_delay_s=1)
        (root / "policy.env").write_text(backups.policy_env(policy, JOB))
        # the very text the target uploads (a copy: the checkout may be private to root)
        shutil.copyfile(backups.SCRIPT, root / "pg-backup.sh")
        (dirs["secrets"] / "repo_cipher_pass").write_text(PASSPHRASE + "\n")
        (dirs["secrets"] / "wrong_pass").write_text(WRONG_PASS)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            for path in root.rglob("*"):
                shutil.chown(path, "postgres", "postgres")
        root.chmod(0o755)
        data = root / "data"
        initdb = subprocess.run([*_as_postgres(), str(pg_bin / "initdb"), "-D", str(data),
                                 "-A", "trust", "-k", "-U", "postgres"],
                                capture_output=True, text=True, timeout=120)
        assert initdb.returncode == 0, initdb.stderr
        # The archiving arguments exactly as the Docker target appends them to postgres'
        # command; only the socket and the (absent) TCP listener are the test's own.
        args = [*_as_postgres(), str(pg_bin / "postgres"), "-D", str(data),
                "-c", "listen_addresses=", "-c", f"unix_socket_directories={dirs['run']}",
                *backups.postgres_arguments(policy, str(spool))]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                  stderr=open(root / "postgres.log", "wb"))  # noqa: SIM115
        env = {
            "PATH": os.environ["PATH"], "TZ": "UTC", "LANG": "C",
            "PGBACKREST_STANZA": STANZA,
            "PGBACKREST_PG1_PATH": str(data),
            "PGBACKREST_PG1_SOCKET_PATH": str(dirs["run"]),
            "PGBACKREST_PG1_USER": "postgres",
            "PGBACKREST_REPO1_TYPE": "posix",
            "PGBACKREST_REPO1_PATH": str(dirs["repo"]),
            "PGBACKREST_LOG_PATH": str(dirs["log"]),
            "PGBACKREST_LOCK_PATH": str(dirs["lock"]),
            "RAMPART_POLICY_FILE": str(root / "policy.env"),
            "RAMPART_WAL_SPOOL": str(spool),
            "RAMPART_METRICS_DIR": str(dirs["metrics"]),
            "REPO_CIPHER_PASS_FILE": str(dirs["secrets"] / "repo_cipher_pass"),
        }
        bench = Bench(root=root, env=env, socket_dir=dirs["run"], spool=spool,
                      metrics=dirs["metrics"], repo=dirs["repo"], server=server)
        _wait("PostgreSQL to accept connections",
              lambda: bench.run("pg_isready", "-h", str(dirs["run"]), timeout=10)
              .returncode == 0, timeout=60)
        yield bench
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def served(bench: Bench) -> Iterator[Bench]:
    """The service as the container runs it, until its first (catch-up) backup verified."""
    bench.sql("CREATE TABLE drill(id int); INSERT INTO drill SELECT generate_series(1, 1000)")
    bench.sql("SELECT pg_switch_wal()")
    proc = subprocess.Popen([*_as_postgres(), "sh", str(bench.root / "pg-backup.sh")],
                            env=bench.env, cwd=bench.root,
                            stdout=open(bench.root / "serve.log", "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)
    prom = bench.metrics / "rampart_backup.prom"
    try:
        _wait("the first full backup", lambda: prom.exists() or proc.poll() is not None,
              timeout=150)
        assert proc.poll() is None, f"serve exited: {bench.serve_log()}"
        yield bench
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("serve ignored SIGTERM for 30 s") from None


def _info(bench: Bench, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return bench.run("pgbackrest", "--output=text", "info", env=env or bench.direct)


def test_serve_takes_a_verified_full_backup_at_start(served: Bench) -> None:
    label = f'{{backup="{JOB}"}}'
    series = served.series("rampart_backup.prom")
    assert series[f"rampart_backup_last_attempt_success{label}"] == 1, served.serve_log()
    assert series[f"rampart_backup_last_success_timestamp_seconds{label}"] > 1.7e9
    info = _info(served)
    assert info.returncode == 0 and "full backup:" in info.stdout, info.stdout + info.stderr


def _newest_backup(bench: Bench) -> dict:
    import json

    result = bench.run("pgbackrest", "--output=json", "info", env=bench.direct)
    assert result.returncode == 0, result.stdout + result.stderr
    (stanza,) = json.loads(result.stdout)
    return stanza["backup"][-1]


def test_size_is_the_newest_backups_repository_size(served: Bench) -> None:
    """rampart_backup_last_size_bytes, as the VM role writes it: the repository size
    (delta) pgBackRest reports for the backup just taken; a failed run keeps it."""
    label = f'{{backup="{JOB}"}}'
    result = served.script("backup", "incr")
    assert result.returncode == 0, result.stdout + result.stderr
    newest = _newest_backup(served)
    assert newest["type"] == "incr", newest
    size = served.series("rampart_backup.prom")[f"rampart_backup_last_size_bytes{label}"]
    assert size == newest["info"]["repository"]["delta"] > 0, (size, newest["info"])
    text = (served.metrics / "rampart_backup.prom").read_text()
    assert "# TYPE rampart_backup_last_size_bytes gauge" in text, text
    env = {**served.env, "REPO_CIPHER_PASS_FILE": str(served.root / "secrets" / "wrong_pass")}
    assert served.script("backup", "full", env=env).returncode == 1
    series = served.series("rampart_backup.prom")
    assert series[f"rampart_backup_last_attempt_success{label}"] == 0
    assert series[f"rampart_backup_last_size_bytes{label}"] == size


def test_the_repository_is_encrypted(served: Bench) -> None:
    for info in ("backup/erp/backup.info", "archive/erp/archive.info"):
        head = (served.repo / info).read_bytes()[:8]
        assert head == b"Salted__", f"{info} is not encrypted (starts {head!r})"
    wrong = {**served.direct, "PGBACKREST_REPO1_CIPHER_PASS": WRONG_PASS}
    # pgBackRest itself reads the passphrase here (the script is not involved)
    result = _info(served, env=wrong)
    assert "error" in (result.stdout + result.stderr).lower(), result.stdout


def test_wal_reaches_the_repository_through_the_spool(served: Bench) -> None:
    before = int(served.sql("SELECT archived_count FROM pg_stat_archiver"))
    served.sql("INSERT INTO drill SELECT generate_series(1001, 2000)")
    segment = served.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")
    served.sql("SELECT pg_switch_wal()")
    _wait("PostgreSQL to archive into the spool",
          lambda: int(served.sql("SELECT archived_count FROM pg_stat_archiver")) > before,
          timeout=30)
    # The archiver polls every few seconds, pushes and only then deletes.
    _wait(f"{segment} to leave the spool",
          lambda: not (served.spool / segment).exists(), timeout=30)
    found = served.run("find", str(served.repo / "archive" / STANZA), "-name", f"{segment}-*")
    assert found.stdout.strip(), f"{segment} left the spool but is not in the repository"
    # pgBackRest's own end-to-end check: it switches WAL and waits for it in the repository.
    check = served.run("pgbackrest", "check", env=served.direct, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    wal = served.series("pgbackrest.prom")
    assert f'pgbackrest_wal_archive_last_success_timestamp_seconds{{stanza="{STANZA}"}}' in wal
    lag = wal[f'pgbackrest_wal_archive_lag_seconds{{stanza="{STANZA}"}}']
    assert 0 <= lag < 60, f"lag {lag} s with an empty spool"


def test_a_failed_run_keeps_the_last_success_and_reports_zero(served: Bench) -> None:
    label = f'{{backup="{JOB}"}}'
    last_ok = served.series("rampart_backup.prom")[
        f"rampart_backup_last_success_timestamp_seconds{label}"]
    env = {**served.env, "REPO_CIPHER_PASS_FILE": str(served.root / "secrets" / "wrong_pass")}
    result = served.script("backup", "full", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "retrying in 1 s" in result.stdout and "RESULT failed" in result.stdout, result.stdout
    series = served.series("rampart_backup.prom")
    assert series[f"rampart_backup_last_attempt_success{label}"] == 0
    assert series[f"rampart_backup_last_success_timestamp_seconds{label}"] == last_ok
    assert series[f"rampart_backup_last_attempt_timestamp_seconds{label}"] >= last_ok


def test_an_incremental_backup_is_verified(served: Bench) -> None:
    result = served.script("backup", "incr")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT ok: incr backup verified" in result.stdout
    assert "incr backup:" in _info(served).stdout


def test_a_segment_pgbackrest_refuses_stays_spooled_and_ages(served: Bench) -> None:
    """Nothing is deleted before pgBackRest accepted it; temporary names are left alone;
    the lag metric shows the oldest waiting segment."""
    bad = served.spool / "000000010000000000000000"  # sorts first: blocks the queue
    tmp = served.spool / "000000010000000000000099.tmp"  # archive_command mid-copy
    for path, content in ((bad, b"not a WAL segment"), (tmp, b"partial")):
        path.write_bytes(content)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
    old = time.time() - 600
    os.utime(bad, (old, old))
    try:
        result = served.script("push")
        assert result.returncode == 1, result.stdout + result.stderr
        assert bad.exists() and tmp.exists(), "a file left the spool without being archived"
        lag = served.series("pgbackrest.prom")[
            f'pgbackrest_wal_archive_lag_seconds{{stanza="{STANZA}"}}']
        assert lag >= 600, lag
    finally:
        bad.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    assert served.script("push").returncode == 0


def test_archive_command_is_idempotent(tmp_path: Path) -> None:
    """Re-archiving a segment with the same content succeeds (a retry after a crash);
    different content under the same name fails, so PostgreSQL keeps and retries it."""
    spool = tmp_path / "pgbackrest-wal"
    spool.mkdir()
    wal = tmp_path / "000000010000000000000007"
    wal.write_bytes(b"segment")

    def archive() -> int:
        command = backups.archive_command(str(spool)).replace("%p", str(wal)) \
            .replace("%f", wal.name)
        return subprocess.run(["sh", "-c", command], timeout=30).returncode

    assert archive() == 0 and (spool / wal.name).read_bytes() == b"segment"
    assert not list(spool.glob("*.tmp")), "temporary copy left behind"
    assert archive() == 0, "the same segment again must succeed"
    wal.write_bytes(b"another segment")
    assert archive() != 0, "a different segment under an archived name must fail"


def test_missing_secret_is_one_clear_error(bench: Bench) -> None:
    env = {**bench.env, "REPO_CIPHER_PASS_FILE": str(bench.root / "secrets" / "absent")}
    result = bench.script("push", env=env)
    assert result.returncode == 1
    assert "secret file" in result.stderr and "absent" in result.stderr, result.stderr


def test_health_check_follows_the_archiver(served: Bench) -> None:
    """The catalog's health command for pg-backup passes while the archiver refreshes
    pgbackrest.prom, and fails once the file is stale."""
    from infra.model import DEFAULT_CATALOG, build_platform

    job = build_platform(DEFAULT_CATALOG, {"environment": "dev", "domain": "erp.test"}) \
        .service("pg-backup")
    assert job.health is not None
    metrics_dir = dict(job.environment)["RAMPART_METRICS_DIR"]
    command = job.health.command[-1].replace(metrics_dir, str(served.metrics))
    assert subprocess.run(["sh", "-c", command], timeout=30).returncode == 0
    stale = served.metrics / "stale"
    stale.mkdir()
    (stale / "pgbackrest.prom").write_text("# stale\n")
    old = time.time() - 600
    os.utime(stale / "pgbackrest.prom", (old, old))
    stale_command = job.health.command[-1].replace(metrics_dir, str(stale))
    assert subprocess.run(["sh", "-c", stale_command], timeout=30).returncode != 0
