"""Stack settings and waivers: the one place the policy pack reads configuration.

Both come from the stack's own config (`Pulumi.<stack>.yaml`), so a stack's exceptions live
in one file per kind (CONVENTIONS 16) next to the settings they relax:

    config:
      rampart:requireDigests: true
      rampart:policyWaiverMaxDays: 90      # optional; default one year, never above 366
      rampart:policyWaivers:
        - id: node-exporter-host-proc
          rule: no-host-mounts
          resource: node-exporter          # logical name, service name or URN: one, exactly
          subject: /proc                   # what the finding is about, as reports show it
          reason: node_exporter reads the host's /proc (read-only) for host metrics
          expires: 2027-03-31

A waiver waives exactly one finding: its rule, on its resource, about its subject (a host
path, a port, a capability, an env key, or a field name for findings about a whole
setting). Patterns are refused, not expanded: a waiver whose resource or subject is a glob, a
regex, empty or "all" waives nothing, and neither does one that expires beyond the stack's
limit. What can never be waived at all is decided in `policies/meta/waivers.py`.

Under `pulumi preview --policy-pack policies` the CLI hands the stack's config to the
analyzer process, where `pulumi.Config("rampart")` reads it (`from_pulumi_config`).
Offline, `rampart policy check` reads the same keys from the stack file (`from_stack_file`).
We do not use pulumi-policy's per-policy config (`--policy-pack-config`): that would put a
stack's settings in a second file that `rampart render` and `pulumi up` never see.
"""

from __future__ import annotations

import datetime as dt
import functools
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from infra import stackfile
from infra.model.defaults import (
    ADMIN_ALLOWLIST_MAX_SHARE,
    ADMIN_ALLOWLIST_MAX_SHARE_BOUND,
    ADMIN_ALLOWLIST_MIN_PREFIX,
)
from infra.model.errors import ValidationError
from policies.core import Context

NAMESPACE = "rampart"
WAIVERS_KEY = "policyWaivers"
MAX_DAYS_KEY = "policyWaiverMaxDays"
DIGESTS_KEY = "requireDigests"
CAPS_KEY = "policyAllowedCapabilities"

# A stack may shorten the longest waiver it accepts, never lengthen it past this: a waiver
# is a dated promise to fix something, re-read at least once a year.
MAX_DAYS_CAP = 366

# Characters that make a name a pattern in glob, regex or SQL spelling. `$` is legitimate
# inside a URN (`...Service$docker:index/...`), so only a trailing one counts as an anchor.
PATTERN_CHARS = frozenset("*?[]{}()|^+\\%")
# Words that mean "everything" rather than naming one thing.
EVERYTHING = frozenset({"all", "any", "every", "everything"})


def pattern_problem(what: str, value: str) -> str | None:
    """Why `value` cannot name exactly one resource/subject, or None when it can."""
    text = value.strip()
    if not text:
        return f"no {what}"
    if text.lower() in EVERYTHING:
        return f"{what} {value!r} names everything, not one {what}"
    if any(c in PATTERN_CHARS for c in text) or text.endswith("$"):
        return f"{what} {value!r} is a pattern; name exactly one {what}"
    return None


def normal_subject(subject: str) -> str:
    """Subjects compare after trimming; paths after normalisation (`/proc/` is `/proc`)."""
    text = subject.strip()
    if text.startswith("/"):
        text = posixpath.normpath(text)
        if text.startswith("//"):
            text = "/" + text.lstrip("/")  # POSIX keeps a leading `//`; no host path does
    return text


def one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


@dataclass(frozen=True)
class Waiver:
    id: str
    rule: str
    resource: str
    subject: str
    reason: str
    expires: dt.date | None
    line: int | None = None  # line of the waiver in the stack file, for report locations
    problems: tuple[str, ...] = ()  # why this waiver is not valid (then it waives nothing)

    def matches(self, rule: str, keys: Iterable[str], subject: str | None) -> bool:
        """Exactly this rule, one of the resource's names, and the finding's subject."""
        if rule != self.rule or not subject:
            return False
        if normal_subject(subject) != normal_subject(self.subject):
            return False
        return self.resource in {k for k in keys if k}

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    @property
    def valid(self) -> bool:
        return not self.problems


def _problem_entry(key: str, problem: str) -> Waiver:
    """A stack setting about waivers that is itself wrong: listed and reported with them."""
    return Waiver(key, "", "", "", "", None, None, (problem,))


