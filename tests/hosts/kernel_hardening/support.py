"""Expected values of the kernel_hardening role: the figures of tests/hosts/expected.py,
overridden by the inventory."""

from __future__ import annotations

from typing import Any

import lab_support
from expected import KERNEL_HARDENING as EXPECTED
from lab_support import HOSTS, in_container
from testinfra.host import Host

__all__ = ["EXPECTED", "HOSTS", "expected_sysctls", "in_container", "role_vars"]


def role_vars(host: Host) -> dict[str, Any]:
    """The expected figures overridden by the host's inventory variables."""
    return lab_support.role_vars(host, "kernel_hardening")


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
