"""Fixtures of the prometheus host tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from testinfra.host import Host

from .support import MONITOR, role_vars


@dataclass(frozen=True)
class Monitoring:
    host: Host
    prometheus: str  # base URL of the Prometheus API, e.g. http://10.77.0.14:9090
    alertmanager: str


@pytest.fixture(scope="module")
def hardened(converged: object, lab_host: Callable[[str], Host]) -> Callable[[str], Host]:
    """lab_host, after site.yml has converged."""
    return lab_host


@pytest.fixture(scope="module")
def monitoring(hardened: Callable[[str], Host]) -> Monitoring:
    host = hardened(MONITOR)
    v = role_vars(host)
    address = v["prometheus_listen_address"]
    return Monitoring(
        host,
        f"http://{address}:{v['prometheus_port']}",
        f"http://{address}:{v['prometheus_alertmanager_port']}",
    )
