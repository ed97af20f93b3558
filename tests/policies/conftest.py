"""Fixtures for the policy rule tests; the helpers live in policy_harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The pack is a directory next to Pulumi.yaml (the Pulumi CLI loads it from there), not part
# of the installed `infra` distribution: import it from the checkout under test.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from policy_harness import Harness  # noqa: E402


@pytest.fixture
def harness() -> Harness:
    return Harness()
