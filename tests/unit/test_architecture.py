"""The layout docs/architecture.md draws, held by the code: each package imports only what
its docstring allows (every import, including those deferred into functions), no two
packages import each other, and every package says in its docstring what it owns and what
it may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]

# Unit -> the other units it may import. A unit is `infra.<package or module>` or `policies`.
ALLOWED: dict[str, set[str]] = {
    "infra": set(),
    "infra.secrets.weak": set(),
    "infra.secrets.literals": {"infra.secrets.weak"},
    "infra.model": {"infra.secrets.literals"},
    "infra.secrets": {"infra.model", "infra.secrets.literals", "infra.secrets.weak"},
    "infra.edge": {"infra.model"},
    "infra.backups": {"infra.model"},
    "infra.observability": {"infra", "infra.model", "infra.secrets.literals"},
    "infra.targets": {"infra.model", "infra.edge", "infra.secrets",
                      "infra.targets.kubernetes.settings"},
    "infra.targets.kubernetes.settings": {"infra.model"},
    "infra.stack": {"infra.model", "infra.secrets", "infra.observability", "policies",
                    "infra.targets.kubernetes.settings"},
    "infra.program": {"infra.model", "infra.edge", "infra.secrets", "infra.observability",
                      "infra.backups", "infra.targets", "infra.stack"},
    "infra.offline": {"infra.model", "infra.secrets", "infra.stack", "infra.program",
                      "policies"},
    "infra.hosts": set(),
    "infra.side_by_side": set(),
    "infra.lab": {"infra.model"},
    "infra.readiness": {"infra.secrets.literals"},
    "infra.drills": {"infra.lab", "infra.observability"},
    "policies": {"infra", "infra.model", "infra.secrets.literals", "infra.stack"},
    "infra.demo": {"infra.stack", "infra.program", "infra.edge", "infra.lab", "infra.model",
                   "infra.hosts", "infra.offline", "infra.secrets", "infra.observability"},
    "infra.cli": {"infra", "infra.secrets.literals", "infra.stack", "infra.program",
                  "infra.targets.kubernetes.settings",
                  "infra.edge", "infra.lab", "infra.model", "infra.hosts", "infra.offline",
                  "infra.secrets", "infra.observability", "infra.backups", "infra.demo",
                  "infra.readiness", "infra.drills"},
}
# Finer units inside a package (the detector is the one part of secrets the model may use).
FINE = ("infra.secrets.literals", "infra.secrets.weak", "infra.targets.kubernetes.settings")


def _unit(module: str) -> str:
    for fine in FINE:
        if module == fine or module.startswith(fine + "."):
            return fine
    parts = module.split(".")
    if parts[0] == "policies":
        return "policies"
    return ".".join(parts[:2]) if len(parts) > 1 else "infra"


def _modules() -> list[tuple[str, Path]]:
    out = []
    for top in ("infra", "policies"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts[-1] == "__main__":
                continue  # entry points compose the packages; they are not one of them
            out.append((".".join(parts), path))
    return out


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # `from infra import stack` imports the module infra.stack.
            for alias in node.names:
                sub = ROOT.joinpath(*base.split("."), alias.name)
                is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                found.add(f"{base}.{alias.name}" if is_module else base)
    return {m for m in found if m.split(".")[0] in ("infra", "policies")}


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in _modules():
        here = _unit(module)
        for imported in _imports(module, path):
            there = _unit(imported)
            if there != here and imported != "infra":
                edges.setdefault(here, set()).add(there)
    return edges


def test_every_package_imports_only_what_it_may():
    problems = [f"{unit} imports {sorted(used - ALLOWED.get(unit, set()))}"
                for unit, used in sorted(_edges().items())
                if used - ALLOWED.get(unit, set())]
    assert problems == [], problems


def test_no_two_units_import_each_other():
    edges = _edges()
    loops = sorted({tuple(sorted((a, b))) for a, used in edges.items() for b in used
                    if a in edges.get(b, set())})
    assert loops == [], loops


def test_every_unit_is_listed():
    assert {_unit(m) for m, _ in _modules()} <= set(ALLOWED)


def test_every_package_docstring_says_what_it_owns_and_may_import():
    missing = []
    for module, path in _modules():
        if path.name != "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if len(doc) < 40 or "import" not in doc.lower():
            missing.append(module)
    assert missing == [], f"packages without an owns/may-import docstring: {missing}"


def test_the_named_import_loops_are_cut():
    """secrets.generate <-> secrets.strength and policies.registry <-> policies.meta.waivers
    were hidden by function-level imports; neither direction may come back."""
    modules = dict(_modules())
    pairs = [("infra.secrets.generate", "infra.secrets.strength"),
             ("policies.registry", "policies.meta.waivers")]
    for a, b in pairs:
        a_uses = _imports(a, modules[a])
        b_uses = _imports(b, modules[b])
        assert not (b in a_uses and a in b_uses), (a, b)
