"""`rampart policy check`: the policy pack, offline, against a stack's real program.

The stack's `__main__.py` runs under the recording mock engine (`infra.render`); every
recorded resource is then handed to the pack's own pulumi-policy policies through
`ResourceValidationArgs`/`StackValidationArgs` built here (DESIGN §6), so the verdicts are the
ones `pulumi preview --policy-pack policies` reaches. Reports come as text, JSON, SARIF 2.1.0
(code-scanning annotations that point at the catalog or stack file line that caused each
finding) and Markdown (a pull-request comment). Waivers, active or expired, are listed in
every format.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi_policy as pp

from infra import config as stack_config
from infra.render import UNKNOWN_SHOWN, Recording, record_stack

# The pack lives next to Pulumi.yaml (the Pulumi CLI loads it from there), not inside the
# installed `infra` distribution: import it from the project checkout.
_ROOT = str(stack_config.project_dir())
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from policies import registry  # noqa: E402
from policies.core import UNKNOWN, Level, Plain, Resource, Rule, service_name  # noqa: E402
from policies.meta.waivers import VALID_NAME  # noqa: E402
from policies.pack import Outcome, build_policies  # noqa: E402
from policies.settings import StackSettings, Waiver, from_config_values, waiver_lines  # noqa: E402

FORMATS = ("text", "json", "sarif", "markdown")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL = "rampart-policy"
VERSION = "0.1.0"
# Rules whose findings are the waiver list itself; reports show waivers in their own section.
INFORMATIONAL = "informational"
# SARIF `security-severity` (GitHub ranks code-scanning alerts by it).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


# ---------------------------------------------------------------------------------------------
# Evaluation


def _opts() -> pp.PolicyResourceOptions:
    return pp.PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=pp.PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
    )


def _policy_value(value: Any) -> Any:
    """Recorded inputs → what rules see: the recording's `[unknown]` becomes UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value == UNKNOWN_SHOWN else value
    if isinstance(value, Mapping):
        return {k: _policy_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_policy_value(v) for v in value]
    return value


def resources_of(recording: Recording) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, Plain(_policy_value(dict(r.inputs))))
            for r in recording]


def evaluate(resources: Sequence[Resource], settings: StackSettings,
             rules: Sequence[Rule] | None = None) -> list[Outcome]:
    """Run the pack's pulumi-policy policies over `resources`; every outcome, waived included.

    Each policy is called exactly as the analyzer calls it: resource policies once per
    resource with `ResourceValidationArgs`, stack policies once with `StackValidationArgs`."""
    outcomes: list[Outcome] = []
    reported: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        reported.append((message, urn))

    opts = _opts()
    stack_resources = [
        pp.PolicyResource(r.type, r.props, r.urn, r.name, opts, None, None, [], {})
        for r in resources
    ]
    # Everything evaluation allocates lives until it returns, so the cyclic collector's full
    # passes would only rescan a growing heap (time grew faster than the stack); it resumes
    # when evaluation ends, as in the recording engine (infra/render.py).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for policy in build_policies(settings, outcomes.append, rules):
            if isinstance(policy, pp.ResourceValidationPolicy):
                for r in resources:
                    policy.validate(pp.ResourceValidationArgs(r.type, r.props, r.urn, r.name,
                                                              opts, None), report)
            elif isinstance(policy, pp.StackValidationPolicy):
                policy.validate(pp.StackValidationArgs(stack_resources), report)
    finally:
        if gc_was_enabled:
            gc.enable()
    # What the engine would have been told is exactly what was not waived.
    if len(reported) != sum(o.status != "waived" for o in outcomes):
        raise RuntimeError("policy wrapper reported a different set than it observed")
    return outcomes


# ---------------------------------------------------------------------------------------------
# Locations: the catalog/stack file line that caused a finding


@dataclass(frozen=True)
class Location:
    file: str  # relative to the project directory
    line: int


