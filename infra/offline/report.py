"""`rampart policy check`: the policy pack, offline, against a stack's real program.

The stack's program runs under the recording engine (infra/offline/engine.py), the pack
judges the recording (infra/offline/evaluate.py), and each outcome becomes an `Item` located
at the file line that caused it (infra/offline/locate.py). Reporters
(infra/offline/reporters) turn the `Report` into text, JSON, SARIF 2.1.0 or Markdown; waivers,
active or expired, are listed in every format.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import stack as stack_config
from infra.offline.engine import Recording
from infra.offline.evaluate import evaluate, resources_of
from infra.offline.locate import Location, Locator
from infra.offline.render import record as record_stack
from infra.stack import Stack
from policies import registry
from policies.core import Level, Rule, service_name
from policies.meta.waivers import VALID_NAME
from policies.pack import Outcome
from policies.settings import StackSettings

# Rules whose findings are the waiver list itself; reports show waivers in their own section.
INFORMATIONAL = "informational"


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
                today: Any = None, record: Callable[[Stack], Recording] | None = None
                ) -> Report:
    """Render `stack` with the recording engine and evaluate the pack against it."""
    started = time.perf_counter()
    parsed = stack_config.load(stack, root, today=today)
    recording = (record or record_stack)(parsed)
    resources = resources_of(recording)
    outcomes = evaluate(resources, parsed.policy)
    locator = Locator(parsed)
    return build_report(
        outcomes, parsed.policy, locator=locator, resources=len(resources),
        seconds=time.perf_counter() - started, stack_file=parsed.source,
        catalog=locator.rel(parsed.catalog), recording=recording,
    )
