"""The one backup engine (roles/pgbackrest/files/rampart-pg-backup) against a real PostgreSQL
and pgBackRest, in both layouts it runs in:

- `container`: as the Docker target's pg-backup job runs it: the uploaded text as
  `sh pg-backup.sh ...` by the postgres user, the policy file infra/backups generates from the
  role's defaults, secrets as files, PostgreSQL archiving into the spool with the
  archive_command the target appends, and the service (`serve`) pushing it;
- `host`: as role pgbackrest runs it: the installed file executed by root with the systemd
  units' ExecStart arguments, /etc/rampart/pg-backup.json and pgbackrest.conf rendered from
  the role's own templates, PostgreSQL archiving with the role's archiving settings
  (`pgbackrest archive-push`), the stanza created as the role creates it.

Debian's PostgreSQL runs as the unprivileged `postgres` user on a Unix socket in a temporary
directory (no TCP listener); the repository is an encrypted posix one in that directory
(S3 on the Docker target is an environment setting). Only the paths the test needs to own
(socket, data directory, repository, metrics, logs, locks) differ from production. Everything
is stopped by its PID and the directory removed at the end.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import backups

pytestmark = pytest.mark.integration

ROLE = backups.ROLE_DEFAULTS.parents[1]
JOB = "pg-backup"
PASSPHRASE = "a-passphrase-of-32-characters-ok"  # noqa: S105 - a throwaway test repository
WRONG_PASS = "not-the-passphrase-of-this-repository"  # noqa: S105
RETRY_DELAY_S = 2  # both layouts; production's is the role's 300 s
# The series the alert rules (infra/observability/rules.py) and dashboards read, and the
# labels they match on: written down here, not taken from the engine.
BACKUP_SERIES = {
    "rampart_backup_last_success_timestamp_seconds",  # BackupTooOld
    "rampart_backup_last_attempt_success",  # BackupFailed
    "rampart_backup_last_attempt_timestamp_seconds",
    "rampart_backup_last_duration_seconds",
    "rampart_backup_last_size_bytes",
}
WAL_SERIES = {
    "pgbackrest_wal_archive_lag_seconds",  # WalArchivingLagging
    "pgbackrest_wal_archive_last_success_timestamp_seconds",
}


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL server binaries missing (Debian package postgresql)"
    return Path(found[-1]).parent


def _as_postgres() -> list[str]:
    """Run as the `postgres` user when root (PostgreSQL refuses root), else as ourselves."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _pg_user() -> str:
    import pwd

    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _exec_start(unit: str) -> list[str]:
    """The arguments a systemd unit template of the role starts the engine with."""
    text = (ROLE / "templates" / unit).read_text(encoding="utf-8")
    (line,) = [x for x in text.splitlines() if x.startswith("ExecStart=")]
    command, *args = shlex.split(line.removeprefix("ExecStart="))
    assert command == "/usr/local/sbin/rampart-pg-backup", f"{unit}: {line}"
    return args


