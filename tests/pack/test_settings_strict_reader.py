"""The pack reads a stack file with the program's strict reader (infra/stack/file.py): what the
program refuses, the pack never reads differently (a duplicate `adminAllowlist` line, an alias
bomb), and waivers given as text under the engine get the same strict reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_harness import stack_policy as from_config_values

from infra import stack as stacks
from infra.model.errors import ValidationError

pytestmark = pytest.mark.unit

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


@pytest.mark.parametrize(("text", "fragment"), [
    ("config:\n  rampart:requireDigests: true\n  rampart:requireDigests: false\n", "duplicate"),
    ("config:\n  rampart:policyWaivers:\n" + "".join(f"    {line}\n" for line in
                                                      BOMB.splitlines()), "alias"),
])
def test_a_stack_file_the_program_refuses_is_refused_by_the_pack(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "Pulumi.evil.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError, match=fragment):
        stacks.load("evil", tmp_path)


def test_waivers_as_engine_text_are_refused_like_a_file() -> None:
    # Under the engine a list arrives as JSON text; YAML text (an alias bomb here) is not a
    # list, and the stack is refused as the stack file reader refuses it, before any judging.
    with pytest.raises(ValidationError, match="policyWaivers.*must be a list"):
        from_config_values({"rampart:policyWaivers": BOMB})
    with pytest.raises(ValidationError, match="policyAllowedCapabilities.*list of strings"):
        from_config_values({"rampart:policyAllowedCapabilities": "NET_ADMIN"})
