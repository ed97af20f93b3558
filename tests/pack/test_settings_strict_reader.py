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


def test_waivers_as_engine_text_are_read_strictly() -> None:
    settings = from_config_values({"rampart:policyWaivers": BOMB})
    assert len(settings.waivers) == 1 and not settings.waivers[0].valid
    assert "alias" in " ".join(settings.waivers[0].problems)
