"""What the common role should have done: the expected figures (tests/hosts/expected.py)
with the lab inventory on top, and login.defs as the host has it."""

from __future__ import annotations

from typing import Any

import lab_support
from lab_support import HOSTS, in_container
from testinfra.host import Host

__all__ = ["HOSTS", "in_container", "login_defs", "role_vars"]


def role_vars(host: Host) -> dict[str, Any]:
    return lab_support.role_vars(host, "common")


def login_defs(host: Host) -> dict[str, str]:
    values = {}
    for line in host.file("/etc/login.defs").content_string.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            values[parts[0]] = parts[1]
    return values
