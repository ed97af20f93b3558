"""PostgreSQL backups on the Docker target, from the same policy as the `pgbackrest` role.

One source of truth: the `pgbackrest` role's defaults (roles/pgbackrest/defaults/main.yml)
hold the schedule (systemd OnCalendar expressions), the retention, archive_timeout, the retry
delay, the backup timeout and the repository's cipher and compression. The role uses them on
VMs; `load_policy` reads the very same file for the Docker target, so changing a figure there
changes both (tests/unit/test_backups.py proves it). The values must be literals: the Docker
target reads them without Ansible.

What the Docker target gets from here (wired in `__main__.py`):
- `command_arguments`: PostgreSQL's archiving settings (archive_mode, archive_timeout and an
  archive_command that copies each finished WAL segment into a spool volume shared with the
  backup job: the official postgres image has no pgBackRest binary);
- `container_files`: the backup engine (the `pgbackrest` role's
  roles/pgbackrest/files/rampart-pg-backup, the very file the role installs on VMs, uploaded
  as pg-backup.sh) and its policy file (policy.env), read-only into the job's container; and
  for the job's
  repository init (a one-shot job it depends on with `completed` that runs minio-init.sh),
  that script, its settings (repository.env: endpoint, bucket, user, repository path, from
  the job's own environment, so the two cannot disagree) and the user's S3 policy
  (policy.json: list the bucket; get, put, delete objects under the repository path).

The engine is POSIX sh because the job's image (pgbackrest in infra/catalog/versions.yaml)
has no Python. In the container it pushes the spooled segments with `pgbackrest archive-push`
and deletes each only after pgBackRest accepted it, and runs full and incremental backups on
the schedule, each verified, with one retry and the rampart_backup_* / pgbackrest_wal_*
metrics of docs/metrics.md: the same verification, retry and metrics code the role's systemd
timers run. docs/backups.md describes the whole.

May import: infra.model only (the policy is read from the role's defaults file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.model.errors import ValidationError
from infra.model.types import Platform, Service

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "pgbackrest"
ROLE_DEFAULTS = ROLE / "defaults" / "main.yml"
# The one backup engine: the role installs it as /usr/local/sbin/rampart-pg-backup, the Docker
# target uploads it to SCRIPT_PATH.
SCRIPT = ROLE / "files" / "rampart-pg-backup"
INIT_SCRIPT = Path(__file__).resolve().parent / "minio-init.sh"

# Where the job's files land in its container (the catalog's command runs SCRIPT_PATH).
CONFIG_DIR = "/etc/rampart/pg-backup"
SCRIPT_PATH = f"{CONFIG_DIR}/pg-backup.sh"
POLICY_PATH = f"{CONFIG_DIR}/policy.env"
# The catalog names the spool in the job's environment; both containers mount it there.
SPOOL_ENV = "RAMPART_WAL_SPOOL"
# A backup job is a pgBackRest job when its environment names a stanza.
STANZA_ENV = "PGBACKREST_STANZA"
# pgBackRest's backup and check refuse an archive_command without "pgbackrest" in it
# (ArchiveCommandInvalidError), so the spool path carries the word.
PGBACKREST_WORD = "pgbackrest"
# How often the job looks at the spool: the RPO is archive_timeout + this + one push.
WAL_POLL_S = 5

# The repository init (minio-init.sh): where its files land, and how long it waits for MinIO.
INIT_DIR = "/etc/rampart/minio-init"
INIT_SCRIPT_PATH = f"{INIT_DIR}/minio-init.sh"
INIT_SETTINGS_PATH = f"{INIT_DIR}/repository.env"
INIT_POLICY_PATH = f"{INIT_DIR}/policy.json"
INIT_WAIT_S = 120
# The job's environment the init reads its settings from.
S3_ENDPOINT_ENV = "PGBACKREST_REPO1_S3_ENDPOINT"
S3_BUCKET_ENV = "PGBACKREST_REPO1_S3_BUCKET"
S3_USER_ENV = "BACKUP_S3_ACCESS_KEY_ID"
REPO_PATH_ENV = "PGBACKREST_REPO1_PATH"
# Secrets the init needs, by the variable naming their file: the job's S3 key (shared from
# the job) and the MinIO root password.
INIT_SECRET_ENVS = ("BACKUP_S3_SECRET_KEY_FILE", "MINIO_ROOT_PASSWORD_FILE")
# What pgBackRest does in its repository: list it, read, write and delete objects (and abort
# the multipart uploads of large files it gave up on). Nothing on other buckets, no admin.
REPOSITORY_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                             "s3:AbortMultipartUpload")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3 bucket naming rules
_S3_USER = re.compile(r"[A-Za-z0-9._-]{3,128}")  # a MinIO access key
_ENDPOINT = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?")
_REPO_PATH = re.compile(r"/(?:[A-Za-z0-9._-]+/?)*")

# The role's keys the Docker target reads, by what they mean here.
KEYS = {
    "full": "pgbackrest_full_schedule",
    "incremental": "pgbackrest_incr_schedule",
    "retention_full_days": "pgbackrest_retention_full_days",
    "archive_timeout_s": "pgbackrest_archive_timeout",
    "retry_delay_s": "pgbackrest_retry_delay_seconds",
    "backup_timeout_s": "pgbackrest_backup_timeout_seconds",
    "cipher_type": "pgbackrest_repo_cipher_type",
    "compress_type": "pgbackrest_compress_type",
    "process_max": "pgbackrest_process_max",
}
SCHEDULE_FORMS = ("'daily', 'hourly', or '[*-*-* ]HOURS:MM[:00]' where HOURS is '*', "
                  "a number, 'START/STEP' or a comma list of those")
_CALENDAR = re.compile(r"^(?:\*-\*-\*\s+)?(?P<hours>[0-9*/,]+):(?P<minute>\d{1,2})"
                       r"(?::(?P<second>\d{1,2}))?$")


@dataclass(frozen=True)
class Schedule:
    """The hours of the day (UTC on the Docker target) and the minute a backup starts."""

    hours: tuple[int, ...]
    minute: int
    calendar: str  # the OnCalendar expression it came from

    def times(self) -> list[int]:
        """Start times as minutes after midnight."""
        return [h * 60 + self.minute for h in self.hours]


@dataclass(frozen=True)
class BackupPolicy:
    source: str  # the file it was read from, for messages
    full: Schedule
    incremental: Schedule
    retention_full_days: int
    archive_timeout_s: int
    retry_delay_s: int
    backup_timeout_s: int
    cipher_type: str
    compress_type: str
    process_max: int

    @property
    def catch_up_after_s(self) -> int:
        """The longest gap between two scheduled backups of a day. A job that starts with its
        last success older than this missed a run and catches up at once (the role's timers
        have Persistent=true for the same reason)."""
        times = sorted(set(self.full.times() + self.incremental.times()))
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        gaps.append(times[0] + 24 * 60 - times[-1])
        return max(gaps) * 60


def parse_calendar(expression: str, *, file: str, field: str) -> Schedule:
    """The subset of systemd's OnCalendar the job can follow: every day, at listed hours,
    at one minute. Anything else is refused rather than approximated."""
    def refuse(why: str) -> ValidationError:
        return ValidationError(file, f"OnCalendar '{expression}' {why}; the Docker target "
                                     f"understands {SCHEDULE_FORMS}", field=field)

    text = " ".join(expression.split())
    if text == "daily":
        return Schedule((0,), 0, expression)
    if text == "hourly":
        return Schedule(tuple(range(24)), 0, expression)
    match = _CALENDAR.match(text)
    if match is None:
        raise refuse("is not a daily time")
    if match["second"] is not None and int(match["second"]) != 0:
        raise refuse("starts at a second other than :00")
    minute = int(match["minute"])
    if minute > 59:
        raise refuse(f"has minute {minute}")
    hours: set[int] = set()
    for item in match["hours"].split(","):
        start, slash, step = item.partition("/")
        if start == "*" and not slash:
            hours.update(range(24))
            continue
        if not start.isdigit() or (slash and not step.isdigit()) or (slash and int(step) == 0):
            raise refuse(f"has an hour item '{item}'")
        first = int(start)
        if first > 23:
            raise refuse(f"has hour {first}")
        hours.update(range(first, 24, int(step)) if slash else (first,))
    return Schedule(tuple(sorted(hours)), minute, expression)


def _literal(defaults: Mapping[str, Any], key: str, kind: type, file: str) -> Any:
    if key not in defaults:
        raise ValidationError(file, "is missing; the Docker target reads it from the role's "
                                    "defaults", field=key)
    value = defaults[key]
    if isinstance(value, str) and "{{" in value:
        raise ValidationError(file, "must be a literal (the Docker target reads it without "
                                    "Ansible), not a template", field=key)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(file, f"must be an integer, got {value!r}", field=key)
    if kind is str and not isinstance(value, str):
        raise ValidationError(file, f"must be a string, got {value!r}", field=key)
    return value


def _shown(path: Path) -> str:
    """Relative to the repository when inside it: the same text from any working directory
    (the policy file names its source, and a changed upload would be a diff)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_policy(path: str | Path = ROLE_DEFAULTS) -> BackupPolicy:
    """The backup policy from the role's defaults file, checked like the role checks it."""
    file = _shown(Path(path))
    try:
        defaults = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(file, f"cannot read the backup policy: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValidationError(file, f"is not valid YAML: {exc}") from exc
    if not isinstance(defaults, Mapping):
        raise ValidationError(file, "must be a mapping of role variables")

    def num(name: str) -> int:
        return int(_literal(defaults, KEYS[name], int, file))

    def text(name: str) -> str:
        return str(_literal(defaults, KEYS[name], str, file))

    policy = BackupPolicy(
        source=file,
        full=parse_calendar(text("full"), file=file, field=KEYS["full"]),
        incremental=parse_calendar(text("incremental"), file=file, field=KEYS["incremental"]),
        retention_full_days=num("retention_full_days"),
        archive_timeout_s=num("archive_timeout_s"),
        retry_delay_s=num("retry_delay_s"),
        backup_timeout_s=num("backup_timeout_s"),
        cipher_type=text("cipher_type"),
        compress_type=text("compress_type"),
        process_max=num("process_max"),
    )
    # The role's own assertions (roles/pgbackrest/tasks/main.yml), so both targets refuse
    # the same figures.
    checks = [
        ("archive_timeout_s", 1 <= policy.archive_timeout_s <= 60,
         "must be 1..60 s (the RPO bound)"),
        ("retention_full_days", policy.retention_full_days >= 1, "must be at least 1"),
        ("cipher_type", policy.cipher_type == "aes-256-cbc",
         "must be aes-256-cbc (the repository is always encrypted)"),
        ("retry_delay_s", policy.retry_delay_s >= 0, "must not be negative"),
        ("backup_timeout_s", policy.backup_timeout_s >= 60, "must be at least 60 s"),
        ("process_max", policy.process_max >= 1, "must be at least 1"),
        ("compress_type", policy.compress_type in ("zst", "lz4", "gz", "none"),
         "must be one of zst, lz4, gz, none (the role's choices)"),
    ]
    for name, ok, message in checks:
        if not ok:
            raise ValidationError(file, message, field=KEYS[name])
    return policy


def archive_command(spool: str) -> str:
    """PostgreSQL's archive_command: copy the segment into the spool under a temporary
    name, fsync it, rename it, fsync the directory, so a segment PostgreSQL was told is
    archived survives a crash of the host. A segment already spooled with the same content
    (archive_command retried after a crash) succeeds; different content fails, and
    PostgreSQL keeps the segment and retries (pg_stat_archiver.failed_count)."""
    return (f'f={spool}/%f; if [ -f "$f" ]; then cmp -s "%p" "$f"; '
            f'else cp "%p" "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f" && sync {spool}; fi')


def postgres_arguments(policy: BackupPolicy, spool: str) -> tuple[str, ...]:
    return ("-c", "archive_mode=on",
            "-c", f"archive_timeout={policy.archive_timeout_s}",
            "-c", f"archive_command={archive_command(spool)}")


def policy_env(policy: BackupPolicy, job: str) -> str:
    """The job's policy file: shell assignments the engine sources (its container layout).
    PGBACKREST_* reach pgBackRest as its options; RAMPART_* drive the engine."""
    def hours(s: Schedule) -> str:
        return " ".join(str(h) for h in s.hours)

    values = [
        ("RAMPART_BACKUP_JOB", job),
        ("RAMPART_FULL_HOURS", hours(policy.full)),
        ("RAMPART_FULL_MINUTE", str(policy.full.minute)),
        ("RAMPART_INCR_HOURS", hours(policy.incremental)),
        ("RAMPART_INCR_MINUTE", str(policy.incremental.minute)),
        ("RAMPART_CATCH_UP_AFTER_S", str(policy.catch_up_after_s)),
        ("RAMPART_RETRY_DELAY_S", str(policy.retry_delay_s)),
        ("RAMPART_BACKUP_TIMEOUT_S", str(policy.backup_timeout_s)),
        ("RAMPART_ARCHIVE_TIMEOUT_S", str(policy.archive_timeout_s)),
        ("RAMPART_WAL_POLL_S", str(WAL_POLL_S)),
        ("PGBACKREST_REPO1_RETENTION_FULL_TYPE", "time"),
        ("PGBACKREST_REPO1_RETENTION_FULL", str(policy.retention_full_days)),
        ("PGBACKREST_REPO1_CIPHER_TYPE", policy.cipher_type),
        ("PGBACKREST_COMPRESS_TYPE", policy.compress_type),
        ("PGBACKREST_PROCESS_MAX", str(policy.process_max)),
        ("PGBACKREST_START_FAST", "y"),
    ]
    lines = [f"# Generated from {policy.source} (role pgbackrest's defaults, the one backup "
             "policy); do not edit.",
             f"# full: {policy.full.calendar}; incremental: {policy.incremental.calendar}"]
    lines += [f"export {key}='{value}'" for key, value in values]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Repository:
    """The S3 repository a job writes to, as its repository init creates it."""

    endpoint: str
    bucket: str
    user: str  # the MinIO user (access key) the job signs in as; the policy has its name
    prefix: str  # object key prefix of pgBackRest's repository path ("" for the bucket root)


@dataclass(frozen=True)
class PgBackRestJob:
    job: Service  # the backup service (pg-backup)
    database: Service  # the PostgreSQL service naming it in `backup`
    spool: str
    # the one-shot job that creates the job's bucket and user (minio-init), if the catalog
    # declares one, and what it creates
    repository_init: Service | None = None
    repository: Repository | None = None


def pgbackrest_jobs(platform: Platform) -> list[PgBackRestJob]:
    """The platform's pgBackRest jobs with the database each one backs up, checked: the
    job runs SCRIPT_PATH and names its spool, and both mount the spool's volume."""
    names = {s.name: s for s in platform.services}
    found = []
    for db in sorted(platform.services, key=lambda s: s.name):
        job = names.get(db.backup or "")
        if job is None or STANZA_ENV not in dict(job.environment):
            continue
        env = dict(job.environment)

        def fail(field: str, message: str, service: str = job.name) -> ValidationError:
            return ValidationError(platform.source, message, service=service, field=field)

        spool = env.get(SPOOL_ENV)
        if not spool:
            raise fail(f"environment.{SPOOL_ENV}", f"names no WAL spool directory (shared "
                                                   f"with '{db.name}')")
        if PGBACKREST_WORD not in spool:
            raise fail(f"environment.{SPOOL_ENV}",
                       f"'{spool}' must contain '{PGBACKREST_WORD}': pgBackRest refuses an "
                       "archive_command without it")
        if SCRIPT_PATH not in job.command:
            raise fail("command", f"must run {SCRIPT_PATH} (uploaded by the target)")
        volumes = []
        for svc in (db, job):
            mount = next((v for v in svc.volumes if v.path == spool and v.host_path is None),
                         None)
            if mount is None or mount.read_only:
                raise fail("volumes", f"must mount a writable named volume at {spool} "
                                      "(the WAL spool)", service=svc.name)
            volumes.append(mount.name)
        if volumes[0] != volumes[1]:
            raise fail("volumes", f"mounts volume '{volumes[1]}' at {spool}, '{db.name}' "
                                  f"mounts '{volumes[0]}'")
        init = _repository_init(platform, job)
        repository = None if init is None else _repository(platform, job, init)
        found.append(PgBackRestJob(job=job, database=db, spool=spool, repository_init=init,
                                   repository=repository))
    return found


def _runs(svc: Service, path: str) -> bool:
    return path in (*svc.entrypoint, *svc.command)


def _repository_init(platform: Platform, job: Service) -> Service | None:
    """The one-shot job `job` waits for (`completed`) that runs minio-init.sh."""
    names = {s.name: s for s in platform.services}
    found = [names[d] for d in job.completed_dependencies
             if d in names and _runs(names[d], INIT_SCRIPT_PATH)]
    if len(found) > 1:
        raise ValidationError(platform.source, "waits for two repository inits "
                              f"({', '.join(s.name for s in found)}); one creates its bucket",
                              service=job.name, field="depends_on")
    # (depending on a one-shot job without `completed` is refused by the model already)
    return found[0] if found else None


def _repository(platform: Platform, job: Service, init: Service) -> Repository:
    """What the init creates, from the job's own environment, checked; and the init's
    secrets checked: the job's S3 key (shared from the job) and MinIO's root password."""
    env = dict(job.environment)

    def setting(key: str, pattern: re.Pattern[str], what: str) -> str:
        value = env.get(key, "")
        if not pattern.fullmatch(value):
            raise ValidationError(platform.source, f"'{value}' is not {what} (repository "
                                  f"init '{init.name}' creates it)", service=job.name,
                                  field=f"environment.{key}")
        return value

    endpoint = setting(S3_ENDPOINT_ENV, _ENDPOINT, "an http(s)://host[:port] endpoint")
    bucket = setting(S3_BUCKET_ENV, _BUCKET, "an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
    user = setting(S3_USER_ENV, _S3_USER, "a MinIO access key (3-128 of A-Z, a-z, 0-9, "
                                          "'.', '_', '-')")
    path = env.get(REPO_PATH_ENV, "/")
    if not _REPO_PATH.fullmatch(path):
        raise ValidationError(platform.source, f"'{path}' is not an absolute repository path",
                              service=job.name, field=f"environment.{REPO_PATH_ENV}")
    if env.get("PGBACKREST_REPO1_TYPE") != "s3":
        raise ValidationError(platform.source, "is not s3, but the job waits for repository "
                              f"init '{init.name}', which creates an S3 bucket",
                              service=job.name, field="environment.PGBACKREST_REPO1_TYPE")
    by_env = {ref.env: ref for ref in init.secrets}
    for name in INIT_SECRET_ENVS:
        if name not in by_env:
            raise ValidationError(platform.source, f"declares no secret delivered as {name} "
                                  "(the script reads it)", service=init.name, field="secrets")
    key = by_env["BACKUP_S3_SECRET_KEY_FILE"]
    own = next((r for r in job.secrets if r.env == "BACKUP_S3_SECRET_KEY_FILE"), None)
    if own is None or key.shared_from != job.name or key.name != own.name:
        raise ValidationError(platform.source, f"must share the secret key of '{job.name}' "
                              f"(`{{from: {job.name}, env: BACKUP_S3_SECRET_KEY_FILE}}`): the "
                              "user it creates is the one the job signs in as",
                              service=init.name, field=f"secrets.{key.name}")
    return Repository(endpoint=endpoint, bucket=bucket, user=user,
                      prefix=path.strip("/"))


def repository_policy(repo: Repository) -> str:
    """The MinIO user's policy (IAM JSON): list the bucket, and read, write and delete
    objects under the repository path; nothing else."""
    objects = f"arn:aws:s3:::{repo.bucket}/{repo.prefix + '/' if repo.prefix else ''}*"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListTheRepositoryBucket", "Effect": "Allow",
             "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{repo.bucket}"]},
            {"Sid": "ReadWriteTheRepository", "Effect": "Allow",
             "Action": list(REPOSITORY_OBJECT_ACTIONS), "Resource": [objects]},
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def repository_settings(repo: Repository, job: str) -> str:
    """The init's settings file (shell assignments the script sources)."""
    values = [
        ("RAMPART_S3_ENDPOINT", repo.endpoint),
        ("RAMPART_S3_BUCKET", repo.bucket),
        ("RAMPART_S3_USER", repo.user),
        ("RAMPART_S3_POLICY", repo.user),
        ("RAMPART_S3_PREFIX", repo.prefix),
        ("RAMPART_WAIT_S", str(INIT_WAIT_S)),
    ]
    lines = [f"# Generated from the environment of '{job}' (the repository it writes to); "
             "do not edit."]
    lines += [f"export {key}='{value}'" for key, value in values]
    return "\n".join(lines) + "\n"