@dataclass(frozen=True)
class StackSettings:
    stack: str = ""
    source: str | None = None  # stack file path (offline only)
    require_digests: bool = False
    allowed_capabilities: frozenset[str] | None = None
    waivers: tuple[Waiver, ...] = ()  # as written; `judged` adds the date-dependent problems
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    waiver_max_days: int | None = None  # None: one year from today
    # The model's bounds for the admin allowlist (the same stack keys, the same defaults), so
    # the gate and the program judge one stack alike.
    allowlist_min_prefix: int = ADMIN_ALLOWLIST_MIN_PREFIX
    allowlist_max_share: float = ADMIN_ALLOWLIST_MAX_SHARE

    @property
    def latest_expiry(self) -> dt.date:
        """The latest expiry a waiver may have today."""
        if self.waiver_max_days is None:
            return one_year_after(self.today)
        return self.today + dt.timedelta(days=self.waiver_max_days)

    @functools.cached_property
    def judged(self) -> tuple[Waiver, ...]:
        """The waivers with every problem known from the stack config and today's date."""
        latest = self.latest_expiry
        limit = (f"{self.waiver_max_days} days" if self.waiver_max_days is not None
                 else "one year")
        out = []
        for w in self.waivers:
            if w.expires is not None and w.expires > latest:
                w = replace(w, problems=(*w.problems, f"expiry {w.expires} is more than "
                                         f"{limit} away (latest allowed: {latest})"))
            out.append(w)
        return tuple(out)

    def context(self) -> Context:
        ctx = Context(require_digests=self.require_digests, waivers=self.judged, today=self.today,
                      allowlist_min_prefix=self.allowlist_min_prefix,
                      allowlist_max_share=self.allowlist_max_share)
        if self.allowed_capabilities is not None:
            ctx = replace(ctx, allowed_capabilities=self.allowed_capabilities)
        return ctx

    def waiver_for(self, rule: str, keys: Iterable[str], subject: str | None) -> Waiver | None:
        """The valid waiver for this one finding (expired ones included), if any."""
        if not subject:
            return None  # nothing names this finding, so nothing can waive it
        keys = list(keys)
        for waiver in self.judged:
            if waiver.valid and waiver.matches(rule, keys, subject):
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


def _name(entry: Mapping[str, Any], key: str, problems: list[str]) -> str:
    """A waiver's resource or subject: one name, never a pattern."""
    value = entry.get(key)
    if value is None:
        problems.append(f"no {key}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{key} must be one name, not {type(value).__name__} {value!r}")
        return str(value)
    text = str(value).strip()
    problem = pattern_problem(key, text)
    if problem:
        problems.append(problem)
    return text


def parse_waivers(raw: Any, lines: list[int | None] | None = None) -> tuple[Waiver, ...]:
    """Waiver entries as written in config; malformed ones are kept with their problems so
    the `policy-waivers-valid` rule can report them instead of silently ignoring them."""
    if raw in (None, ""):
        return ()
    if isinstance(raw, str):
        # Under the engine the list arrives as text (`pulumi config set`): the same strict
        # reading as a stack file (no alias bombs, no duplicate keys).
        try:
            raw = _strict_yaml(raw, f"{NAMESPACE}:{WAIVERS_KEY}")
        except ValidationError as exc:
            return (_problem_entry(WAIVERS_KEY, str(exc)),)
    if not isinstance(raw, list):
        return (_problem_entry(WAIVERS_KEY, f"rampart:{WAIVERS_KEY} is not a list"),)
    out: list[Waiver] = []
    ids: set[str] = set()
    targets: dict[tuple[str, str, str], str] = {}
    for i, entry in enumerate(raw):
        line = lines[i] if lines and i < len(lines) else None
        if not isinstance(entry, Mapping):
            out.append(Waiver(f"#{i + 1}", "", "", "", "", None, line,
                              ("entry is not a mapping",)))
            continue
        problems: list[str] = []
        rule = str(entry.get("rule") or "").strip()
        if not rule:
            problems.append("no rule")
        resource = _name(entry, "resource", problems)
        subject = _name(entry, "subject", problems)
        reason = str(entry.get("reason") or "").strip()
        if not reason:
            problems.append("no reason")
        expires = _as_date(entry.get("expires"))
        if entry.get("expires") is None:
            problems.append("no expiry date")
        elif expires is None:
            problems.append(f"expiry {entry.get('expires')!r} is not a YYYY-MM-DD date")
        wid = str(entry.get("id") or f"{rule}:{resource}:{subject}").strip()
        if wid in ids:
            problems.append(f"id {wid!r} is used by an earlier waiver")
        ids.add(wid)
        target = (rule, resource, normal_subject(subject))
        if not problems and target in targets:
            problems.append(f"waives the same finding as waiver {targets[target]}")
        if not problems:
            targets[target] = wid
        out.append(Waiver(wid, rule, resource, subject, reason, expires, line,
                          tuple(problems)))
    return tuple(out)


