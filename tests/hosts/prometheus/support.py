"""Helpers of the prometheus host tests: the live HTTP APIs of Prometheus and Alertmanager on
the monitoring host, queried from the controller (through the lab firewall, as an operator
would), and Prometheus durations."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import lab_support
from lab_sockets import listening
from lab_support import HOSTS, MONITOR, REPO, seconds
from testinfra.host import Host

__all__ = ["HOSTS", "MONITOR", "REPO", "api", "get_json", "listening", "role_vars", "seconds"]
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
