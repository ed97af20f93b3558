"""docs/observability.md documents every alert threshold a stack can set, with the default and
unit the code really has, and its configuration example is one the code accepts.

Read as a user reads it: the `rampart:alerts` table (key, default, unit, meaning) and the
YAML example under "## Configuration"; checked against infra/observability/settings.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.observability import settings as schema
from infra.observability.settings import (
    DEFAULT_THRESHOLDS,
    DURATION_KEYS,
    RATIO_KEYS,
    SECONDS_KEYS,
    camel,
    load_settings,
    parse_duration,
)

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs/observability.md"
HEADER = "| key | default | unit | meaning |"
UNITS = {"fraction 0–1": RATIO_KEYS, "duration": DURATION_KEYS, "seconds": SECONDS_KEYS}


def _configuration() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert "\n## Configuration\n" in text, f"{DOC}: no '## Configuration' section"
    return text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]


def _rows() -> list[list[str]]:
    section = _configuration()
    assert HEADER in section, f"{DOC}: no '{HEADER}' table under '## Configuration'"
    rows = []
    for line in section.split(HEADER, 1)[1].splitlines()[2:]:  # after the |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def _table() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for cells in _rows():
        assert len(cells) == 4, f"{DOC}: a row of the alerts table has {len(cells)} cells: {cells}"
        key = cells[0].strip("`")
        assert key not in table, f"{DOC}: alerts key {key} is documented twice"
        table[key] = {"default": cells[1].strip("`"), "unit": cells[2], "meaning": cells[3]}
    return table


def _example() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", _configuration(), flags=re.S)
    assert blocks, f"{DOC}: no YAML example under '## Configuration'"
    config = yaml.safe_load(blocks[0])["config"]
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("key", sorted(DEFAULT_THRESHOLDS))
def test_every_alerts_key_is_documented_with_its_default_and_unit(key: str) -> None:
    name = camel(key)
    row = _table().get(name)
    assert row is not None, f"{DOC}: rampart:alerts key {name} is not in the table"
    default = DEFAULT_THRESHOLDS[key]
    if key in DURATION_KEYS:
        assert parse_duration(name, row["default"]) == parse_duration(name, default), (
            f"{DOC}: {name} documented default {row['default']}, the code's is {default}")
    else:
        assert float(row["default"]) == float(default), (
            f"{DOC}: {name} documented default {row['default']}, the code's is {default}")
    kinds = [unit for unit, keys in UNITS.items() if key in keys]
    assert [row["unit"]] == kinds, f"{DOC}: {name} unit {row['unit']!r}, expected {kinds}"
    assert len(row["meaning"]) > 20, f"{DOC}: {name} has no meaning written"


def test_the_table_names_no_key_the_code_does_not_know() -> None:
    known = {camel(k) for k in DEFAULT_THRESHOLDS}
    unknown = sorted(set(_table()) - known)
    assert not unknown, f"{DOC}: documented alerts keys that do not exist: {unknown}"


def test_the_configuration_example_is_accepted() -> None:
    config = _example()
    load_settings(config.get("rampart:alerts"), config.get("rampart:observability"))


def test_every_observability_key_appears_in_the_example() -> None:
    documented = set(_example().get("rampart:observability") or {})
    known = {camel(k) for k in schema._KNOWN}
    assert documented == known, (
        f"{DOC}: rampart:observability keys missing from the example: "
        f"{sorted(known - documented)}; unknown: {sorted(documented - known)}")
