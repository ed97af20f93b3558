"""The playbooks' strategies (playbooks/strategy_plugins, named in ansible.cfg and the plays):
through Mitogen every task of a run executes in one long-lived interpreter per host; with
RAMPART_MITOGEN=0, or when mitogen cannot be imported, Ansible's own strategy runs a new
interpreter per task (and says why in the second case).

Real ansible-playbook runs with the repository's ansible.cfg against localhost (local
connection, no become); the tasks only print their parent process id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

PLAYBOOK = """\
- name: Which process runs each task
  hosts: localhost
  connection: local
  gather_facts: false
  become: false
  strategy: {strategy}
  tasks:
    - name: First task's module process
      ansible.builtin.command: sh -c 'echo $PPID'
      register: first
      changed_when: false
    - name: Second task's module process
      ansible.builtin.command: sh -c 'echo $PPID'
      register: second
      changed_when: false
    - name: Both are written down
      ansible.builtin.copy:
        dest: "{{{{ playbook_dir }}}}/pids.json"
        content: "{{{{ [first.stdout, second.stdout] | to_json }}}}"
        mode: "0644"
"""


def _run(tmp_path: Path, strategy: str, **env: str) -> tuple[list[str], str]:
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK.format(strategy=strategy))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
         "-e", f"ansible_python_interpreter={sys.executable}", str(play)],
        # From another directory: ansible.cfg's strategy_plugins path is relative to the file.
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), **env},
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((tmp_path / "pids.json").read_text()), result.stdout + result.stderr


@pytest.mark.parametrize("strategy", ["mitogen_linear", "mitogen_free"])
def test_mitogen_runs_every_task_in_one_interpreter(tmp_path: Path, strategy: str) -> None:
    first, second = _run(tmp_path, strategy)[0]
    assert first == second, f"{strategy}: tasks ran in processes {first} and {second}"


def test_rampart_mitogen_0_runs_the_plain_strategy(tmp_path: Path) -> None:
    first, second = _run(tmp_path, "mitogen_linear", RAMPART_MITOGEN="0")[0]
    assert first != second, "RAMPART_MITOGEN=0: both tasks ran in one process"


def test_without_mitogen_the_plain_strategy_runs_with_a_warning(tmp_path: Path) -> None:
    # A package of that name that cannot be imported shadows the installed one.
    shadow = tmp_path / "shadow" / "ansible_mitogen"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('mitogen removed for this test')\n")
    (first, second), output = _run(tmp_path, "mitogen_free", PYTHONPATH=str(shadow.parent))
    assert first != second
    assert "mitogen is not importable" in output and "plain free strategy" in output