# Which catalog keys a finding's `field` is about, most specific first.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "resources": ("resources",),
    "health": ("health",),
    "security": ("security", "read_only_root", "cap_add", "user"),
    "writable_root": ("writable_root", "writable_paths"),
    "volumes": ("volumes",),
    "env": ("environment", "secrets"),
    "port": ("port", "exposure", "ports"),
    "logs": ("logs",),
    "restart": ("restart",),
    "backup": ("backup", "backup_exempt", "stateful"),
    "metrics": ("metrics",),
    "route": ("route", "exposure"),
    "replicas": ("replicas",),
}


# Edge findings caused by a stack setting, when the stack file sets it.
EDGE_STACK_KEYS = {
    "traefik-cors-not-wildcard": "corsOrigins",
    "traefik-tls-minimum": "minTlsVersion",
    "traefik-cors-origins-https": "corsOrigins",
    "traefik-allowlist-bounded": "adminAllowlist",
}


class Locator:
    """Finds the line of a service, a key inside it, or a top-level block, in YAML text."""

    def __init__(self, root: Path, catalog: Path | None, stack_file: Path,
                 waivers: Sequence[Waiver]) -> None:
        self.root = root
        self.catalog = catalog
        self.stack_file = stack_file
        self.waivers = {w.id: w for w in waivers}
        self._lines: dict[Path, list[str]] = {}
        self.versions = self._versions_file()

    def _read(self, path: Path | None) -> list[str]:
        if path is None:
            return []
        if path not in self._lines:
            try:
                self._lines[path] = path.read_text(encoding="utf-8").splitlines()
            except OSError:
                self._lines[path] = []
        return self._lines[path]

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def _versions_file(self) -> Path | None:
        for line in self._read(self.catalog):
            m = re.match(r"versions:\s*(\S+)\s*$", line)
            if m and self.catalog is not None:
                return self.catalog.parent / m.group(1).strip("'\"")
        return None

    @staticmethod
    def _block(lines: list[str], start: int) -> range:
        """Lines belonging to the mapping entry that starts at index `start`."""
        indent = len(lines[start]) - len(lines[start].lstrip())
        end = start + 1
        while end < len(lines):
            text = lines[end]
            if text.strip() and not text.lstrip().startswith("#") and \
                    len(text) - len(text.lstrip()) <= indent:
                break
            end += 1
        return range(start, end)

    @staticmethod
    def _find(lines: list[str], pattern: str, within: Iterable[int] | None = None) -> int | None:
        rx = re.compile(pattern)
        for i in within if within is not None else range(len(lines)):
            if rx.match(lines[i]):
                return i
        return None

    def service_line(self, service: str, fld: str | None) -> Location | None:
        lines = self._read(self.catalog)
        if not lines or not service or self.catalog is None:
            return None
        name = re.escape(service)
        # Prefer the entry directly under the top-level `services:` mapping, so a nested key
        # that happens to equal a service name elsewhere is never taken for it.
        top = self._find(lines, r"services\s*:")
        within = self._block(lines, top) if top is not None else None
        i = self._find(lines, rf"  {name}\s*:\s*(#.*)?$", within) if within else None
        if i is None:
            i = self._find(lines, rf"\s+{name}\s*:\s*(#.*)?$")
        if i is None:
            i = self._find(lines, rf"\s*-\s*name\s*:\s*['\"]?{name}['\"]?\s*(#.*)?$")
        if i is None:
            return None
        block = self._block(lines, i)
        if fld == "image":
            pinned = self._image_pin(lines, block)
            if pinned is not None:
                return pinned
        for key in FIELD_KEYS.get(fld or "", ()):
            j = self._find(lines, rf"\s+{re.escape(key)}\s*:", block)
            if j is not None:
                return Location(self.rel(self.catalog), j + 1)
        return Location(self.rel(self.catalog), i + 1)

    def _image_pin(self, lines: list[str], block: range) -> Location | None:
        """Images are keys into the versions file: point at the pin itself."""
        j = self._find(lines, r"\s+image\s*:\s*(\S+)", block)
        if j is None or self.versions is None:
            return None
        key = lines[j].split(":", 1)[1].split("#")[0].strip().strip("'\"")
        vlines = self._read(self.versions)
        k = self._find(vlines, rf"\s+{re.escape(key)}\s*:\s*(#.*)?$")
        if k is None:
            return None
        return Location(self.rel(self.versions), k + 1)

    def top_level(self, key: str) -> Location | None:
        lines = self._read(self.catalog)
        i = self._find(lines, rf"{re.escape(key)}\s*:")
        if i is None or self.catalog is None:
            return None
        return Location(self.rel(self.catalog), i + 1)

    def stack_key_line(self, key: str) -> Location | None:
        lines = self._read(self.stack_file)
        i = self._find(lines, rf"\s+rampart:{re.escape(key)}\s*:")
        return Location(self.rel(self.stack_file), i + 1) if i is not None else None

    def stack_line(self, key: str | None = None) -> Location:
        lines = self._read(self.stack_file)
        i = self._find(lines, rf"\s+rampart:{re.escape(key)}\s*:") if key else None
        return Location(self.rel(self.stack_file), (i + 1) if i is not None else 1)

    def locate(self, outcome: Outcome, service: str | None) -> Location:
        f = outcome.finding
        if f.field and f.field.startswith("waiver:"):
            wid = f.field.removeprefix("waiver:")
            waiver = self.waivers.get(wid)
            if waiver is not None and waiver.line:
                return Location(self.rel(self.stack_file), waiver.line)
            # A stack setting about waivers (rampart:policyWaiverMaxDays) is its own line.
            return self.stack_key_line(wid) or self.stack_line("policyWaivers")
        if outcome.status == "waiver-expired" and outcome.waiver and outcome.waiver.line:
            # The finding is back because the waiver expired: the stack file is what changed.
            return Location(self.rel(self.stack_file), outcome.waiver.line)
        if outcome.rule.name == "image-digest-required" and service:
            # Caused by the pin lacking a digest; the stack setting only made it mandatory.
            found = self.service_line(service, "image")
            if found is not None:
                return found
        if f.field == "edge":
            # Edge settings come from the stack (rampart:corsOrigins, ...) or the catalog's
            # `edge:` block; what Traefik does beyond them is the traefik service's entry.
            key = EDGE_STACK_KEYS.get(outcome.rule.name)
            found = self.stack_key_line(key) if key else None
            found = found or self.top_level("edge") or self.service_line("traefik", None)
            if found is not None:
                return found
        if service:
            found = self.service_line(service, f.field)
            if found is not None:
                return found
        if self.catalog is not None and self._read(self.catalog):
            return Location(self.rel(self.catalog), 1)
        return self.stack_line()


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Item:
    """One outcome as reported: everything a format needs, already resolved."""

    outcome: Outcome
    resource: str  # logical name (or "stack")
    urn: str | None
    service: str | None
    location: Location

    @property
    def rule(self) -> Rule:
        return self.outcome.rule

    @property
    def level(self) -> str:
        return self.outcome.rule.level.value


