"""Every role's defaults/main.yml and meta/argument_specs.yml say the same thing.

CONVENTIONS 8: every variable carries its role's prefix, lives in defaults/main.yml and is
declared in the argument specs with type, default and description; required variables have
no default. The README's table is generated from the specs (scripts/role_docs.py).
Parametrized per role and per variable, so each failure names the role and the variable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ROLES_DIR = ROOT / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks" / "main.yml").exists())
TYPES = {"str", "int", "bool", "list", "dict", "float", "path", "raw"}
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def _role_docs() -> Any:
    spec = importlib.util.spec_from_file_location("role_docs", ROOT / "scripts" / "role_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _defaults(role: str) -> dict[str, Any]:
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def _options(role: str) -> dict[str, dict[str, Any]]:
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data.get("argument_specs", {}).get("main", {}).get("options", {}) or {}


def _variables() -> list[tuple[str, str]]:
    pairs = set()
    for role in ROLES:
        pairs.update((role, name) for name in _defaults(role))
        pairs.update((role, name) for name in _options(role))
    return sorted(pairs)


def test_roles_are_found() -> None:
    # Guards the parametrization below: no roles would mean no checks at all.
    assert ROLES, f"no role with tasks/main.yml under {ROLES_DIR}"


@pytest.mark.parametrize("role", ROLES)
def test_role_declares_argument_specs(role: str) -> None:
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    assert path.exists(), f"roles/{role}: meta/argument_specs.yml is missing"
    main = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("argument_specs", {})
    assert "main" in main, f"roles/{role}/meta/argument_specs.yml has no `main` entry point"
    assert main["main"].get("short_description"), f"roles/{role}: specs lack short_description"


@pytest.mark.parametrize(("role", "name"), _variables())
def test_variable_is_prefixed_declared_and_documented(role: str, name: str) -> None:
    defaults, options = _defaults(role), _options(role)
    where = f"roles/{role}: {name}"
    assert name.startswith(f"{role}_"), f"{where} lacks the role prefix `{role}_`"
    assert name in options, f"{where} is in defaults/main.yml but not in meta/argument_specs.yml"
    option = options[name]
    assert option.get("description"), f"{where} has no description in the specs"
    assert option.get("type") in TYPES, f"{where} has type {option.get('type')!r}"
    if option.get("required"):
        assert name not in defaults, f"{where} is required, so it must not have a default"
        assert "default" not in option, f"{where} is required and also declares a default"
        return
    assert name in defaults, f"{where} is declared in the specs but missing from defaults/main.yml"
    assert "default" in option, f"{where} has no default in the specs"
    assert option["default"] == defaults[name], (
        f"{where}: defaults/main.yml says {defaults[name]!r}, "
        f"meta/argument_specs.yml says {option['default']!r}"
    )
    value = defaults[name]
    if isinstance(value, str) and value.lstrip().startswith("{{"):
        return  # a template, typed only once Ansible evaluates it against the inventory
    expected = PYTHON_TYPES.get(option["type"])
    if expected and not (option["type"] in ("int", "float") and isinstance(value, bool)):
        assert isinstance(value, expected), (
            f"{where}: default {value!r} is not of declared type {option['type']}"
        )
    if option.get("choices") and option["type"] != "list":
        assert value in option["choices"], f"{where}: default {value!r} not in its choices"
    if option.get("choices") and option["type"] == "list":
        stray = [item for item in value if item not in option["choices"]]
        assert not stray, f"{where}: default elements {stray} not in its choices"


@pytest.mark.parametrize("role", ROLES)
def test_readme_variable_table_is_generated_from_specs(role: str) -> None:
    stale = _role_docs().stale_readmes([role])
    assert not stale, (
        f"roles/{role}/README.md: variable table is missing or out of date; "
        f"run `python scripts/role_docs.py --role {role}`"
    )


def test_role_docs_check_mode_reports_a_stale_readme(tmp_path: Path) -> None:
    # The generator itself: a README whose table disagrees with the specs is reported.
    module = _role_docs()
    role_dir = tmp_path / "roles" / "demo"
    (role_dir / "meta").mkdir(parents=True)
    (role_dir / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: d\n    options:\n"
        "      demo_port:\n        type: int\n        default: 22\n        description: Port.\n",
        encoding="utf-8",
    )
    (role_dir / "README.md").write_text(
        f"# demo\n\n{module.BEGIN}\n| stale |\n{module.END}\n", encoding="utf-8"
    )
    updated = module.updated_readme(role_dir)
    assert "| `demo_port` | int | `22` | Port. |" in updated
    assert updated.startswith("# demo\n"), "text outside the markers must be kept"
    assert updated != (role_dir / "README.md").read_text(encoding="utf-8")
