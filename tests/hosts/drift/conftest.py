"""Fixtures of the drift host tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lab_support
import pytest
from testinfra.host import Host

from .support import MONITOR, span_seconds


@dataclass(frozen=True)
class Monitoring:
    prometheus: str  # e.g. http://10.77.0.14:9090
    alertmanager: str
    scrape: float  # seconds
    evaluation: float


@pytest.fixture(scope="module")
def hardened(converged: object, lab_host: Callable[[str], Host]) -> Callable[[str], Host]:
    """lab_host, after site.yml has converged."""
    return lab_host


@pytest.fixture(scope="module")
def interval(hardened: Callable[[str], Host]) -> float:
    """The lab's drift_interval in seconds (inventories/lab/group_vars/all/drift.yml)."""
    return span_seconds(hardened(MONITOR).ansible.get_variables()["drift_interval"])


@pytest.fixture(scope="module")
def monitoring(hardened: Callable[[str], Host]) -> Monitoring:
    v = lab_support.role_vars(hardened(MONITOR), "prometheus")
    address = v["prometheus_listen_address"]
    observability = v.get("prometheus_observability", {})
    return Monitoring(
        f"http://{address}:{v['prometheus_port']}",
        f"http://{address}:{v['prometheus_alertmanager_port']}",
        span_seconds(observability.get("scrapeInterval", "15s")),
        span_seconds(observability.get("evaluationInterval", "15s")),
    )
