"""Helpers of the prometheus host tests: the live HTTP APIs of Prometheus and Alertmanager on
the monitoring host, queried from the controller (through the lab firewall, as an operator
would), and Prometheus durations."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import lab_support
from lab_sockets import listening
from lab_support import HOSTS, REPO
from testinfra.host import Host

__all__ = ["HOSTS", "MONITOR", "REPO", "api", "get_json", "listening", "role_vars", "seconds"]
# The lab inventory's monitoring group.
MONITOR = "mon1"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus duration ("1m30s", "20s", "2d") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def role_vars(host: Host) -> dict[str, Any]:
    """The expected figures with the inventory's prometheus_* values on top."""
    return lab_support.role_vars(host, "prometheus")


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (lab URL)
        return json.load(response)


def api(url: str) -> Any:
    """`data` of a Prometheus API answer, after checking its status."""
    body = get_json(url)
    assert body.get("status") == "success", f"{url}: {body}"
    return body["data"]
