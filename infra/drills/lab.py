"""The lab as drills reach it: a root shell on a host over the lab's pinned SSH, commands on
the controller (the admin workstation, from the repository root), and one host's power."""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from infra.drills.errors import DrillError, DrillUnavailableError
from infra.lab import LabConfig, LabError, default_lab, ssh, state
from infra.lab import hosts as lab_hosts
from infra.lab.config import ADMIN_USER

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# The hosts' firewalls drop new SSH connections above 15 a minute per source (role firewall,
# firewall_ssh_rate), and the controller is every test's source: one multiplexed connection
# per host, kept a minute after the last command, and a retry when connecting timed out.
CONTROL_PERSIST_S = 60
CONNECT_TRIES = 10


class LabShell:
    def __init__(self, lab: LabConfig | None = None) -> None:
        self.lab = lab or default_lab()
        self.control_dir = tempfile.mkdtemp(prefix="rampart-drill-ssh-")
        atexit.register(self.close)

    def close(self) -> None:
        """End the multiplexed connections and remove their directory."""
        for sock in Path(self.control_dir).glob("*"):
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab-host"],
                           capture_output=True, check=False, timeout=10)
        shutil.rmtree(self.control_dir, ignore_errors=True)

    def _ssh(self, host: str, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
        spec = self.lab.host(host)
        argv = [
            "ssh", *ssh.client_options(self.lab),
            "-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_dir}/%C",
            "-o", f"ControlPersist={CONTROL_PERSIST_S}", "-T",
            f"{ADMIN_USER}@{spec.address}", "--",
            shlex.join(["sudo", "-n", "sh", "-c", script]),
        ]  # fmt: skip
        for attempt in range(CONNECT_TRIES):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  check=False)
            refused = done.returncode == 255 and "connect to host" in done.stderr
            if not refused or attempt == CONNECT_TRIES - 1:
                return done
            time.sleep(6)
        return done

    def sh(self, host: str, script: str, timeout: float = 60) -> str:
        """`script` as root (sudo) on `host`; its stdout. A non-zero exit is a DrillError
        naming the host and the script's last words."""
        spec = self.lab.host(host)
        try:
            done = self._ssh(host, script, timeout)
        except subprocess.TimeoutExpired:
            raise DrillError(f"{host}: command timed out after {timeout:g} s: "
                             f"{script.strip().splitlines()[0][:120]}") from None
        if done.returncode == 255 and not done.stdout:
            raise DrillUnavailableError(f"{host} ({spec.address}): SSH failed: "
                                        f"{done.stderr.strip()[-300:]}")
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip())[-400:]
            raise DrillError(f"{host}: exit {done.returncode} from "
                             f"{script.strip().splitlines()[-1][:120]!r}: {tail}")
        return done.stdout

    def controller(self, script: str, env: Mapping[str, str], timeout: float = 600) -> str:
        """`script` on the controller, from the repository root, the project's venv first
        on PATH (`rampart`, `ansible-playbook`)."""
        # Ansible reconnects too when the SSH rate limit drops its first attempt.
        full_env = {"ANSIBLE_SSH_RETRIES": str(CONNECT_TRIES), **os.environ, **env,
                    "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        try:
            done = subprocess.run(["sh", "-euc", script], cwd=REPO, env=full_env,
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DrillError(f"controller: timed out after {timeout:g} s: "
                             f"{script.strip().splitlines()[-1][:120]}") from None
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip())[-600:]
            raise DrillError(f"controller: exit {done.returncode} from "
                             f"{script.strip().splitlines()[-1][:120]!r}: {tail}")
        return done.stdout

    def running(self, host: str) -> bool:
        proc = state.load(self.lab.state_file).host(host).nspawn
        return proc is not None and proc.alive()

    def power_off(self, host: str) -> None:
        """Power one host off through its init (what `machinectl poweroff` does); the
        other hosts keep running. `rampart lab up` boots it again (it starts only the
        hosts that are not running)."""
        spec = self.lab.host(host)
        proc = state.load(self.lab.state_file).host(host).nspawn
        if proc is None or not proc.alive():
            raise DrillUnavailableError(f"{host} is not running: nothing to power off")
        try:
            lab_hosts.stop(self.lab, spec, proc)
        except LabError as exc:
            raise DrillError(f"{host}: power-off failed: {exc}") from None
