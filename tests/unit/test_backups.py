"""infra/backups: one backup policy (the pgbackrest role's defaults) for VMs and Docker.

The schedule subset the Docker job follows, the refusals (one error naming file and key),
and the point of it all: editing the role's defaults changes what the role renders and what
the Docker target declares, together."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import backups
from infra.model.errors import ValidationError
from infra.offline.engine import run_program
from infra.secrets.provider import RenderSecretsProvider
from infra.targets import docker as target

pytestmark = pytest.mark.unit

ROLE = backups.ROLE_DEFAULTS.parents[1]
CONTAINER = "docker:index/container:Container"


@pytest.mark.parametrize("calendar, hours, minute", [
    ("*-*-* 01:00:00", (1,), 0),
    ("*-*-* 00/6:30:00", (0, 6, 12, 18), 30),
    ("*-*-* 3/8:05", (3, 11, 19), 5),
    ("2,14:45", (2, 14), 45),
    ("*:10:00", tuple(range(24)), 10),
    ("daily", (0,), 0),
    ("hourly", tuple(range(24)), 0),
])
def test_calendar_subset(calendar: str, hours: tuple[int, ...], minute: int) -> None:
    s = backups.parse_calendar(calendar, file="f.yml", field="k")
    assert (s.hours, s.minute) == (hours, minute), calendar


@pytest.mark.parametrize("calendar", [
    "Mon *-*-* 01:00:00",  # a weekday: the job runs every day
    "*-*-01 01:00:00",  # a day of the month
    "*-*-* 01:00:30",  # seconds
    "*-*-* 24:00:00",
    "*-*-* 01:60:00",
    "*-*-* 1..5:00:00",  # ranges
    "*-*-* 0/0:00:00",
    "weekly",
])
def test_calendar_outside_the_subset_is_refused(calendar: str) -> None:
    with pytest.raises(ValidationError) as info:
        backups.parse_calendar(calendar, file="defaults.yml", field="pgbackrest_full_schedule")
    assert info.value.field == "pgbackrest_full_schedule" and info.value.file == "defaults.yml"
    assert calendar in str(info.value) and "Docker target understands" in str(info.value)


def test_the_role_defaults_are_the_policy() -> None:
    policy = backups.load_policy()
    assert policy.source == "roles/pgbackrest/defaults/main.yml"
    assert (policy.full.hours, policy.full.minute) == ((1,), 0)
    assert (policy.incremental.hours, policy.incremental.minute) == ((0, 6, 12, 18), 30)
    assert (policy.retention_full_days, policy.archive_timeout_s) == (7, 60)
    assert policy.cipher_type == "aes-256-cbc"
    # 18:30 -> 00:30 is the longest gap: a job down longer than that catches up at start
    assert policy.catch_up_after_s == 6 * 3600


def _role_copy(tmp_path: Path, **changes: Any) -> Path:
    """A copy of the pgbackrest role whose defaults carry `changes`."""
    role = tmp_path / "roles" / "pgbackrest"
    shutil.copytree(ROLE, role)
    defaults = role / "defaults" / "main.yml"
    text = defaults.read_text(encoding="utf-8")
    for key, value in changes.items():
        # one line per key in the role's defaults; JSON is YAML
        text, count = re.subn(rf"^{key}: .*$", f"{key}: {json.dumps(value)}", text,
                              flags=re.MULTILINE)
        assert count == 1, f"{key}: {count} lines in the defaults"
    defaults.write_text(text, encoding="utf-8")
    return defaults


@pytest.mark.parametrize("key, value, message", [
    ("pgbackrest_archive_timeout", 300, "1..60 s"),
    ("pgbackrest_retention_full_days", 0, "at least 1"),
    ("pgbackrest_repo_cipher_type", "none", "aes-256-cbc"),
    ("pgbackrest_retention_full_days", "{{ days }}", "literal"),
    ("pgbackrest_incr_schedule", "Sat *-*-* 01:00:00", "OnCalendar"),
    ("pgbackrest_compress_type", "x'; rm -rf /", "one of"),
])
def test_policy_the_role_would_refuse_is_refused(tmp_path: Path, key: str, value: Any,
                                                 message: str) -> None:
    defaults = _role_copy(tmp_path, **{key: value})
    with pytest.raises(ValidationError) as info:
        backups.load_policy(defaults)
    assert info.value.field == key and message in str(info.value), str(info.value)


def test_missing_key_names_the_file_and_key(tmp_path: Path) -> None:
    defaults = tmp_path / "main.yml"
    defaults.write_text("pgbackrest_full_schedule: daily\n")
    with pytest.raises(ValidationError) as info:
        backups.load_policy(defaults)
    assert info.value.field == "pgbackrest_incr_schedule" and "missing" in str(info.value)


def _role_render(defaults: Path, template: str, **extra: Any) -> str:
    """A template of the role rendered by Ansible's own templating with the role's defaults
    (what the role writes on a VM)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    variables = {**yaml.safe_load(defaults.read_text(encoding="utf-8")),
                 "ansible_managed": "managed", "__pgbackrest_cipher_pass": "x",
                 "__pgbackrest_pg_data": "/data", "__pgbackrest_socket_dir": "/run",
                 "__pgbackrest_pg_service": "postgresql", **extra}
    text = (defaults.parents[1] / "templates" / template).read_text(encoding="utf-8")
    return str(Templar(loader=DataLoader(), variables=variables)
               .template(trust_as_template(text)))


