"""The requirements catalog (infra/readiness/requirements.yaml), read strictly.

    version: 1
    categories:
      - {id: secrets, title: Secrets}
    requirements:
      - id: SEC-1                       # stable: reports and markers cite it
        category: secrets
        title: Secrets come only from Vault, and a weak one refuses the deploy
        severity: blocker               # blocker | major | minor
        figure: JWT secret >= 256 bits  # the owners' figure (DESIGN §1), when there is one
        checks:                         # at least one; every one must be proven
          - pytest: tests/unit/test_secrets_strength.py       # node id or node-id prefix
          - evidence: restore-drill                           # an adapter's check id
            target: rto_seconds <= 14400                      # measured value vs figure
          - manual: why no automated check proves it (yet)

A mistake is a `CatalogError` naming the file and the requirement at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.readiness.evidence import meets, parse_target

DEFAULT_CATALOG = Path(__file__).resolve().parent / "requirements.yaml"
SEVERITIES = ("blocker", "major", "minor")
WEIGHTS = {"blocker": 3, "major": 2, "minor": 1}
_ID = re.compile(r"[A-Z]{2,8}-\d{1,3}")
_CATEGORY = re.compile(r"[a-z][a-z0-9-]{0,30}")
_TARGET = re.compile(r"^\s*([A-Za-z0-9_.:/-]{1,80})\s*(<=|>=|<|>|==)\s*(-?\d+(?:\.\d+)?)\s*"
                     r"([A-Za-z%/]*)\s*$")
MIN_REASON = 15


class CatalogError(Exception):
    """The catalog cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Target:
    measure: str
    op: str
    value: float
    unit: str = ""

    def __str__(self) -> str:
        return f"{self.measure} {self.op} {self.value:g}{' ' + self.unit if self.unit else ''}"

    def met_by(self, value: float) -> bool:
        return meets(value, self.op, self.value)


@dataclass(frozen=True)
class Check:
    kind: str  # pytest | evidence | manual
    ref: str  # node id (prefix), check id, or the manual reason
    target: Target | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}: {self.ref}" + (f" ({self.target})" if self.target else "")

    def matches(self, check: str, kind: str) -> bool:
        """Whether a record of `kind` for `check` is evidence for this check."""
        if self.kind == "pytest":
            if kind != "pytest":
                return False
            ref = self.ref
            return (check == ref or check.startswith(ref + "::") or check.startswith(ref + "[")
                    or (ref.endswith("/") and check.startswith(ref)))
        if self.kind == "evidence":
            return kind != "pytest" and check == self.ref
        return False


@dataclass(frozen=True)
class Category:
    id: str
    title: str


@dataclass(frozen=True)
class Requirement:
    id: str
    category: str
    title: str
    severity: str
    checks: tuple[Check, ...]
    figure: str = ""

    @property
    def weight(self) -> int:
        return WEIGHTS[self.severity]

    @property
    def manual(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.kind == "manual")

    @property
    def automated(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.kind != "manual")


@dataclass(frozen=True)
class Catalog:
    path: Path
    categories: tuple[Category, ...]
    requirements: tuple[Requirement, ...]

    def ids(self) -> set[str]:
        return {r.id for r in self.requirements}

    def in_category(self, category: str) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.category == category)


def _target(text: Any, where: str) -> Target:
    match = _TARGET.match(text) if isinstance(text, str) else None
    if not match:
        raise CatalogError(f"{where}: target {text!r} is not `<measure> <op> <number> [unit]` "
                           "(e.g. `rto_seconds <= 14400 s`)")
    parse_target(f"{match[2]} {match[3]}")
    return Target(match[1], match[2], float(match[3]), match[4])


