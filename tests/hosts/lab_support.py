"""What every host test shares: the lab's hosts, the connection to them, the monitoring host's
endpoints, and the values a role was run with.

Host names come from the lab definition (infra/lab/config.py DEFAULT_HOSTS), never a copy.
`role_vars(host, role)` is what the play used, as far as a test may know it: the figures the
tests expect, written independently in expected.py (not read from the role's defaults, so a
weakened default fails a test), overridden by the host's inventory variables (which are the
operator's choice, not the role's) with the lab's templates resolved by Ansible itself.
`monitoring_of(host)` is where the prometheus role serves on the host, by those values.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expected import EXPECTED
from testinfra.host import Host

from infra.lab.config import DEFAULT_HOSTS

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/lab/hosts.yml"
HOSTS = [name for name, _address in DEFAULT_HOSTS]
MONITOR = "mon1"  # the lab inventory's monitoring group
# systemd-detect-virt --container answers; anything else (none, or a VM type) is a real host.
CONTAINER_TYPES = {"systemd-nspawn", "container", "lxc", "docker", "podman"}
_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


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


def seconds(duration: str) -> float:
    """A Prometheus duration ("1m30s", "20s", "2d") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class Monitoring:
    """The monitoring host's Prometheus and Alertmanager as the controller reaches them."""

    host: Host
    prometheus: str  # base URL, e.g. http://10.77.0.14:9090
    alertmanager: str
    scrape: float  # the configured global intervals, in seconds
    evaluation: float


def monitoring_of(host: Host) -> Monitoring:
    """Where the prometheus role serves on this host (its play's values)."""
    v = role_vars(host, "prometheus")
    at = v["prometheus_listen_address"]
    observability = v.get("prometheus_observability", {})
    return Monitoring(
        host,
        f"http://{at}:{v['prometheus_port']}",
        f"http://{at}:{v['prometheus_alertmanager_port']}",
        seconds(observability.get("scrapeInterval", "15s")),
        seconds(observability.get("evaluationInterval", "15s")),
    )
