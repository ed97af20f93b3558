"""Helpers of the docker_engine host tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/docker_engine/defaults/main.yml").read_text())
DOCKER_HOSTS = ["edge1", "app1"]


def role_vars(host: Host) -> dict[str, Any]:
    inventory = host.ansible.get_variables()
    return {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("docker_engine_")}}