def _render(template: str, variables: dict[str, Any]) -> str:
    """A template of the role, rendered by Ansible's own templating."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    text = (ROLE / "templates" / template).read_text(encoding="utf-8")
    out = str(Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text)))
    assert "{{" not in out, f"{template}: unrendered variable in\n{out}"
    return out


@dataclass
class Bench:
    layout: str  # "container" or "host"
    root: Path
    stanza: str
    env: dict[str, str]  # the engine's environment
    direct: dict[str, str]  # for calling pgBackRest directly, as the layout configures it
    socket_dir: Path
    data: Path
    metrics: Path
    repo: Path
    locks: Path
    engine_path: Path
    spool: Path | None
    server: subprocess.Popen[bytes]
    first_run: subprocess.CompletedProcess[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- running things ------------------------------------------------------------------
    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A command as the cluster's user."""
        return subprocess.run([*_as_postgres(), *args], env=env or self.direct, text=True,
                              errors="replace", capture_output=True, timeout=timeout,
                              cwd=self.root)

    def engine_argv(self, *args: str) -> list[str]:
        if self.layout == "container":  # the catalog's command: sh <uploaded file>
            return [*_as_postgres(), "sh", str(self.engine_path), *args]
        return [str(self.engine_path), *args]  # root, as systemd runs it

    def engine(self, *args: str, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.engine_argv(*args), env=env or self.env, text=True,
                              errors="replace", capture_output=True, timeout=timeout,
                              cwd=self.root)

    def backup_args(self, kind: str) -> list[str]:
        """A backup run as each layout spells it: the runbooks' `backup KIND` in the
        container, the systemd unit's ExecStart (%i = KIND) on hosts."""
        if self.layout == "container":
            return ["backup", kind]
        return [a.replace("%i", kind) for a in _exec_start("rampart-pg-backup@.service.j2")]

    def wal_metrics_args(self) -> list[str]:
        if self.layout == "container":
            return ["wal-metrics"]
        return _exec_start("rampart-pgbackrest-wal-metrics.service.j2")

    def wrong_passphrase(self) -> dict[str, str]:
        """The engine's environment with a passphrase that does not open the repository."""
        if self.layout == "container":
            return {**self.env, "REPO_CIPHER_PASS_FILE": str(self.root / "secrets" / "wrong")}
        return {**self.env, "PGBACKREST_REPO1_CIPHER_PASS": WRONG_PASS}

    def sql(self, query: str) -> str:
        result = self.run("psql", "-X", "-A", "-t", "-h", str(self.socket_dir), "-d",
                          "postgres", "-c", query, timeout=30)
        assert result.returncode == 0, f"psql: {result.stderr}"
        return result.stdout.strip()

    def sets(self) -> list[dict[str, Any]]:
        result = self.run("pgbackrest", f"--stanza={self.stanza}", "--output=json", "info")
        assert result.returncode == 0, result.stdout + result.stderr
        (stanza,) = json.loads(result.stdout)
        return list(stanza.get("backup", []))

    # -- reading what it wrote -----------------------------------------------------------
    def series(self, name: str) -> dict[str, float]:
        values = {}
        for line in (self.metrics / name).read_text().splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                values[key] = float(value)
        return values

    def backup_metric(self, name: str) -> float | None:
        return self.series("rampart_backup.prom").get(f'{name}{{backup="{JOB}"}}')

    def wal_metric(self, name: str) -> float | None:
        return self.series("pgbackrest.prom").get(f'{name}{{stanza="{self.stanza}"}}')

    def log(self) -> str:
        path = self.root / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _first_report(log: str) -> str | None:
    """A log up to the end of its first RESULT line, once that line is complete."""
    match = re.search(r"^RESULT [^\n]*\n", log, re.MULTILINE)
    return log[:match.end()] if match else None


def _lines(output: str) -> list[str]:
    """The run's report: the attempt, retry and RESULT lines (what the journal shows)."""
    return [x for x in output.splitlines() if x.startswith(("attempt", "retrying", "RESULT"))]


# -- the two layouts ----------------------------------------------------------------------

def _container(root: Path, dirs: dict[str, Path]) -> dict[str, Any]:
    """pg-backup's files and environment as the Docker target declares them."""
    spool = root / "pgbackrest-wal"  # the word pgBackRest wants in archive_command
    spool.mkdir()
    _chown(spool)
    # The role's schedules (full 01:00, incremental 00/6:30) moved 12 hours from now: a slot
    # falling while the module runs would start a backup of the scheduler's beside the tests'.
    far = time.gmtime(time.time() + 12 * 3600)
    full_hour, incr_hour, minute = far.tm_hour, (far.tm_hour + 6) % 24, far.tm_min
    policy = dataclasses.replace(
        backups.load_policy(), retry_delay_s=RETRY_DELAY_S,
        full=backups.Schedule((full_hour,), minute, f"{full_hour:02}:{minute:02}"),
        incremental=backups.Schedule((incr_hour,), minute, f"{incr_hour:02}:{minute:02}"))
    (root / "policy.env").write_text(backups.policy_env(policy, JOB))
    # the very text the target uploads, under the name it uploads it as
    files = backups.container_files(_platform(), policy)[JOB]
    engine = root / Path(backups.SCRIPT_PATH).name
    engine.write_text(files[backups.SCRIPT_PATH])
    (dirs["secrets"] / "repo_cipher_pass").write_text(PASSPHRASE + "\n")
    (dirs["secrets"] / "wrong").write_text(WRONG_PASS)
    stanza = "erp"
    env = {
        "PATH": os.environ["PATH"], "TZ": "UTC", "LANG": "C",
        "PGBACKREST_STANZA": stanza,
        "PGBACKREST_PG1_PATH": str(dirs["data"]),
        "PGBACKREST_PG1_SOCKET_PATH": str(dirs["run"]),
        "PGBACKREST_PG1_USER": _pg_user(),
        "PGBACKREST_REPO1_TYPE": "posix",
        "PGBACKREST_REPO1_PATH": str(dirs["repo"]),
        "PGBACKREST_LOG_PATH": str(dirs["log"]),
        "PGBACKREST_LOCK_PATH": str(dirs["lock"]),
        "RAMPART_POLICY_FILE": str(root / "policy.env"),
        "RAMPART_WAL_SPOOL": str(spool),
        "RAMPART_METRICS_DIR": str(dirs["metrics"]),
        "REPO_CIPHER_PASS_FILE": str(dirs["secrets"] / "repo_cipher_pass"),
    }
    direct = {**env, "PGBACKREST_REPO1_CIPHER_TYPE": "aes-256-cbc",
              "PGBACKREST_REPO1_CIPHER_PASS": PASSPHRASE}
    return {"stanza": stanza, "env": env, "direct": direct, "engine": engine, "spool": spool,
            "postgres": backups.postgres_arguments(policy, str(spool))}


