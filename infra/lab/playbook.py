"""Running a playbook against the lab from the repository root, and reading its PLAY RECAP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.lab.config import REPO_ROOT

_RECAP = re.compile(r"^(?P<host>\S+)\s*:\s*(?P<counts>(?:\w+=\d+\s*)+)$")
# "TASK [role : name] ****", "RUNNING HANDLER [role : name] ****"
_TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<task>.*)\] \**$")
# "changed: [mon1]", "changed: [mon1 -> localhost]", "changed: [mon1] => (item=...)"
_CHANGED = re.compile(r"^changed: \[(?P<host>[^\]\s]+)")


@dataclass
class PlaybookRun:
    playbook: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed_hosts(self) -> dict[str, int]:
        """{host: changed} for every host that reported a change (idempotence checks)."""
        return {h: c["changed"] for h, c in self.recap.items() if c.get("changed", 0)}

    @property
    def changed_tasks(self) -> list[str]:
        """"host: task" for each task (or handler) that reported a change, in run order, so
        a failed idempotence check names what changed, not only how many. Under the free
        strategy a result can follow another task's banner: with -v the result itself
        (its "cmd", "name", "dest"...) follows the name and tells."""
        task, found, seen = "?", [], set()
        for line in self.stdout.splitlines():
            header = _TASK.match(line)
            if header:
                task = header["task"]
                continue
            changed = _CHANGED.match(line)
            if changed and (changed["host"], task) not in seen:
                seen.add((changed["host"], task))
                detail = line.partition(" => ")[2][:300]
                found.append(f"{changed['host']}: {task}" + (f" => {detail}" if detail else ""))
        return found

    @property
    def failed_hosts(self) -> dict[str, dict[str, int]]:
        return {
            h: c for h, c in self.recap.items() if c.get("failed", 0) or c.get("unreachable", 0)
        }

    def failure_summary(self, lines: int = 40) -> str:
        tail = "\n".join((self.stdout + self.stderr).strip().splitlines()[-lines:])
        return f"{self.playbook} {' '.join(self.args)} exited {self.returncode}:\n{tail}"


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines -> {host: {"ok": n, "changed": n, "failed": n, ...}}."""
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in stdout.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = _RECAP.match(line.strip()) if in_recap else None
        if match:
            counts = (pair.split("=") for pair in match.group("counts").split())
            recap[match.group("host")] = {k: int(v) for k, v in counts}
    return recap


def run_playbook(playbook: str, *args: str, timeout: float = 3600) -> PlaybookRun:
    """`ansible-playbook PLAYBOOK ARGS…` from the repository root with the venv's Ansible."""
    ansible = Path(sys.executable).parent / "ansible-playbook"
    # Every run is also appended, with timestamps, to out/logs/ansible.log: the captured
    # output only exists once the run is over, the log shows a slow or stuck run as it goes.
    log = Path(os.environ.get("ANSIBLE_LOG_PATH") or REPO_ROOT / "out" / "logs" / "ansible.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    done = subprocess.run(
        [str(ansible), playbook, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
             "ANSIBLE_LOG_PATH": str(log)},
    )
    return PlaybookRun(
        playbook,
        list(args),
        done.returncode,
        done.stdout,
        done.stderr,
        time.monotonic() - start,
        parse_recap(done.stdout),
    )