def _docker_render(platform: Any, policy: backups.BackupPolicy) -> dict[str, Any]:
    """What the Docker target declares for postgres and pg-backup under `policy`."""
    provider = RenderSecretsProvider()
    rec = run_program(lambda: target.deploy(
        platform, provider, config_files=backups.container_files(platform, policy),
        command_arguments=backups.command_arguments(platform, policy)),
        stack="test")
    pg = rec.get(CONTAINER, f"{platform.name}-postgres-container").inputs
    job = rec.get(CONTAINER, f"{platform.name}-pg-backup-container").inputs
    uploads = {u["file"]: u["content"] for u in job["uploads"]}
    return {"postgres": pg["command"], "policy": uploads[backups.POLICY_PATH]}


def test_one_edit_of_the_role_defaults_changes_the_role_and_the_docker_render(
        tmp_path: Path, dev_platform: Any) -> None:
    before = backups.ROLE_DEFAULTS
    after = _role_copy(tmp_path, pgbackrest_retention_full_days=9,
                       pgbackrest_archive_timeout=30,
                       pgbackrest_full_schedule="*-*-* 02:15:00",
                       pgbackrest_incr_schedule="*-*-* 00/4:45:00")
    for defaults, days, timeout, full, incr in (
            (before, 7, 60, "*-*-* 01:00:00", "*-*-* 00/6:30:00"),
            (after, 9, 30, "*-*-* 02:15:00", "*-*-* 00/4:45:00")):
        # the role (VMs)
        conf = _role_render(defaults, "pgbackrest.conf.j2")
        assert f"repo1-retention-full={days}\n" in conf, defaults
        assert f"archive_timeout = {timeout}\n" in _role_render(defaults, "archiving.conf.j2")
        timer = _role_render(defaults, "rampart-pg-backup.timer.j2",
                             item={"type": "incr", "schedule": incr})
        assert f"OnCalendar={incr}\n" in timer, defaults
        # the Docker target
        got = _docker_render(dev_platform, backups.load_policy(defaults))
        assert f"archive_timeout={timeout}" in got["postgres"], defaults
        assert f"export PGBACKREST_REPO1_RETENTION_FULL='{days}'" in got["policy"], defaults
        assert f"# full: {full}; incremental: {incr}" in got["policy"], defaults
    docker_after = _docker_render(dev_platform, backups.load_policy(after))["policy"]
    for line in ("export RAMPART_FULL_HOURS='2'", "export RAMPART_FULL_MINUTE='15'",
                 "export RAMPART_INCR_HOURS='0 4 8 12 16 20'",
                 "export RAMPART_INCR_MINUTE='45'"):
        assert line in docker_after, line


def test_a_job_without_its_spool_is_refused(dev_platform: Any) -> None:
    import dataclasses

    job = dev_platform.service("pg-backup")
    broken = dataclasses.replace(job, volumes=tuple(
        v for v in job.volumes if v.name != "postgres-wal-spool"))
    platform = dataclasses.replace(dev_platform, services=tuple(
        broken if s.name == "pg-backup" else s for s in dev_platform.services))
    with pytest.raises(ValidationError) as info:
        backups.pgbackrest_jobs(platform)
    assert (info.value.service, info.value.field) == ("pg-backup", "volumes"), str(info.value)
    assert "/var/spool/pgbackrest-wal" in str(info.value)


def test_one_engine_for_the_role_and_the_docker_target() -> None:
    """The file the role installs as /usr/local/sbin/rampart-pg-backup is the file the Docker
    target uploads, in a language the job's image runs (sh: it has no Python); no second
    copy exists. Its behaviour is tests/integration/test_pg_backup_engine.py."""
    install = yaml.safe_load((ROLE / "tasks" / "install.yml").read_text(encoding="utf-8"))
    (task,) = [t for t in install if "rampart-pg-backup" in t.get("loop", ())]
    copy = task["ansible.builtin.copy"]
    assert (copy["src"], copy["dest"]) == ("{{ item }}", "/usr/local/sbin/{{ item }}"), task
    assert backups.SCRIPT == ROLE / "files" / "rampart-pg-backup"
    assert backups.SCRIPT.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    units = {name: (ROLE / "templates" / name).read_text(encoding="utf-8")
             for name in ("rampart-pg-backup@.service.j2",
                          "rampart-pgbackrest-wal-metrics.service.j2")}
    for name, text in units.items():
        assert "ExecStart=/usr/local/sbin/rampart-pg-backup " in text, name
    engines = [p for top in ("infra", "roles") for p in (backups.ROOT / top).rglob("*")
               if p.name in ("pg-backup.sh", "rampart-pg-backup", "rampart-pg-backup.py")]
    assert engines == [backups.SCRIPT], engines
