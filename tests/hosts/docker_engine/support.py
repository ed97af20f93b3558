"""Helpers of the docker_engine host tests."""

from __future__ import annotations

from typing import Any

import lab_support
from testinfra.host import Host

# The lab inventory's docker_hosts group.
DOCKER_HOSTS = ["edge1", "app1"]


def role_vars(host: Host) -> dict[str, Any]:
    return lab_support.role_vars(host, "docker_engine")