def _platform() -> Any:
    from infra.model import DEFAULT_CATALOG, build_platform

    return build_platform(DEFAULT_CATALOG, {"environment": "dev", "domain": "erp.test"})


def _host(root: Path, dirs: dict[str, Path]) -> dict[str, Any]:
    """The files role pgbackrest writes, rendered from its templates with its defaults; only
    the paths and the retry delay are the test's."""
    variables = {
        **yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8")),
        **yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8")),
        "ansible_managed": "managed", "__pgbackrest_cipher_pass": PASSPHRASE,
        "pgbackrest_pg_version": _pg_bin().parent.name, "pgbackrest_pg_cluster": "main",
        "pgbackrest_pg_port": 5432, "__pgbackrest_pg_user": _pg_user(),
        "__pgbackrest_pg_bin": str(_pg_bin()), "__pgbackrest_pg_data": str(dirs["data"]),
        "__pgbackrest_pg_service": "postgresql@test", "__pgbackrest_socket_dir": str(dirs["run"]),
        "pgbackrest_repo_path": str(dirs["repo"]),
        "pgbackrest_textfile_directory": str(dirs["metrics"]),
        "pgbackrest_retry_delay_seconds": RETRY_DELAY_S,
    }
    stanza = variables["pgbackrest_stanza"]
    conf = root / "pgbackrest.conf"
    conf.write_text(_render("pgbackrest.conf.j2", variables))
    settings = json.loads(_render("pg-backup.json.j2", variables))
    assert settings["lock_file"].startswith("/run/"), settings
    settings["lock_file"] = str(dirs["lock"] / "rampart-pg-backup.lock")
    (root / "pg-backup.json").write_text(json.dumps(settings, indent=2))
    # the role installs the file the install task names, root:root 0755
    install = yaml.safe_load((ROLE / "tasks" / "install.yml").read_text(encoding="utf-8"))
    (task,) = [t for t in install if "rampart-pg-backup" in t.get("loop", ())]
    assert task["ansible.builtin.copy"]["dest"] == "/usr/local/sbin/{{ item }}", task
    engine = root / "rampart-pg-backup"
    shutil.copyfile(ROLE / "files" / "rampart-pg-backup", engine)
    engine.chmod(0o755)
    # archive_command and archive_timeout as the role's drop-in sets them
    postgres = []
    for line in _render("archiving.conf.j2", variables).splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            postgres += ["-c", f"{key.strip()}={value.strip().strip(chr(39))}"]
    # pgBackRest reads pgbackrest.conf (the role's /etc/pgbackrest/pgbackrest.conf); log and
    # lock paths stay in the test's directory (the environment overrides the file)
    env = {"PATH": os.environ["PATH"], "LANG": "C",
           "PGBACKREST_CONFIG": str(conf),
           "PGBACKREST_LOG_PATH": str(dirs["log"]),
           "PGBACKREST_LOCK_PATH": str(dirs["lock"]),
           "RAMPART_PG_BACKUP_CONFIG": str(root / "pg-backup.json")}
    return {"stanza": stanza, "env": env, "direct": env, "engine": engine, "spool": None,
            "postgres": postgres}