@dataclass
class Report:
    stack: str
    settings: StackSettings
    items: list[Item]
    resources: int
    rules: tuple[Rule, ...]
    seconds: float
    stack_file: str
    catalog: str | None
    used_waivers: set[str] = field(default_factory=set)

    @property
    def violations(self) -> list[Item]:
        return [i for i in self.items if i.outcome.status != "waived"]

    @property
    def mandatory(self) -> list[Item]:
        return [i for i in self.violations if i.outcome.rule.level is Level.MANDATORY]

    @property
    def advisory(self) -> list[Item]:
        return [i for i in self.violations if i.outcome.rule.level is Level.ADVISORY]

    @property
    def waived(self) -> list[Item]:
        return [i for i in self.items if i.outcome.status == "waived"]

    @property
    def passed(self) -> bool:
        return not self.mandatory

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def _waiver_problems(self) -> dict[str, list[str]]:
        """Problems only the pack could see (an unknown rule, a finding that is never
        waivable), from the policy-waivers-valid findings and the refused waivers."""
        found: dict[str, list[str]] = {}
        for item in self.items:
            o = item.outcome
            if o.rule.name == VALID_NAME and (o.finding.field or "").startswith("waiver:"):
                wid = (o.finding.field or "").removeprefix("waiver:")
                found.setdefault(wid, []).append(
                    o.finding.message.removeprefix(f"waiver {wid} is invalid: "))
            elif o.status == "waiver-refused" and o.waiver is not None:
                found.setdefault(o.waiver.id, []).append(
                    f"cannot waive {item.resource}: {o.refusal}")
        return found

    def waiver_rows(self) -> list[dict[str, Any]]:
        rows = []
        seen = self._waiver_problems()
        for w in self.settings.judged:
            problems = list(w.problems) or seen.get(w.id, [])
            if problems:
                status = "invalid"
            elif w.expired(self.settings.today):
                status = "expired"
            else:
                status = "active"
            rows.append({
                "id": w.id, "rule": w.rule, "resource": w.resource, "subject": w.subject,
                "reason": w.reason, "expires": w.expires.isoformat() if w.expires else None,
                "status": status, "matched": w.id in self.used_waivers, "line": w.line,
                "problems": problems,
            })
        return rows


