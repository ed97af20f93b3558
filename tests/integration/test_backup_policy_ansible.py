"""One backup policy, read by Ansible and by the Docker target: a changed figure in the
pgbackrest role's defaults is the role's effective value (ansible-playbook itself resolves
it, argument specs and the role's assertions included) and the Docker target's policy.

Runs the role on localhost with only its always-tagged tasks (specs, assertions) and one
probe task; nothing is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import backups

pytestmark = pytest.mark.integration

PLAYBOOK = """\
- name: The role's effective backup policy is written down
  hosts: localhost
  connection: local
  gather_facts: false
  become: false
  roles: [pgbackrest]
  tasks:
    - name: The effective values are in effective.json
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/effective.json"
        content: "{{ {'full': pgbackrest_full_schedule, 'incr': pgbackrest_incr_schedule,
                      'days': pgbackrest_retention_full_days,
                      'timeout': pgbackrest_archive_timeout} | to_json }}"
        mode: "0644"
      tags: [probe]
"""


def _effective(workdir: Path) -> dict:
    # The roles use the project's own task actions (rampart_apt, rampart_managed_files), as
    # the project's ansible.cfg names them.
    plugins = Path(backups.ROLE_DEFAULTS).parents[3] / "playbooks"
    (workdir / "ansible.cfg").write_text(
        f"[defaults]\nroles_path = roles\nlibrary = {plugins / 'library'}\n"
        f"action_plugins = {plugins / 'action_plugins'}\n")
    (workdir / "probe.yml").write_text(PLAYBOOK)
    playbook = Path(sys.executable).with_name("ansible-playbook")
    result = subprocess.run(
        [str(playbook), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
         "probe.yml", "--tags", "probe"],
        cwd=workdir, env={"PATH": "/usr/bin:/bin", "HOME": str(workdir),
                          "ANSIBLE_CONFIG": str(workdir / "ansible.cfg")},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((workdir / "effective.json").read_text())


def test_changing_the_role_defaults_changes_ansible_and_docker(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "pgbackrest"
    shutil.copytree(backups.ROLE_DEFAULTS.parents[1], role)
    defaults = role / "defaults" / "main.yml"
    original = _effective(tmp_path)
    policy = backups.load_policy(defaults)
    assert original == {"full": policy.full.calendar, "incr": policy.incremental.calendar,
                        "days": policy.retention_full_days,
                        "timeout": policy.archive_timeout_s}

    text = defaults.read_text(encoding="utf-8")
    for key, value in (("pgbackrest_retention_full_days", "10"),
                       ("pgbackrest_archive_timeout", "45"),
                       ("pgbackrest_incr_schedule", '"*-*-* 00/3:10:00"')):
        text, count = re.subn(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.MULTILINE)
        assert count == 1, key
    defaults.write_text(text, encoding="utf-8")

    changed = _effective(tmp_path)
    assert changed == {**original, "days": 10, "timeout": 45, "incr": "*-*-* 00/3:10:00"}
    policy = backups.load_policy(defaults)
    assert (policy.retention_full_days, policy.archive_timeout_s) == (10, 45)
    assert policy.incremental.hours == tuple(range(0, 24, 3)) and policy.incremental.minute == 10
    rendered = backups.policy_env(policy, "pg-backup")
    assert "export PGBACKREST_REPO1_RETENTION_FULL='10'" in rendered
    assert "export RAMPART_INCR_HOURS='0 3 6 9 12 15 18 21'" in rendered
    assert "archive_timeout=45" in backups.postgres_arguments(policy, "/var/spool/pgbackrest-wal")