@pytest.fixture(scope="module", params=["container", "host"])
def bench(request: pytest.FixtureRequest) -> Iterator[Bench]:
    assert shutil.which("pgbackrest"), "pgbackrest missing (Debian package pgbackrest)"
    pg_bin = _pg_bin()
    # Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as postgres.
    root = Path(tempfile.mkdtemp(prefix=f"rampart-pg-backup-{request.param}-"))
    server = None
    try:
        dirs = {name: root / name for name in ("run", "metrics", "repo", "log", "lock",
                                                "secrets", "data")}
        for d in dirs.values():
            d.mkdir()
        layout = (_container if request.param == "container" else _host)(root, dirs)
        if os.geteuid() == 0:
            for path in (root, *root.rglob("*")):
                shutil.chown(path, "postgres", "postgres")
        root.chmod(0o755)
        dirs["data"].chmod(0o700)
        initdb = subprocess.run([*_as_postgres(), str(pg_bin / "initdb"), "-D",
                                 str(dirs["data"]), "-A", "trust", "-k", "-U", _pg_user()],
                                capture_output=True, text=True, timeout=120)
        assert initdb.returncode == 0, initdb.stderr
        # The archiving settings exactly as the layout's deployment sets them; only the
        # socket and the (absent) TCP listener are the test's own.
        def start(*archiving: str) -> subprocess.Popen[bytes]:
            args = [str(pg_bin / "postgres"), "-D", str(dirs["data"]),
                    "-c", "listen_addresses=", "-c", f"unix_socket_directories={dirs['run']}",
                    *archiving]
            # the postmaster itself is the child (not runuser): it gets the stop signal
            ids = {"user": "postgres", "group": "postgres", "extra_groups": []} \
                if os.geteuid() == 0 else {}
            server = subprocess.Popen(args, env=layout["direct"], stdout=subprocess.DEVNULL,
                                      stderr=open(root / "postgres.log", "ab"),  # noqa: SIM115
                                      **ids)
            _wait("PostgreSQL to accept connections",
                  lambda: subprocess.run([*_as_postgres(), "pg_isready", "-h", str(dirs["run"])],
                                         capture_output=True, timeout=10).returncode == 0,
                  timeout=60)
            return server

        if request.param == "host":
            # The role's order (tasks/main.yml): the stanza first, then archiving and the
            # restart; an archive_command failing meanwhile would back PostgreSQL's archiver
            # off for a minute.
            server = start()
            create = subprocess.run([*_as_postgres(), "pgbackrest", f"--stanza={layout['stanza']}",
                                     "stanza-create"], env=layout["direct"], cwd="/",
                                    capture_output=True, text=True, timeout=120)
            assert create.returncode == 0, create.stdout + create.stderr
            _stop(server)
        # The archiving settings exactly as the layout's deployment sets them; only the
        # socket and the (absent) TCP listener are the test's own.
        server = start(*layout["postgres"])
        yield Bench(layout=request.param, root=root, stanza=layout["stanza"],
                    env=layout["env"], direct=layout["direct"], socket_dir=dirs["run"],
                    data=dirs["data"], metrics=dirs["metrics"], repo=dirs["repo"],
                    locks=dirs["lock"], engine_path=layout["engine"], spool=layout["spool"],
                    server=server)
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)  # fast shutdown
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def ready(bench: Bench) -> Iterator[Bench]:
    """The layout deployed, up to its first verified full backup: in the container the
    service (`serve`) takes it at start; on a host (stanza created by `bench`, as
    tasks/stanza.yml does) the role starts rampart-pg-backup@full.service
    (tasks/schedule.yml), i.e. the unit's ExecStart."""
    bench.sql("CREATE TABLE drill(id int); INSERT INTO drill SELECT generate_series(1, 1000)")
    bench.sql("SELECT pg_switch_wal()")
    if bench.layout == "host":
        bench.first_run = bench.engine(*bench.backup_args("full"))
        yield bench
        return
    proc = subprocess.Popen(bench.engine_argv(), env=bench.env, cwd=bench.root,
                            stdout=open(bench.root / "serve.log", "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)
    try:
        # The run is over once its RESULT line is out (the engine prints it last, after the
        # metrics): rampart_backup.prom appears before it, so the log read when the file
        # appears may end before the report does.
        _wait("the first full backup's RESULT line",
              lambda: _first_report(bench.log()) is not None or proc.poll() is not None,
              timeout=300)
        assert proc.poll() is None, f"serve exited: {bench.log()}"
        report = _first_report(bench.log())
        assert report is not None, bench.log()
        # serve goes on: the run's exit code is its RESULT's verdict
        code = 0 if _lines(report)[-1].startswith("RESULT ok: ") else 1
        bench.first_run = subprocess.CompletedProcess(proc.args, code, report, "")
        yield bench
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("serve ignored SIGTERM for 30 s") from None


# -- both layouts: the contract -----------------------------------------------------------

def test_the_first_full_backup_is_verified_and_reported(ready: Bench) -> None:
    run = ready.first_run
    assert run is not None and run.returncode == 0, run
    (full,) = ready.sets()
    assert full["type"] == "full", full
    lines = _lines(run.stdout)
    assert lines[0] == f"attempt 1: full backup {full['label']} done and verified", lines
    assert lines[1].startswith(
        f"RESULT ok: full backup {full['label']} of stanza {ready.stanza} verified "
        f"({full['info']['repository']['delta']} bytes in the repository, "), lines
    assert ready.backup_metric("rampart_backup_last_attempt_success") == 1
    assert ready.backup_metric("rampart_backup_last_success_timestamp_seconds") > 1.7e9


def test_an_incremental_backup_is_verified_and_measured(ready: Bench) -> None:
    """Good only once `info` lists the new set and `verify` passed; the metrics describe
    that set: rampart_backup_last_size_bytes is its repository size (delta)."""
    ready.sql("INSERT INTO drill SELECT generate_series(1001, 2000)")
    before = {b["label"] for b in ready.sets()}
    started = time.time()
    run = ready.engine(*ready.backup_args("incr"))
    ended = time.time()
    assert run.returncode == 0, run.stdout + run.stderr
    (new,) = [b for b in ready.sets() if b["label"] not in before]
    assert new["type"] == "incr", new
    delta = new["info"]["repository"]["delta"]
    lines = _lines(run.stdout)
    assert lines[0] == f"attempt 1: incr backup {new['label']} done and verified", lines
    assert lines[1].startswith(f"RESULT ok: incr backup {new['label']} of stanza "
                               f"{ready.stanza} verified ({delta} bytes in the repository, "), lines
    assert len(lines) == 2, lines
    m = {name: ready.backup_metric(name) for name in BACKUP_SERIES}
    assert m["rampart_backup_last_attempt_success"] == 1, m
    assert int(started) <= m["rampart_backup_last_success_timestamp_seconds"] <= ended, m
    assert m["rampart_backup_last_attempt_timestamp_seconds"] == \
        m["rampart_backup_last_success_timestamp_seconds"], m
    assert 0 <= m["rampart_backup_last_duration_seconds"] <= ended - started + 1, m
    assert m["rampart_backup_last_size_bytes"] == delta > 0, (m, new["info"])


def test_metrics_files_are_prometheus_text_for_the_alerts(ready: Bench) -> None:
    """Both files: every series the alerts and dashboards read, each with HELP and TYPE
    gauge, the labels they match on, world-readable, renamed into place."""
    assert ready.engine(*ready.wal_metrics_args()).returncode == 0
    for name, labels, expected in (
            ("rampart_backup.prom", f'{{backup="{JOB}"}}', BACKUP_SERIES),
            ("pgbackrest.prom", f'{{stanza="{ready.stanza}"}}', WAL_SERIES)):
        path = ready.metrics / name
        text = path.read_text()
        assert oct(path.stat().st_mode & 0o777) == "0o644", name
        samples = [x for x in text.splitlines() if x and not x.startswith("#")]
        written = set()
        for sample in samples:
            match = re.fullmatch(r"(\w+)(\{[^}]*\}) (\S+)", sample)
            assert match, f"{name}: {sample!r}"
            metric, got, value = match.groups()
            assert got == labels, f"{name}: {sample}"
            float(value)
            assert f"# HELP {metric} " in text and f"# TYPE {metric} gauge\n" in text, metric
            written.add(metric)
        assert written == expected, f"{name}: {sorted(written ^ expected)}"
    assert not list(ready.metrics.glob("*.tmp")), "a temporary file was left behind"


def test_a_failed_attempt_is_retried_once(ready: Bench) -> None:
    """Another pgBackRest backup holding the stanza's lock fails the first attempt (a real
    transient failure); it is released before the retry, which succeeds."""
    lock = ready.locks / f"{ready.stanza}-backup.lock"
    holder = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o640)
    if os.geteuid() == 0:
        os.fchown(holder, *_postgres_ids())
    fcntl.flock(holder, fcntl.LOCK_EX)
    before = {b["label"] for b in ready.sets()}
    started = time.time()
    proc = subprocess.Popen(ready.engine_argv(*ready.backup_args("full")), env=ready.env,
                            cwd=ready.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if line.startswith("attempt 1:"):
                break
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    # the rest through the same buffered reader (communicate() would bypass its buffer)
    seen += proc.stdout.read().splitlines()
    proc.wait(timeout=300)
    output = "\n".join(seen)
    assert proc.returncode == 0, output
    (new,) = [b for b in ready.sets() if b["label"] not in before]
    lines = _lines(output)
    assert lines[0].startswith("attempt 1: full backup FAILED: ") and "lock" in lines[0], lines
    assert lines[1:3] == [f"retrying in {RETRY_DELAY_S} s",
                          f"attempt 2: full backup {new['label']} done and verified"], lines
    assert lines[3].startswith(f"RESULT ok: full backup {new['label']} "), lines
    assert ready.backup_metric("rampart_backup_last_attempt_success") == 1
    assert ready.backup_metric("rampart_backup_last_success_timestamp_seconds") >= int(started)
    assert ready.backup_metric("rampart_backup_last_duration_seconds") >= RETRY_DELAY_S


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def test_both_attempts_failing_report_the_failure_and_keep_the_last_success(
        ready: Bench) -> None:
    """A passphrase that does not open the repository: both attempts fail, the run exits 1
    with one RESULT line naming each cause and the repository's free space; the metrics say
    failed and keep the last success and size (BackupTooOld counts on it)."""
    before = {
        name: ready.backup_metric(name) for name in (
            "rampart_backup_last_success_timestamp_seconds", "rampart_backup_last_size_bytes")}
    labels = {b["label"] for b in ready.sets()}
    started = time.time()
    run = ready.engine(*ready.backup_args("full"), env=ready.wrong_passphrase())
    assert run.returncode == 1, run.stdout + run.stderr
    lines = _lines(run.stdout)
    assert [x.split(":")[0] for x in lines] == ["attempt 1", f"retrying in {RETRY_DELAY_S} s",
                                                "attempt 2", "RESULT failed"], lines
    assert lines[0].startswith("attempt 1: full backup FAILED: pgbackrest "), lines
    assert lines[2].startswith("attempt 2: full backup FAILED: pgbackrest "), lines
    result = lines[3]
    assert result.startswith(f"RESULT failed: full backup of stanza {ready.stanza} failed "
                             "after its retry: attempt 1: pgbackrest "), result
    assert "ERROR: [" in result and " | attempt 2: pgbackrest " in result, result
    assert re.search(rf"\| repository {re.escape(str(ready.repo))}: \d+ MiB free of \d+ MiB$",
                     result), result
    assert {b["label"] for b in ready.sets()} == labels, "a failed run is listed"
    assert ready.backup_metric("rampart_backup_last_attempt_success") == 0
    for name, value in before.items():
        assert ready.backup_metric(name) == value, name
    assert ready.backup_metric("rampart_backup_last_attempt_timestamp_seconds") >= int(started)
    assert ready.backup_metric("rampart_backup_last_duration_seconds") >= RETRY_DELAY_S


def test_a_backup_that_fails_verification_is_not_good(ready: Bench) -> None:
    """pgBackRest's backup exits 0, but `verify` finds a damaged file in the repository
    (here in the first full set): each attempt fails on the verdict, the run is failed."""
    first = ready.sets()[0]["label"]
    damaged = sorted((ready.repo / "backup" / ready.stanza / first / "pg_data")
                     .glob("PG_VERSION*"))[0]
    original = damaged.read_bytes()
    last_ok = ready.backup_metric("rampart_backup_last_success_timestamp_seconds")
    damaged.write_bytes(b"\0" * len(original))
    try:
        run = ready.engine(*ready.backup_args("incr"))
    finally:
        damaged.write_bytes(original)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = _lines(run.stdout)
    for number in (1, 2):
        (line,) = [x for x in lines if x.startswith(f"attempt {number}:")]
        assert line.startswith(f"attempt {number}: incr backup FAILED: pgbackrest verify "
                               "after "), lines
    assert lines[-1].startswith("RESULT failed: "), lines
    assert ready.backup_metric("rampart_backup_last_attempt_success") == 0
    assert ready.backup_metric("rampart_backup_last_success_timestamp_seconds") == last_ok
    # repaired: the next run is good again
    run = ready.engine(*ready.backup_args("incr"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert ready.backup_metric("rampart_backup_last_attempt_success") == 1


def test_the_repository_is_encrypted(ready: Bench) -> None:
    for info in (f"backup/{ready.stanza}/backup.info", f"archive/{ready.stanza}/archive.info"):
        head = (ready.repo / info).read_bytes()[:8]
        assert head == b"Salted__", f"{info} is not encrypted (starts {head!r})"
    wrong = {**ready.direct, "PGBACKREST_REPO1_CIPHER_PASS": WRONG_PASS}
    result = ready.run("pgbackrest", f"--stanza={ready.stanza}", "info", env=wrong)
    assert "error" in (result.stdout + result.stderr).lower(), result.stdout


def test_wal_reaches_the_repository_and_its_metrics(ready: Bench) -> None:
    """A switched segment is archived (through the spool and the archiver in the container,
    by archive_command on a host); pgBackRest's own end-to-end check passes; the last
    archive is recorded and nothing waits."""
    before = int(ready.sql("SELECT archived_count FROM pg_stat_archiver"))
    ready.sql("INSERT INTO drill SELECT generate_series(2001, 3000)")
    segment = ready.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")
    ready.sql("SELECT pg_switch_wal()")
    _wait("PostgreSQL to archive the segment",
          lambda: int(ready.sql("SELECT archived_count FROM pg_stat_archiver")) > before,
          timeout=30)
    if ready.spool is not None:
        # the archiver polls every few seconds, pushes and only then deletes
        spooled = ready.spool / segment
        _wait(f"{segment} to leave the spool", lambda: not spooled.exists(), timeout=30)
    found = ready.run("find", str(ready.repo / "archive" / ready.stanza), "-name",
                      f"{segment}-*")
    assert found.stdout.strip(), f"{segment} was archived but is not in the repository"
    check = ready.run("pgbackrest", f"--stanza={ready.stanza}", "check", timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    if ready.spool is None:
        assert ready.engine(*ready.wal_metrics_args()).returncode == 0
        archived = float(ready.sql(
            "SELECT extract(epoch FROM last_archived_time) FROM pg_stat_archiver"))
        last = ready.wal_metric("pgbackrest_wal_archive_last_success_timestamp_seconds")
        assert last is not None and abs(last - archived) < 1, (last, archived)
    else:
        _wait("the archiver's metrics", lambda: (ready.wal_metric(
            "pgbackrest_wal_archive_last_success_timestamp_seconds") or 0) >= time.time() - 60,
            timeout=30)
    lag = ready.wal_metric("pgbackrest_wal_archive_lag_seconds")
    assert lag is not None and 0 <= lag < 60, f"lag {lag} s with nothing waiting"


def test_usage_errors_exit_2(bench: Bench) -> None:
    for args in (["weekly"], ["backup"], ["backup", "weekly"], ["full", "incr"], ["--help"]):
        result = bench.engine(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "usage:" in result.stderr, (args, result.stderr)


# -- host layout --------------------------------------------------------------------------

# role pgbackrest's settings and units only
host_only = pytest.mark.parametrize("bench", ["host"], indirect=True)


@host_only
def test_host_runs_take_turns_on_the_lock(ready: Bench) -> None:
    """The full and incremental timers may fire together: the second run waits for the
    first (the lock file of pg-backup.json) instead of failing on pgBackRest's lock."""
    settings = json.loads((ready.root / "pg-backup.json").read_text())
    holder = os.open(settings["lock_file"], os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    proc = subprocess.Popen(ready.engine_argv(*ready.backup_args("incr")), env=ready.env,
                            cwd=ready.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        time.sleep(3)
        assert proc.poll() is None, "the run did not wait for the lock"
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert _lines(out)[0].startswith("attempt 1: incr backup "), out


@host_only
def test_host_wal_lag_is_the_oldest_ready_segment(ready: Bench, tmp_path: Path) -> None:
    """With .ready files 120 s and 30 s old (and a .done one), the lag reads 120 s; read
    from a copy of pg-backup.json written compactly (as tests/hosts does it) pointing at a
    scratch data directory: a fake .ready file in the real pg_wal would fail the archiver."""
    status = tmp_path / "pg_wal" / "archive_status"
    status.mkdir(parents=True)
    prom = tmp_path / "prom"
    prom.mkdir()
    now = time.time()
    for name, age in (("000000010000000000000001.ready", 120),
                      ("000000010000000000000002.ready", 30),
                      ("000000010000000000000000.done", 600)):
        (status / name).touch()
        os.utime(status / name, (now - age, now - age))
    settings = json.loads((ready.root / "pg-backup.json").read_text())
    settings.update(pg_data=str(tmp_path), textfile_directory=str(prom))
    (tmp_path / "cfg.json").write_text(json.dumps(settings))
    env = {**ready.env, "RAMPART_PG_BACKUP_CONFIG": str(tmp_path / "cfg.json")}
    run = ready.engine(*ready.wal_metrics_args(), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (prom / "pgbackrest.prom").read_text()
    (lag,) = [float(x.split()[-1]) for x in text.splitlines()
              if x.startswith("pgbackrest_wal_archive_lag_seconds{")]
    assert 119 <= lag < 180, f"lag {lag} for a 120 s old waiting segment:\n{text}"


@host_only
def test_host_refuses_the_container_subcommands_and_bad_settings(
        bench: Bench, tmp_path: Path) -> None:
    for args in (["serve"], [], ["push"]):
        result = bench.engine(*args)
        assert result.returncode == 2, (args, result.stderr)
    broken = tmp_path / "broken.json"
    broken.write_text('{"stanza": "main"}')
    tmp_path.chmod(0o755)
    result = bench.engine(*bench.wal_metrics_args(),
                          env={**bench.env, "RAMPART_PG_BACKUP_CONFIG": str(broken)})
    assert result.returncode == 1 and '"job" is missing' in result.stderr, result.stderr


# -- container layout ---------------------------------------------------------------------

# the Docker target's spool, archiver and scheduler only
container_only = pytest.mark.parametrize("bench", ["container"], indirect=True)


@container_only
def test_container_keeps_a_segment_pgbackrest_refuses_and_it_ages(ready: Bench) -> None:
    """Nothing is deleted before pgBackRest accepted it; temporary names are left alone;
    the lag metric shows the oldest waiting segment."""
    assert ready.spool is not None
    bad = ready.spool / "000000010000000000000000"  # sorts first: blocks the queue
    tmp = ready.spool / "000000010000000000000099.tmp"  # archive_command mid-copy
    for path, content in ((bad, b"not a WAL segment"), (tmp, b"partial")):
        path.write_bytes(content)
        _chown(path)
    old = time.time() - 600
    os.utime(bad, (old, old))
    try:
        result = ready.engine("push")
        assert result.returncode == 1, result.stdout + result.stderr
        assert bad.exists() and tmp.exists(), "a file left the spool without being archived"
        assert "archive-push 000000010000000000000000 failed: ERROR" in result.stdout, \
            result.stdout
        lag = ready.wal_metric("pgbackrest_wal_archive_lag_seconds")
        assert lag is not None and lag >= 600, lag
    finally:
        bad.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    assert ready.engine("push").returncode == 0


@container_only
def test_container_missing_secret_is_one_clear_error(bench: Bench) -> None:
    env = {**bench.env, "REPO_CIPHER_PASS_FILE": str(bench.root / "secrets" / "absent")}
    result = bench.engine("push", env=env)
    assert result.returncode == 1
    assert "secret file" in result.stderr and "absent" in result.stderr, result.stderr


def test_container_archive_command_is_idempotent(tmp_path: Path) -> None:
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


@container_only
def test_container_health_check_follows_the_archiver(ready: Bench) -> None:
    """The catalog's health command for pg-backup passes while the archiver refreshes
    pgbackrest.prom, and fails once the file is stale."""
    job = _platform().service("pg-backup")
    assert job.health is not None
    metrics_dir = dict(job.environment)["RAMPART_METRICS_DIR"]
    command = job.health.command[-1].replace(metrics_dir, str(ready.metrics))
    assert subprocess.run(["sh", "-c", command], timeout=30).returncode == 0
    stale = ready.metrics / "stale"
    stale.mkdir()
    (stale / "pgbackrest.prom").write_text("# stale\n")
    old = time.time() - 600
    os.utime(stale / "pgbackrest.prom", (old, old))
    stale_command = job.health.command[-1].replace(metrics_dir, str(stale))
    assert subprocess.run(["sh", "-c", stale_command], timeout=30).returncode != 0