def _services_by_parent(recording: Recording | None) -> dict[str, str]:
    """Component URN → catalog service, from the labels of the container under it, so an
    image or volume resource reports at its service's catalog entry."""
    out: dict[str, str] = {}
    if recording is None:
        return out
    for r in recording:
        if r.type == "docker:index/container:Container" and r.parent:
            name = service_name(r.type, r.inputs)
            if name:
                out[r.parent] = name
    return out


def build_report(outcomes: Sequence[Outcome], settings: StackSettings, *,
                 locator: Locator, resources: int, seconds: float, stack_file: str,
                 catalog: str | None, recording: Recording | None = None,
                 rules: Sequence[Rule] | None = None) -> Report:
    parents = _services_by_parent(recording)
    records = recording.resources if recording is not None else {}
    items: list[Item] = []
    used: set[str] = set()
    for o in outcomes:
        if o.waiver is not None:
            used.add(o.waiver.id)
        if INFORMATIONAL in o.rule.tags:
            continue
        res = o.resource
        service = o.finding.service
        if service is None and res is not None:
            service = service_name(res.type, res.props) or None
            record = records.get(res.urn)
            if record is not None and record.parent in parents:
                service = parents[record.parent]
        urn = res.urn if res is not None else o.finding.urn
        items.append(Item(o, res.name if res is not None else (o.finding.urn or "stack"), urn,
                          service, locator.locate(o, service)))
    order = {r.name: n for n, r in enumerate(registry.RULES)}
    items.sort(key=lambda i: (i.rule.level is not Level.MANDATORY, order.get(i.rule.name, 99),
                              i.resource, i.outcome.message))
    return Report(stack=settings.stack, settings=settings, items=items, resources=resources,
                  rules=tuple(rules or registry.RULES), seconds=seconds,
                  stack_file=stack_file, catalog=catalog, used_waivers=used)


def check_stack(stack: str, root: Path | None = None,
                today: Any = None, record: Callable[[str, Path], Recording] | None = None
                ) -> Report:
    """Render `stack` with the recording engine and evaluate the pack against it."""
    started = time.perf_counter()
    root = root or stack_config.project_dir()
    values = stack_config.stack_file_config(stack, root)
    stack_path = stack_config.stack_file(stack, root)
    settings = from_config_values(values, stack=stack, source=str(stack_path),
                                  waiver_lines=waiver_lines(stack_path.read_text()),
                                  today=today)
    recording = (record or record_stack)(stack, root)
    resources = resources_of(recording)
    outcomes = evaluate(resources, settings)
    catalog = _catalog_path(values, root)
    locator = Locator(root, catalog, stack_path, settings.waivers)
    return build_report(
        outcomes, settings, locator=locator, resources=len(resources),
        seconds=time.perf_counter() - started, stack_file=locator.stack_line().file,
        catalog=locator.rel(catalog) if catalog else None, recording=recording,
    )