def _check(raw: Any, where: str) -> Check:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where} is not a mapping (pytest:, evidence: or manual:)")
    kinds = [k for k in ("pytest", "evidence", "manual") if k in raw]
    unknown = sorted(set(raw) - {"pytest", "evidence", "manual", "target"})
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if len(kinds) != 1:
        raise CatalogError(f"{where}: needs exactly one of pytest:, evidence:, manual:")
    kind = kinds[0]
    ref = raw[kind]
    if not isinstance(ref, str) or not ref.strip():
        raise CatalogError(f"{where}: {kind}: must be a non-empty string")
    if kind == "manual":
        if len(ref.strip()) < MIN_REASON or "target" in raw:
            raise CatalogError(f"{where}: manual: needs the reason no automated check proves "
                               f"it (at least {MIN_REASON} characters) and no target")
        return Check("manual", ref.strip())
    target = _target(raw["target"], where) if "target" in raw else None
    return Check(kind, ref.strip(), target)


def load(path: Path = DEFAULT_CATALOG) -> Catalog:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{shown}: requirements file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{shown}: unreadable: {exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise CatalogError(f"{shown}: not valid YAML{at}: "
                           f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(doc, dict):
        raise CatalogError(f"{shown}: must be a mapping with version, categories, requirements")
    unknown = sorted(set(doc) - {"version", "categories", "requirements"})
    if unknown:
        raise CatalogError(f"{shown}: unknown top-level key(s) {', '.join(map(str, unknown))}")
    if doc.get("version") != 1:
        raise CatalogError(f"{shown}: version must be 1")
    raw_categories = doc.get("categories")
    if not isinstance(raw_categories, list) or not raw_categories:
        raise CatalogError(f"{shown}: categories must be a non-empty list")
    categories: list[Category] = []
    for index, raw in enumerate(raw_categories):
        where = f"{shown}: categories[{index}]"
        if (not isinstance(raw, dict) or set(raw) != {"id", "title"}
                or not isinstance(raw["id"], str) or not _CATEGORY.fullmatch(raw["id"])
                or not isinstance(raw["title"], str) or not raw["title"].strip()):
            raise CatalogError(f"{where}: needs exactly an id (kebab-case) and a title")
        if raw["id"] in {c.id for c in categories}:
            raise CatalogError(f"{where}: category {raw['id']} is listed twice")
        categories.append(Category(raw["id"], raw["title"].strip()))
    known = {c.id for c in categories}
    raw_requirements = doc.get("requirements")
    if not isinstance(raw_requirements, list) or not raw_requirements:
        raise CatalogError(f"{shown}: requirements must be a non-empty list")
    requirements: list[Requirement] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_requirements):
        where = f"{shown}: requirements[{index}]"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where} is not a mapping")
        rid = raw.get("id")
        if not isinstance(rid, str) or not _ID.fullmatch(rid):
            raise CatalogError(f"{where}: id {rid!r} is not like EDGE-3 (capitals, dash, number)")
        where = f"{shown}: {rid}"
        unknown = sorted(set(raw) - {"id", "category", "title", "severity", "figure", "checks"})
        if unknown:
            raise CatalogError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
        if rid in seen:
            raise CatalogError(f"{where}: id is listed twice")
        seen.add(rid)
        if raw.get("category") not in known:
            raise CatalogError(f"{where}: category {raw.get('category')!r} is not one of "
                               f"{', '.join(sorted(known))}")
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            raise CatalogError(f"{where}: title is missing")
        if raw.get("severity") not in SEVERITIES:
            raise CatalogError(f"{where}: severity {raw.get('severity')!r} is not one of "
                               f"{', '.join(SEVERITIES)}")
        figure = raw.get("figure", "")
        if not isinstance(figure, str):
            raise CatalogError(f"{where}: figure must be text")
        checks = raw.get("checks")
        if not isinstance(checks, list) or not checks:
            raise CatalogError(f"{where}: has no check (add an automated check, or `manual:` "
                               "with the reason)")
        parsed = tuple(_check(c, f"{where}: checks[{n}]") for n, c in enumerate(checks))
        requirements.append(Requirement(rid, raw["category"], title.strip(), raw["severity"],
                                        parsed, figure.strip()))
    return Catalog(path, tuple(categories), tuple(requirements))
