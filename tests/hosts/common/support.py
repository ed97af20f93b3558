"""What the common role should have done, computed from its defaults and the lab inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/common/defaults/main.yml").read_text())
HOSTS = ["edge1", "app1", "db1", "mon1"]
CONTAINER_TYPES = {"systemd-nspawn", "container", "lxc", "docker", "podman"}


def role_vars(host: Host) -> dict[str, Any]:
    inventory = host.ansible.get_variables()
    return {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("common_")}}


def in_container(host: Host) -> bool:
    return host.check_output("systemd-detect-virt --container || true").strip() in CONTAINER_TYPES


def login_defs(host: Host) -> dict[str, str]:
    values = {}
    for line in host.file("/etc/login.defs").content_string.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#"):
            values[parts[0]] = parts[1]
    return values