def _catalog_path(values: Mapping[str, str], root: Path) -> Path | None:
    raw = values.get(f"{stack_config.NAMESPACE}:catalog")
    if raw:
        path = Path(raw)
        return path if path.is_absolute() else root / path
    from infra.model import DEFAULT_CATALOG  # the program's own default

    return Path(DEFAULT_CATALOG)


# ---------------------------------------------------------------------------------------------
# Formats


def _where(item: Item) -> str:
    return f"{item.location.file}:{item.location.line}"


def to_text(report: Report) -> str:
    out = [f"rampart policy check: stack {report.stack} - {report.resources} resources, "
           f"{len(report.rules)} rules, {report.seconds:.2f} s"]
    for item in report.violations:
        out.append(f"{item.level.upper():9} {item.rule.name}  {item.resource}: "
                   f"{item.outcome.message}  [{_where(item)}]")
    for item in report.waived:
        w = item.outcome.waiver
        out.append(f"{'WAIVED':9} {item.rule.name}  {item.resource}: {item.outcome.message}  "
                   f"[waiver {w.id if w else '?'} until {w.expires if w else '?'}]")
    rows = report.waiver_rows()
    if rows:
        out.append("waivers:")
        for row in rows:
            unused = "" if row["matched"] else ", unused"
            out.append(f"  {row['id']}: {row['rule']} on {row['resource']} about "
                       f"{row['subject']} until {row['expires']} ({row['status']}{unused})"
                       f" - {'; '.join(row['problems']) or row['reason']}")
    else:
        out.append("waivers: none")
    verdict = "PASSED" if report.passed else "FAILED"
    out.append(f"{verdict}: {len(report.mandatory)} mandatory, {len(report.advisory)} advisory, "
               f"{len(report.waived)} waived")
    return "\n".join(out) + "\n"


def _item_json(item: Item) -> dict[str, Any]:
    w = item.outcome.waiver
    return {
        "rule": item.rule.name, "level": item.level, "severity": item.rule.severity.value,
        "status": item.outcome.status, "message": item.outcome.message,
        "resource": item.resource, "urn": item.urn, "service": item.service,
        "subject": item.outcome.finding.subject,
        "location": {"file": item.location.file, "line": item.location.line},
        "remediation": item.rule.remediation, "doc": item.rule.url,
        "waiver": w.id if w else None,
    }


