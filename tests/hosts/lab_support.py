"""What every host test shares: the lab's hosts, the connection to them, and the values a
role was run with.

Host names come from the lab definition (infra/lab/config.py DEFAULT_HOSTS), never a copy.
`role_vars(host, role)` is what the play used, as far as a test may know it: the figures the
tests expect, written independently in expected.py (not read from the role's defaults, so a
weakened default fails a test), overridden by the host's inventory variables (which are the
operator's choice, not the role's) with the lab's templates resolved by Ansible itself.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from expected import EXPECTED
from testinfra.host import Host

from infra.lab.config import DEFAULT_HOSTS

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/lab/hosts.yml"
HOSTS = [name for name, _address in DEFAULT_HOSTS]
# systemd-detect-virt --container answers; anything else (none, or a VM type) is a real host.
CONTAINER_TYPES = {"systemd-nspawn", "container", "lxc", "docker", "podman"}
_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def in_container(host: Host) -> bool:
    """True when the host is a container (kernel-global settings belong to the machine)."""
    return host.check_output("systemd-detect-virt --container || true").strip() in CONTAINER_TYPES


def inventory_vars(host: Host) -> dict[str, Any]:
    """The host's inventory variables (group_vars, host_vars), as testinfra reads them."""
    return dict(host.ansible.get_variables())


def hostvars(host: Host, name: str) -> dict[str, Any]:
    """Inventory variables of another host (testinfra's runner holds the whole inventory)."""
    runner = host.backend.ansible_runner  # type: ignore[attr-defined]
    return dict(runner.get_variables(name))


def address(host: Host) -> str:
    """The address the controller reaches the host at (ansible_host)."""
    return str(inventory_vars(host)["ansible_host"])


def _resolve(value: Any, known: dict[str, Any], host: Host, name: str) -> Any:
    """A value with the lab's simple templates ("{{ ansible_host }}", "{{ x_dir }}/a")
    filled in from known values; anything more (filters, sums) is evaluated by Ansible."""
    if isinstance(value, list):
        return [_resolve(v, known, host, name) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    simple = _TEMPLATE.sub(lambda m: str(known.get(m.group(1), m.group(0))), value)
    if "{{" not in simple:
        return simple
    return host.ansible("debug", f"var={name}", check=False)[name]


def role_vars(host: Host, role: str) -> dict[str, Any]:
    """The `<role>_*` values of the play: expected.py's figures, then the inventory's."""
    inventory = inventory_vars(host)
    merged = copy.deepcopy(EXPECTED[role])
    merged.update({k: v for k, v in inventory.items() if k.startswith(f"{role}_")})
    known = {**inventory, **merged}
    for _ in range(3):  # values built from other values ("{{ openbao_log_dir }}/audit.log")
        for key, value in merged.items():
            merged[key] = _resolve(value, known, host, key)
        known.update(merged)
    return merged


def wait(condition: Callable[[], bool], seconds: float, step: float = 0.5) -> float | None:
    """Seconds until condition() held, or None if it did not within `seconds` (polled every
    `step` seconds)."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
        time.sleep(step)
