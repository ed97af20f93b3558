"""Expected values of the kernel_hardening role: its defaults, overridden by the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/kernel_hardening/defaults/main.yml").read_text())
HOSTS = ["edge1", "app1", "db1", "mon1"]


def role_vars(host: Host) -> dict[str, Any]:
    """Role defaults overridden by the host's inventory variables (group_vars, host_vars)."""
    inventory = host.ansible.get_variables()
    return {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("kernel_hardening_")}}


def expected_sysctls(host: Host) -> dict[str, str]:
    """What the role writes: network + ip_forward + kernel + extra (same merge as sysctl.yml)."""
    v = role_vars(host)
    merged = {
        **v["kernel_hardening_sysctl_network"],
        "net.ipv4.ip_forward": int(bool(v["kernel_hardening_ip_forward_enabled"])),
        **v["kernel_hardening_sysctl_kernel"],
        **v["kernel_hardening_sysctl_extra"],
    }
    return {k: str(val) for k, val in merged.items()}


def in_container(host: Host) -> bool:
    return host.run("systemd-detect-virt --container").rc == 0
