"""The pack reads the admin-allowlist bounds from the same stack keys as the model, with the
model's defaults: the gate and the program must judge one stack alike."""

from __future__ import annotations

import pytest
from policy_harness import stack_policy as from_config_values

from infra.model import defaults as model_defaults
from infra.model.errors import ValidationError

pytestmark = pytest.mark.unit


def test_without_settings_the_pack_uses_the_models_defaults() -> None:
    ctx = from_config_values({}).context()
    assert ctx.allowlist_min_prefix == model_defaults.ADMIN_ALLOWLIST_MIN_PREFIX
    assert ctx.allowlist_max_share == model_defaults.ADMIN_ALLOWLIST_MAX_SHARE


def test_a_stack_that_narrows_the_bounds_narrows_them_for_the_pack_too() -> None:
    ctx = from_config_values({"rampart:adminAllowlist": ["10.1.0.0/16", "127.0.0.1/32"],
                              "rampart:adminAllowlistMinPrefix": 16,
                              "rampart:adminAllowlistMaxShare": 0.01}).context()
    assert (ctx.allowlist_min_prefix, ctx.allowlist_max_share) == (16, 0.01)


@pytest.mark.parametrize(("key", "value"), [
    ("adminAllowlistMinPrefix", 4),      # wider than the model allows
    ("adminAllowlistMaxShare", 0.9),     # above the model's bound
    ("adminAllowlistMaxShare", "lots"),  # not a number
])
def test_a_value_the_model_refuses_never_loosens_the_pack(key: str, value: object) -> None:
    # The stack is refused as a whole (one parser): the pack never judges with a looser bound.
    with pytest.raises(ValidationError, match=key):
        from_config_values({f"rampart:{key}": value})


@pytest.mark.parametrize(("environment", "expected"), [("prod", True), ("dev", False),
                                                         (None, False)])
def test_without_require_digests_the_pack_follows_the_models_default(
    environment: str | None, expected: bool
) -> None:
    # The model pins by digest on prod whether or not the key is written; the gate must too.
    prod = {"rampart:domain": "erp.example.com", "rampart:acmeEmail": "ops@example.com"}
    values = {"rampart:environment": environment, **prod} if environment else {}
    assert from_config_values(values).context().require_digests is expected
