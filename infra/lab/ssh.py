"""SSH to lab hosts: the lab key, host keys pinned at creation, and the client command line.

Host keys are generated into each host's root by us, so they are known before the host
boots; they go into the lab's known_hosts right then and are never re-learned. The client
always runs with StrictHostKeyChecking=yes against that file: a changed host key is refused.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from infra.lab.config import ADMIN_USER, HostSpec, LabConfig
from infra.lab.sysutil import run

HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


def ensure_lab_key(lab: LabConfig) -> Path:
    lab.state_dir.mkdir(parents=True, exist_ok=True)
    lab.state_dir.chmod(0o700)
    if not lab.key_path.is_file():
        run(
            [
                "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                "-C", f"rampart-lab-{lab.name}", "-f", str(lab.key_path),
            ],
            f"lab {lab.name}: generating the lab key {lab.key_path}",
        )  # fmt: skip
    return lab.key_path


def generate_host_keys(root: Path, host: str) -> dict[str, str]:
    """Fresh host keys in `root`/etc/ssh; returns {type: "keytype base64"} to pin."""
    keys: dict[str, str] = {}
    for kind in HOST_KEY_TYPES:
        path = root / "etc" / "ssh" / f"ssh_host_{kind}_key"
        for stale in (path, path.with_suffix(".pub")):
            stale.unlink(missing_ok=True)
        run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{host}", "-f", str(path)],
            f"host {host}: generating its {kind} host key",
        )
        fields = Path(f"{path}.pub").read_text().split()
        keys[kind] = f"{fields[0]} {fields[1]}"
    return keys


def known_hosts_lines(lab: LabConfig, pinned: dict[str, dict[str, str]]) -> str:
    """known_hosts text: each host's recorded keys under its name and address."""
    lines = []
    for host in lab.hosts:
        for _kind, key in sorted(pinned.get(host.name, {}).items()):
            lines.append(f"{host.name},{host.address} {key}")
    return "\n".join(lines) + ("\n" if lines else "")


def write_known_hosts(lab: LabConfig, pinned: dict[str, dict[str, str]]) -> None:
    lab.known_hosts_path.write_text(known_hosts_lines(lab, pinned))
    lab.known_hosts_path.chmod(0o600)


def client_options(lab: LabConfig) -> list[str]:
    """Options every lab SSH connection uses (the inventory's connection vars match these)."""
    return [
        "-o", f"UserKnownHostsFile={lab.known_hosts_path}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR",
        "-i", str(lab.key_path),
    ]  # fmt: skip


def ssh_command(lab: LabConfig, host: HostSpec, command: list[str], tty: bool = False) -> list[str]:
    return [
        "ssh",
        *client_options(lab),
        *(["-t"] if tty else ["-T"]),
        f"{ADMIN_USER}@{host.address}",
        *(["--", *command] if command else []),
    ]


def ssh_run(
    lab: LabConfig, host: HostSpec, command: list[str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    # ssh joins its arguments into one remote shell line; quote so argv arrives intact.
    return subprocess.run(
        ssh_command(lab, host, [shlex.join(command)]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
