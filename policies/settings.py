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

The section is parsed once with the rest of the stack (infra/stack: `Stack.policy`), under
`pulumi preview --policy-pack policies` from the engine's config and offline from the stack
file; whether images need digests and the admin allowlist's bounds are the model's decision,
copied from its parsed settings, never re-read here.
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
from typing import Any

from infra.model.defaults import ADMIN_ALLOWLIST_MAX_SHARE, ADMIN_ALLOWLIST_MIN_PREFIX
from policies.core import Context

NAMESPACE = "rampart"
WAIVERS_KEY = "policyWaivers"
MAX_DAYS_KEY = "policyWaiverMaxDays"
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

    def context(self, rule_names: frozenset[str] = frozenset()) -> Context:
        ctx = Context(require_digests=self.require_digests, waivers=self.judged, today=self.today,
                      allowlist_min_prefix=self.allowlist_min_prefix,
                      allowlist_max_share=self.allowlist_max_share, rule_names=rule_names)
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


def from_namespace(
    namespace: Mapping[str, Any],
    model: Any,
    *,
    stack: str = "",
    source: str | None = None,
    positions: Mapping[tuple[str | int, ...], tuple[int, int]] | None = None,
    today: dt.date | None = None,
) -> StackSettings:
    """The policy section of a stack (infra/stack builds it; nothing else should): the
    waiver keys this module owns, and the figures the model already decided — whether images
    must be pinned by digest, the admin allowlist's bounds — taken from the model's parsed
    `Settings`, so the gate and the program cannot judge one stack differently."""
    # A list of strings: the stack reader checks every key's type (infra/stack/file.py).
    caps = namespace.get(CAPS_KEY)
    where = positions or {}
    raw = namespace.get(WAIVERS_KEY)
    lines = [where.get(("config", f"{NAMESPACE}:{WAIVERS_KEY}", i), (None, None))[0]
             for i in range(len(raw))] if isinstance(raw, list) else None
    waivers = parse_waivers(raw, lines)
    max_days, problem = parse_max_days(namespace.get(MAX_DAYS_KEY))
    if problem:
        # Reported by policy-waivers-valid like a bad waiver; waivers keep the default limit.
        waivers = (*waivers, _problem_entry(MAX_DAYS_KEY, problem))
    return StackSettings(
        stack=stack,
        source=source,
        require_digests=bool(model.require_digests),
        allowed_capabilities=frozenset(str(c).upper() for c in caps) if caps else None,
        waivers=waivers,
        today=today or dt.datetime.now(dt.UTC).date(),
        waiver_max_days=max_days,
        allowlist_min_prefix=model.edge.admin_allowlist_min_prefix,
        allowlist_max_share=model.edge.admin_allowlist_max_share,
    )


