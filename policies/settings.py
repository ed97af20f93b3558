"""Stack settings and waivers: the one place the policy pack reads configuration.

Both come from the stack's own config (`Pulumi.<stack>.yaml`), so a stack's exceptions live
in one file per kind (CONVENTIONS 16) next to the settings they relax:

    config:
      rampart:requireDigests: true
      rampart:policyWaivers:
        - id: traefik-docker-socket
          rule: no-host-mounts
          resource: traefik          # logical name, service name or URN; globs allowed
          reason: Traefik's Docker provider reads the socket (read-only)
          expires: 2027-03-31

Under `pulumi preview --policy-pack policies` the CLI hands the stack's config to the
analyzer process, where `pulumi.Config("rampart")` reads it (`from_pulumi_config`).
Offline, `rampart policy check` reads the same keys from the stack file (`from_stack_file`).
We do not use pulumi-policy's per-policy config (`--policy-pack-config`): that would put a
stack's settings in a second file that `rampart render` and `pulumi up` never see.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from policies.core import Context

NAMESPACE = "rampart"
WAIVERS_KEY = "policyWaivers"
DIGESTS_KEY = "requireDigests"
CAPS_KEY = "policyAllowedCapabilities"


@dataclass(frozen=True)
class Waiver:
    id: str
    rule: str
    resource: str
    reason: str
    expires: dt.date | None
    line: int | None = None  # line of the waiver in the stack file, for report locations
    problems: tuple[str, ...] = ()  # why this waiver is not valid (then it waives nothing)

    def matches(self, rule: str, keys: Iterable[str]) -> bool:
        if rule != self.rule:
            return False
        return any(k and fnmatch.fnmatchcase(k, self.resource) for k in keys)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StackSettings:
    stack: str = ""
    source: str | None = None  # stack file path (offline only)
    require_digests: bool = False
    allowed_capabilities: frozenset[str] | None = None
    waivers: tuple[Waiver, ...] = ()
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())

    def context(self) -> Context:
        ctx = Context(require_digests=self.require_digests, waivers=self.waivers, today=self.today)
        if self.allowed_capabilities is not None:
            ctx = replace(ctx, allowed_capabilities=self.allowed_capabilities)
        return ctx

    def waiver_for(self, rule: str, keys: Iterable[str]) -> Waiver | None:
        """The valid waiver covering this rule on a resource (expired ones included)."""
        keys = list(keys)
        for waiver in self.waivers:
            if waiver.valid and waiver.matches(rule, keys):
                return waiver
        return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "yes", "1", "on"}


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_waivers(raw: Any, lines: list[int | None] | None = None) -> tuple[Waiver, ...]:
    """Waiver entries as written in config; malformed ones are kept with their problems so
    the `policy-waivers-valid` rule can report them instead of silently ignoring them."""
    if raw in (None, ""):
        return ()
    if isinstance(raw, str):
        raw = yaml.safe_load(raw)
    if not isinstance(raw, list):
        return (Waiver("policyWaivers", "", "", "", None, None, ("policyWaivers is not a list",)),)
    out = []
    for i, entry in enumerate(raw):
        line = lines[i] if lines and i < len(lines) else None
        if not isinstance(entry, Mapping):
            out.append(Waiver(f"#{i + 1}", "", "", "", None, line, ("entry is not a mapping",)))
            continue
        rule = str(entry.get("rule") or "")
        resource = str(entry.get("resource") or "")
        reason = str(entry.get("reason") or "").strip()
        expires = _as_date(entry.get("expires"))
        problems = []
        if not rule:
            problems.append("no rule")
        if not resource:
            problems.append("no resource")
        if not reason:
            problems.append("no reason")
        if entry.get("expires") is None:
            problems.append("no expiry date")
        elif expires is None:
            problems.append(f"expiry {entry.get('expires')!r} is not a YYYY-MM-DD date")
        wid = str(entry.get("id") or f"{rule}:{resource}")
        out.append(Waiver(wid, rule, resource, reason, expires, line, tuple(problems)))
    return tuple(out)


def from_config_values(
    values: Mapping[str, Any],
    *,
    stack: str = "",
    source: str | None = None,
    waiver_lines: list[int | None] | None = None,
    today: dt.date | None = None,
) -> StackSettings:
    """Settings from a flat `rampart:<key>` → value mapping (stack file or engine config)."""

    def val(key: str) -> Any:
        return values.get(f"{NAMESPACE}:{key}")

    caps = val(CAPS_KEY)
    if isinstance(caps, str):
        caps = yaml.safe_load(caps)
    return StackSettings(
        stack=stack,
        source=source,
        require_digests=_as_bool(val(DIGESTS_KEY)) if val(DIGESTS_KEY) is not None else False,
        allowed_capabilities=frozenset(str(c).upper() for c in caps) if caps else None,
        waivers=parse_waivers(val(WAIVERS_KEY), waiver_lines),
        today=today or dt.datetime.now(dt.UTC).date(),
    )


def waiver_lines(text: str) -> list[int | None]:
    """1-based line of each `- ` entry under `rampart:policyWaivers:` in a stack file."""
    lines = text.splitlines()
    out: list[int | None] = []
    inside, indent = False, 0
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not inside:
            if re.match(rf"\s*{NAMESPACE}:{WAIVERS_KEY}\s*:", line):
                inside, indent = True, len(line) - len(line.lstrip())
            continue
        if not stripped or stripped.startswith("#"):
            continue
        cur = len(line) - len(line.lstrip())
        if cur <= indent and not stripped.startswith("-"):
            break
        if stripped.startswith("- "):
            out.append(no)
    return out


def from_stack_file(
    path: Path, *, project_file: Path | None = None, today: dt.date | None = None
) -> StackSettings:
    """Offline: read `Pulumi.<stack>.yaml` (plus project-level defaults from `Pulumi.yaml`)."""
    values: dict[str, Any] = {}
    if project_file and project_file.exists():
        project = yaml.safe_load(project_file.read_text()) or {}
        for key, spec in (project.get("config") or {}).items():
            # Project config entries are either plain values or {default|value: ...}.
            if isinstance(spec, Mapping):
                spec = spec.get("value", spec.get("default"))
            if spec is not None and ":" in key:
                values[key] = spec
    text = path.read_text() if path.exists() else ""
    data = yaml.safe_load(text) or {}
    values.update(data.get("config") or {})
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return from_config_values(
        values, stack=stack, source=str(path), waiver_lines=waiver_lines(text), today=today
    )


def from_pulumi_config() -> StackSettings:
    """Under the real engine: the stack config the CLI passes to the analyzer process."""
    import pulumi  # deferred: offline callers and tests never need the engine runtime

    cfg = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    for key in (DIGESTS_KEY, CAPS_KEY):
        raw = cfg.get(key)
        if raw is not None:
            values[f"{NAMESPACE}:{key}"] = raw
    waivers = cfg.get(WAIVERS_KEY)
    if waivers is not None:
        values[f"{NAMESPACE}:{WAIVERS_KEY}"] = waivers  # JSON text; YAML parses JSON
    try:
        stack = pulumi.get_stack()
    except Exception:  # noqa: BLE001 - no engine settings yet: the name is cosmetic
        stack = ""
    return from_config_values(values, stack=stack)
