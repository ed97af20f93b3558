"""Fixtures of the prometheus host tests (`monitoring`: tests/hosts/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host


@pytest.fixture(scope="module")
def hardened(converged: object, lab_host: Callable[[str], Host]) -> Callable[[str], Host]:
    """lab_host, after site.yml has converged."""
    return lab_host
