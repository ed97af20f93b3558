"""What the ssh_hardening role should have produced, and ways to probe the live daemon."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import lab_support
from lab_support import HOSTS, REPO, address
from testinfra.host import Host

__all__ = ["HOSTS", "address", "effective", "file_settings", "role_vars", "ssh_audit",
           "ssh_from_controller"]
STATE = REPO / "inventories/lab/.state"
SSH_AUDIT = REPO / ".venv/bin/ssh-audit"


def role_vars(host: Host) -> dict[str, Any]:
    return lab_support.role_vars(host, "ssh_hardening")


def effective(host: Host, connection: str = "") -> dict[str, str]:
    """`sshd -T` as {keyword: value} (keywords lower-case, repeated keywords joined)."""
    command = "sshd -T" + (f" -C {connection}" if connection else "")
    values: dict[str, str] = {}
    for line in host.check_output(command).splitlines():
        key, _, value = line.partition(" ")
        values[key] = f"{values[key]} {value}" if key in values else value
    return values


def file_settings(host: Host) -> dict[str, str]:
    """Keyword -> value as written in /etc/ssh/sshd_config (first occurrence wins, as sshd)."""
    values: dict[str, str] = {}
    for line in host.file("/etc/ssh/sshd_config").content_string.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        values.setdefault(key.lower(), value.strip())
    return values


def ssh_audit(target: str, port: int = 22) -> dict[str, Any]:
    """ssh-audit's JSON report of the live daemon (exit code is 0 only when all is good)."""
    done = subprocess.run(
        [str(SSH_AUDIT), "-j", "-p", str(port), target],
        capture_output=True, text=True, timeout=120, check=False,
    )
    return json.loads(done.stdout)


def ssh_from_controller(target: str, *options: str, user: str = "rampart",
                        command: str = "true") -> subprocess.CompletedProcess[str]:
    """An SSH attempt from the controller with the pinned known_hosts, in batch mode."""
    return subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={STATE / 'known_hosts'}",
         "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
         "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "-o", "ControlPath=none",
         *options, f"{user}@{target}", command],
        capture_output=True, text=True, timeout=60, check=False,
    )