def container_files(platform: Platform, policy: BackupPolicy) -> dict[str, dict[str, str]]:
    """{job: {container path: content}}: the backup engine and its policy file."""
    script = SCRIPT.read_text(encoding="utf-8")
    files: dict[str, dict[str, str]] = {}
    for j in pgbackrest_jobs(platform):
        files[j.job.name] = {SCRIPT_PATH: script, POLICY_PATH: policy_env(policy, j.job.name)}
        if j.repository_init is not None and j.repository is not None:
            files[j.repository_init.name] = {
                INIT_SCRIPT_PATH: INIT_SCRIPT.read_text(encoding="utf-8"),
                INIT_SETTINGS_PATH: repository_settings(j.repository, j.job.name),
                INIT_POLICY_PATH: repository_policy(j.repository),
            }
    return files


def command_arguments(platform: Platform, policy: BackupPolicy) -> dict[str, tuple[str, ...]]:
    """{database: arguments appended to its command}: WAL archiving into the spool."""
    return {j.database.name: postgres_arguments(policy, j.spool)
            for j in pgbackrest_jobs(platform)}


__all__ = [
    "ROLE_DEFAULTS",
    "SCRIPT",
    "BackupPolicy",
    "Repository",
    "Schedule",
    "archive_command",
    "command_arguments",
    "container_files",
    "load_policy",
    "parse_calendar",
    "pgbackrest_jobs",
    "policy_env",
    "repository_policy",
    "repository_settings",
]
