"""Fixtures of the pgbackrest host tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import DB_HOST


@pytest.fixture(scope="module")
def db(converged: object, lab_host: Callable[[str], Host]) -> Host:
    """db1, after site.yml has converged (PostgreSQL archiving, stanza, first full backup)."""
    return lab_host(DB_HOST)