def to_json(report: Report) -> str:
    doc = {
        "stack": report.stack,
        "passed": report.passed,
        "summary": {"mandatory": len(report.mandatory), "advisory": len(report.advisory),
                    "waived": len(report.waived), "resources": report.resources,
                    "rules": len(report.rules), "seconds": round(report.seconds, 3)},
        "violations": [_item_json(i) for i in report.violations],
        "waived": [_item_json(i) for i in report.waived],
        "waivers": report.waiver_rows(),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _fingerprint(item: Item) -> str:
    raw = "\0".join((item.rule.name, item.urn or "", item.outcome.finding.message))
    return hashlib.sha256(raw.encode()).hexdigest()


def to_sarif(report: Report) -> str:
    rules = list(report.rules)
    index = {r.name: n for n, r in enumerate(rules)}
    descriptors = [{
        "id": r.name,
        "name": "".join(part.capitalize() for part in r.name.split("-")),
        "shortDescription": {"text": r.description},
        "fullDescription": {"text": r.description},
        "helpUri": r.url,
        "help": {"text": r.remediation, "markdown": f"**Remediation:** {r.remediation}"},
        "defaultConfiguration": {"level": "error" if r.level is Level.MANDATORY else "warning"},
        "properties": {"tags": ["security", *r.tags], "precision": "high",
                       "security-severity": SECURITY_SEVERITY[r.severity.value],
                       "enforcement": r.level.value},
    } for r in rules]
    results = []
    for item in report.items:
        result: dict[str, Any] = {
            "ruleId": item.rule.name,
            "ruleIndex": index[item.rule.name],
            "level": "error" if item.rule.level is Level.MANDATORY else "warning",
            "message": {"text": f"{item.resource}: {item.outcome.message}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": item.location.file, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": item.location.line},
                },
                "logicalLocations": [{"name": item.resource, "kind": "resource",
                                      **({"fullyQualifiedName": item.urn} if item.urn else {})}],
            }],
            "partialFingerprints": {"rampartFinding/v1": _fingerprint(item)},
            "properties": {"status": item.outcome.status,
                           **({"service": item.service} if item.service else {})},
        }
        w = item.outcome.waiver
        # What a waiver for this finding must name, and the waiver that names it.
        if item.outcome.finding.subject:
            result["properties"]["subject"] = item.outcome.finding.subject
        if w is not None:
            result["properties"]["waiver"] = w.id
        if item.outcome.status == "waived" and w is not None:
            # A waiver is an accepted, external suppression: the result stays visible.
            result["suppressions"] = [{"kind": "external", "status": "accepted",
                                       "justification": f"waiver {w.id} until {w.expires}: "
                                                        f"{w.reason}"}]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": VERSION,
                                "informationUri": registry.RULES[0].url.split("#")[0],
                                "rules": descriptors}},
            "automationDetails": {"id": f"rampart-policy/{report.stack}/"},
            "originalUriBaseIds": {"SRCROOT": {"description": {
                "text": "The repository root (the directory holding Pulumi.yaml)."}}},
            "invocations": [{"executionSuccessful": True,
                             "exitCode": report.exit_code}],
            "results": results,
            "properties": {"stack": report.stack, "waivers": report.waiver_rows()},
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    icon = "✅" if report.passed else "❌"
    out = [
        f"### {icon} Rampart policy check — stack `{report.stack}`",
        "",
        f"**{len(report.mandatory)} mandatory** · {len(report.advisory)} advisory · "
        f"{len(report.waived)} waived — {report.resources} resources, {len(report.rules)} rules, "
        f"{report.seconds:.1f} s",
        "",
    ]

    def table(items: Sequence[Item]) -> list[str]:
        rows = ["| Rule | Resource | Finding | Where |", "|---|---|---|---|"]
        for i in items:
            w = i.outcome.waiver
            waived = f" (waiver `{_md(w.id)}`)" if w and i.outcome.status == "waived" else ""
            rows.append(f"| [`{i.rule.name}`]({i.rule.url}) | `{_md(i.resource)}` | "
                        f"{_md(i.outcome.message)}{waived} | `{_where(i)}` |")
        return rows

    if report.mandatory:
        out += ["#### Mandatory (blocks the merge)", "", *table(report.mandatory), ""]
        fixes = {i.rule.name: i.rule.remediation for i in report.mandatory}
        out += ["<details><summary>How to fix</summary>", ""]
        out += [f"- **{name}**: {_md(text)}" for name, text in fixes.items()]
        out += ["", "</details>", ""]
    if report.advisory:
        out += [f"<details><summary>Advisory ({len(report.advisory)})</summary>", "",
                *table(report.advisory), "", "</details>", ""]
    if report.waived:
        out += [f"<details><summary>Waived ({len(report.waived)})</summary>", "",
                *table(report.waived), "", "</details>", ""]
    rows = report.waiver_rows()
    out += ["#### Waivers", ""]
    if rows:
        out += ["| Waiver | Rule | Resource | Subject | Expires | Status | Reason |",
                "|---|---|---|---|---|---|---|"]
        for row in rows:
            status = row["status"] + ("" if row["matched"] else " (unused)")
            out.append(f"| `{_md(row['id'])}` | `{row['rule']}` | `{_md(row['resource'])}` | "
                       f"`{_md(row['subject'])}` | {row['expires']} | {status} | "
                       f"{_md('; '.join(row['problems']) or row['reason'])} |")
    else:
        out.append("None.")
    out.append("")
    return "\n".join(out)


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": to_text, "json": to_json, "sarif": to_sarif, "markdown": to_markdown,
}


def render(report: Report, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return RENDERERS[fmt](report)
