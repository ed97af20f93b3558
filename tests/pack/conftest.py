"""Fixtures for the policy rule tests; the helpers live in policy_harness.py."""

from __future__ import annotations

import pytest
from policy_harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()
