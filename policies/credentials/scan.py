"""The pack's side of the one literal-secret detector, `infra.secrets.literals`.

The model refuses literal secrets in the catalog before anything renders; the pack runs the
same detector over what a target (or any program) actually produced, for resources that do
not come from the catalog. This module only adapts resource inputs to the detector's API:

- values the pack cannot see are judged as references, never as literals: `[secret]` (a
  `pulumi.Output.secret`, recorded offline) and values unknown during a preview;
- an exec form is judged whole (entrypoint followed by command, as Docker runs them), so
  `redis-cli` in the entrypoint and `-a X` in the command are one option pair; findings are
  mapped back to the field and index they came from (`command[1]`, `entrypoints[0]`);
- secret files live under /run/secrets (Docker target) or /var/run/secrets (Kubernetes).

`infra` is importable both offline (`rampart policy check`: the installed package) and under
`pulumi preview --policy-pack policies` (policies/__main__.py puts the repository root first
on sys.path and removes the pack directory, so this package never shadows the stdlib
`secrets` nor `infra.secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from infra.secrets.literals import LiteralSecret, scan_argv, scan_env
from policies.core import SECRET, UNKNOWN

SECRET_DIRS = ("/run/secrets", "/var/run/secrets")
# What a value the pack cannot read is judged as: a reference to a variable, which is fine.
REDACTED = "$RAMPART_REDACTED"
_ARGV_ITEM = re.compile(r"argv\[(\d+)\]")


def _text(value: Any) -> str:
    if value is UNKNOWN or value == SECRET:
        return REDACTED
    return "" if value is None else str(value)


def env(pairs: Iterable[tuple[str, Any]], where: str = "environment",
        ) -> list[tuple[str, list[str]]]:
    """[(variable, [reasons])] for every variable holding a literal secret."""
    out: list[tuple[str, list[str]]] = []
    for name, value in pairs:
        found = scan_env({name: _text(value)}, where, secret_dirs=SECRET_DIRS)
        reasons = _unique(f.why for f in found)
        if reasons:
            out.append((name, reasons))
    return out


def argv(parts: Sequence[tuple[str, Any]]) -> list[tuple[str, list[str]]]:
    """[(`field[index]`, [reasons])] for an exec form given as (field, items) parts, judged
    as the one argv they make."""
    items: list[str] = []
    origin: list[str] = []
    for field, values in parts:
        if values is UNKNOWN or values == SECRET or not isinstance(values, Sequence) \
                or isinstance(values, str):
            continue
        for index, value in enumerate(values):
            items.append(_text(value))
            origin.append(f"{field}[{index}]")
    if not items:
        return []
    return _grouped(scan_argv(items, "argv", secret_dirs=SECRET_DIRS),
                    lambda where: _ARGV_ITEM.sub(lambda m: origin[int(m.group(1))], where, 1))


def labels(values: Mapping[str, Any], where: str = "labels") -> list[tuple[str, list[str]]]:
    """[(`labels.<key>`, [reasons])]: a label is a key=value pair like an env variable."""
    found: list[LiteralSecret] = []
    for key, value in values.items():
        found += scan_env({key: _text(value)}, where, secret_dirs=SECRET_DIRS)
    return _grouped(found, lambda w: w)


def _grouped(found: Iterable[LiteralSecret], where: Any) -> list[tuple[str, list[str]]]:
    out: dict[str, list[str]] = {}
    for f in found:
        reasons = out.setdefault(where(f.where), [])
        if f.why not in reasons:
            reasons.append(f.why)
    return list(out.items())


def _unique(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out
