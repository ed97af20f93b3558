"""Fixtures of the postgresql host tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import DB_HOST


@pytest.fixture(scope="module")
def db(converged: object, lab_host: Callable[[str], Host]) -> Host:
    """db1, after site.yml has converged."""
    return lab_host(DB_HOST)


@pytest.fixture(scope="module")
def app(converged: object, lab_host: Callable[[str], Host]) -> Host:
    """app1 (a client host), after site.yml has converged."""
    return lab_host("app1")
