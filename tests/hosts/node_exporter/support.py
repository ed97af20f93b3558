"""Helpers of the node_exporter host tests."""

from __future__ import annotations

from typing import Any

import lab_support
from lab_sockets import listening
from lab_support import HOSTS
from testinfra.host import Host

__all__ = ["HOSTS", "listening", "role_vars"]


def role_vars(host: Host) -> dict[str, Any]:
    return lab_support.role_vars(host, "node_exporter")
