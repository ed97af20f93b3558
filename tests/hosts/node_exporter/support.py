"""Helpers of the node_exporter host tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from lab_sockets import listening  # noqa: F401  (re-exported for the tests)
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/node_exporter/defaults/main.yml").read_text())
HOSTS = ["edge1", "app1", "db1", "mon1"]


def role_vars(host: Host) -> dict[str, Any]:
    inventory = host.ansible.get_variables()
    merged = {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("node_exporter_")}}
    if "{{" in str(merged["node_exporter_listen_address"]):
        # The lab's value is "{{ ansible_host }}": resolve the one template it uses.
        merged["node_exporter_listen_address"] = inventory["ansible_host"]
    return merged
