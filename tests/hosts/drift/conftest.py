"""Fixtures of the drift host tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import MONITOR, span_seconds


@pytest.fixture(scope="module")
def hardened(converged: object, lab_host: Callable[[str], Host]) -> Callable[[str], Host]:
    """lab_host, after site.yml has converged."""
    return lab_host


@pytest.fixture(scope="module")
def interval(hardened: Callable[[str], Host]) -> float:
    """The lab's drift_interval in seconds (inventories/lab/group_vars/all/drift.yml)."""
    return span_seconds(hardened(MONITOR).ansible.get_variables()["drift_interval"])