def parse_max_days(raw: Any) -> tuple[int | None, str | None]:
    """(days, problem) for `rampart:policyWaiverMaxDays`; unset means one year."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None, f"rampart:{MAX_DAYS_KEY} {raw!r} is not a whole number of days"
    if not 1 <= raw <= MAX_DAYS_CAP:
        return None, (f"rampart:{MAX_DAYS_KEY} {raw} is outside 1..{MAX_DAYS_CAP} days "
                      f"(a waiver is re-read at least once a year)")
    return raw, None


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
        try:
            caps = _strict_yaml(caps, f"{NAMESPACE}:{CAPS_KEY}")
        except ValidationError:
            caps = None  # the program refuses the stack (the model reads the same key)
    waivers = parse_waivers(val(WAIVERS_KEY), waiver_lines)
    max_days, problem = parse_max_days(val(MAX_DAYS_KEY))
    if problem:
        # Reported by policy-waivers-valid like a bad waiver; waivers keep the default limit.
        waivers = (*waivers, _problem_entry(MAX_DAYS_KEY, problem))
    return StackSettings(
        stack=stack,
        source=source,
        # The model's default: a prod stack pins by digest even when the key is absent (the
        # gate judged such a stack as dev while the program treated it as prod).
        require_digests=(_as_bool(val(DIGESTS_KEY)) if val(DIGESTS_KEY) is not None
                         else str(val("environment") or "dev").strip().lower() == "prod"),
        allowed_capabilities=frozenset(str(c).upper() for c in caps) if caps else None,
        waivers=waivers,
        today=today or dt.datetime.now(dt.UTC).date(),
        waiver_max_days=max_days,
        **_allowlist_bounds(val("adminAllowlistMinPrefix"), val("adminAllowlistMaxShare")),
    )


def _allowlist_bounds(min_prefix: Any, max_share: Any) -> dict[str, Any]:
    """A stack may only narrow the bounds; a value the model would refuse keeps the default
    here (the program refuses the stack before anything is judged)."""
    bounds: dict[str, Any] = {}
    try:
        if min_prefix is not None and ADMIN_ALLOWLIST_MIN_PREFIX <= int(min_prefix) <= 128:
            bounds["allowlist_min_prefix"] = int(min_prefix)
        if max_share is not None and 0 < float(max_share) <= ADMIN_ALLOWLIST_MAX_SHARE_BOUND:
            bounds["allowlist_max_share"] = float(max_share)
    except (TypeError, ValueError):
        pass
    return bounds


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


def _strict_yaml(text: str, shown: str) -> Any:
    return stackfile.parse(text, shown)[0]


def from_stack_file(
    path: Path, *, project_file: Path | None = None, today: dt.date | None = None
) -> StackSettings:
    """Offline: read `Pulumi.<stack>.yaml` (plus project-level defaults from `Pulumi.yaml`)."""
    values: dict[str, Any] = {}
    if project_file and project_file.exists():
        project = _strict_yaml(
            stackfile.read_text(project_file, str(project_file), "project file"), str(project_file)
        ) or {}
        for key, spec in (project.get("config") or {}).items():
            # Project config entries are either plain values or {default|value: ...}.
            if isinstance(spec, Mapping):
                spec = spec.get("value", spec.get("default"))
            if spec is not None and ":" in key:
                values[key] = spec
    # The one strict reader (infra/stackfile.py): duplicate keys, alias bombs, bad bytes and
    # wrong types are refused here as they are for the program.
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    if path.exists():
        values.update(stackfile.read_stack_config(path, str(path)))
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return from_config_values(
        values, stack=stack, source=str(path), waiver_lines=waiver_lines(text), today=today
    )


def from_pulumi_config() -> StackSettings:
    """Under the real engine: the stack config the CLI passes to the analyzer process."""
    import pulumi  # deferred: offline callers and tests never need the engine runtime

    cfg = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    for key in (DIGESTS_KEY, CAPS_KEY, MAX_DAYS_KEY, "environment", "adminAllowlistMinPrefix",
                "adminAllowlistMaxShare"):
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
