"""Scoring the catalog against the evidence: per requirement proven / failed / not run /
stale, per category and overall a score computed only from evidence, and the verdict.

Rules (docs/readiness.md, "Scoring"):
- A check is matched by records (pytest node id or prefix, or an adapter's check id, or a
  record naming the requirement itself through `@pytest.mark.requirement`). Of the records
  of one check on one host and stack, the newest counts.
- That record is *stale* when it is older than --max-age or was made at another commit than
  the checked-out one (or outside a git checkout); *failed* when it failed (or errored), or
  when its measured value misses the catalog's target (the owners' figure); *not run* when
  it was skipped or lacks the measurement the target needs; else *proven*.
- A check is its worst record (failed > not run > stale > proven), with no record at all
  being "not run"; a requirement is its worst check. A requirement with only `manual:`
  checks is "not run" unless a record names it (an attestation).
- Scores weigh requirements by severity (blocker 3, major 2, minor 1): 100 x proven weight /
  total weight, per category and overall. Stale and not run count as not proven.
- Verdict: "not ready" when a blocker failed (whatever the score); "ready" when every
  blocker and major requirement is proven and nothing failed; else "incomplete".
- Records naming an unknown requirement are problems and never count.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from infra.readiness.catalog import Catalog, Check, Requirement
from infra.readiness.evidence import Problem, Record

PROVEN, FAILED, NOT_RUN, STALE = "proven", "failed", "not run", "stale"
STATUSES = (PROVEN, FAILED, NOT_RUN, STALE)
_RANK = {PROVEN: 0, STALE: 1, NOT_RUN: 2, FAILED: 3}
READY, INCOMPLETE, NOT_READY = "ready", "incomplete", "not ready"
MARKER = Check("marker", "records naming the requirement (@pytest.mark.requirement)")
# Proven records cited per check (all failed / stale / not run ones are cited).
CITE_PROVEN = 10
TREND_RUNS = 30
FUTURE_SLACK = dt.timedelta(minutes=5)


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=NOT_RUN)


@dataclass(frozen=True)
class Citation:
    record: Record
    status: str
    note: str  # why stale / failed / not run, or the measured value vs target


@dataclass
class CheckResult:
    check: Check
    status: str
    detail: str
    citations: list[Citation]
    counts: dict[str, int]


@dataclass
class RequirementResult:
    requirement: Requirement
    status: str
    checks: list[CheckResult]
    detail: str


@dataclass
class CategoryResult:
    id: str
    title: str
    counts: dict[str, int]
    score: float


@dataclass(frozen=True)
class TrendPoint:
    run: str
    timestamp: str
    commit: str
    score: float
    verdict: str


@dataclass
class Result:
    catalog: Catalog
    stack: str
    commit: str
    max_age_days: float
    requirements: list[RequirementResult]
    categories: list[CategoryResult]
    score: float
    verdict: str
    counts: dict[str, int]
    problems: list[Problem]
    trend: list[TrendPoint] = field(default_factory=list)
    evidence_files: int = 0
    records: int = 0

    @property
    def failed_blockers(self) -> list[RequirementResult]:
        return [r for r in self.requirements
                if r.status == FAILED and r.requirement.severity == "blocker"]


# --- Linking records to checks -----------------------------------------------------------------


def _prefixes(node_id: str) -> list[str]:
    """Every catalog reference that can name this node id: itself, without its parameters,
    each `::` parent, the file, and each directory (with a trailing `/`)."""
    out = [node_id]
    base = node_id.split("[", 1)[0]
    out.append(base)
    parts = base.split("::")
    for n in range(len(parts) - 1, 0, -1):
        out.append("::".join(parts[:n]))
    path = parts[0].split("/")
    for n in range(len(path) - 1, 0, -1):
        out.append("/".join(path[:n]) + "/")
    return out


@dataclass
class Links:
    """For each requirement, its checks and the valid records matching each."""

    by_check: dict[tuple[str, int], list[Record]]
    marker: dict[str, list[Record]]
    problems: list[Problem]


def link(catalog: Catalog, records: Sequence[Record], stack: str) -> Links:
    known = catalog.ids()
    problems: list[Problem] = []
    pytest_refs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    evidence_refs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for req in catalog.requirements:
        for index, check in enumerate(req.checks):
            if check.kind == "pytest":
                pytest_refs[check.ref].append((req.id, index))
            elif check.kind == "evidence":
                evidence_refs[check.ref].append((req.id, index))
    by_check: dict[tuple[str, int], list[Record]] = defaultdict(list)
    marker: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record.stack is not None and record.stack != stack:
            continue  # evidence about another stack says nothing about this one
        unknown = sorted(set(record.requirements) - known)
        if unknown:
            problems.append(Problem(record.file, record.check,
                                    f"names unknown requirement(s) {', '.join(unknown)}; "
                                    "not counted"))
            continue
        if record.kind == "pytest":
            hits = {key for ref in _prefixes(record.check) for key in pytest_refs.get(ref, ())}
        else:
            hits = set(evidence_refs.get(record.check, ()))
        for key in hits:
            by_check[key].append(record)
        for rid in record.requirements:
            marker[rid].append(record)
    return Links(dict(by_check), dict(marker), problems)


# --- Judging -----------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _measured(record: Record) -> str:
    return "; ".join(f"{m.name} = {_fmt(m.value)}{m.unit and ' ' + m.unit}"
                     + (f" (target {m.target})" if m.target else "")
                     for m in record.measurements)


_PAST = {"failed": "failed", "error": "errored", "skipped": "was skipped"}


def _then(record: Record) -> str:
    """What a stale record said, when it was not a pass."""
    return f"; it {_PAST[record.outcome]} then" if record.outcome in _PAST else ""


def judge_record(record: Record, check: Check, now: dt.datetime, head: str,
                 max_age: dt.timedelta, describe: Callable[[str, str], str]) -> Citation:
    age = now - record.timestamp
    if age > max_age:
        days = age.total_seconds() / 86400
        note = (f"recorded {record.timestamp:%Y-%m-%d %H:%M}Z, {days:.0f} day(s) old, older "
                f"than --max-age {max_age.total_seconds() / 86400:g}")
        return Citation(record, STALE, note + _then(record))
    # Outside a checkout nothing says which code the evidence is about: never current.
    if record.commit != head or record.commit == "unknown":
        return Citation(record, STALE, "another commit: " + describe(record.commit, head)
                        + _then(record))
    if record.outcome == "skipped":
        return Citation(record, NOT_RUN, "skipped" + (f": {record.message}"
                                                      if record.message else ""))
    if record.outcome in ("failed", "error"):
        measured = _measured(record)
        return Citation(record, FAILED, (record.message or record.outcome)
                        + (f" [{measured}]" if measured else ""))
    target = check.target
    if target is not None:
        measured_value = record.measurement(target.measure)
        if measured_value is None:
            return Citation(record, NOT_RUN, f"passed, but measured no {target.measure} "
                                             f"(target {target})")
        shown = (f"{target.measure} = {_fmt(measured_value.value)}"
                 f"{measured_value.unit and ' ' + measured_value.unit} (target {target})")
        if not target.met_by(measured_value.value):
            return Citation(record, FAILED, f"misses the owners' figure: {shown}")
        return Citation(record, PROVEN, shown)
    return Citation(record, PROVEN, _measured(record) or record.outcome)


def judge_check(check: Check, records: Sequence[Record], now: dt.datetime, head: str,
                max_age: dt.timedelta, describe: Callable[[str, str], str],
                cutoff: dt.datetime | None = None) -> CheckResult:
    latest: dict[tuple[str, str, str], Record] = {}
    for record in records:
        if cutoff is not None and record.timestamp > cutoff:
            continue  # the trend judges the past: later records did not exist yet
        held = latest.get(record.key)
        if held is None or (record.timestamp, record.file) > (held.timestamp, held.file):
            latest[record.key] = record
    if not latest:
        return CheckResult(check, NOT_RUN, "no evidence", [], {s: 0 for s in STATUSES})
    citations = [judge_record(r, check, now, head, max_age, describe)
                 for _, r in sorted(latest.items())]
    counts = {s: sum(c.status == s for c in citations) for s in STATUSES}
    status = worst(c.status for c in citations)
    shown = ", ".join(f"{counts[s]} {s}" for s in (PROVEN, FAILED, STALE, NOT_RUN) if counts[s])
    return CheckResult(check, status, shown, citations, counts)


def _requirement(req: Requirement, links: Links, now: dt.datetime, head: str,
                 max_age: dt.timedelta, describe: Callable[[str, str], str],
                 cutoff: dt.datetime | None) -> RequirementResult:
    checks = [judge_check(check, links.by_check.get((req.id, index), ()), now, head, max_age,
                          describe, cutoff)
              for index, check in enumerate(req.checks) if check.kind != "manual"]
    if req.id in links.marker:
        checks.append(judge_check(MARKER, links.marker[req.id], now, head, max_age, describe,
                                  cutoff))
    if not checks:
        reasons = "; ".join(c.ref for c in req.manual)
        return RequirementResult(req, NOT_RUN, [], f"manual: {reasons}")
    status = worst(c.status for c in checks)
    detail = "; ".join(f"{c.check.kind} {c.check.ref}: {c.status}" for c in checks
                       if c.status == status)
    return RequirementResult(req, status, checks, detail)


def _score(results: Iterable[RequirementResult]) -> float:
    results = list(results)
    total = sum(r.requirement.weight for r in results)
    proven = sum(r.requirement.weight for r in results if r.status == PROVEN)
    return round(100.0 * proven / total, 1) if total else 0.0


def _verdict(results: Sequence[RequirementResult]) -> str:
    if any(r.status == FAILED and r.requirement.severity == "blocker" for r in results):
        return NOT_READY
    if all(r.status == PROVEN for r in results if r.requirement.severity != "minor") and not any(
            r.status == FAILED for r in results):
        return READY
    return INCOMPLETE


def _judge_all(catalog: Catalog, links: Links, now: dt.datetime, head: str,
               max_age: dt.timedelta, describe: Callable[[str, str], str],
               cutoff: dt.datetime | None = None) -> list[RequirementResult]:
    return [_requirement(req, links, now, head, max_age, describe, cutoff)
            for req in catalog.requirements]


def evaluate(catalog: Catalog, records: Sequence[Record], problems: Sequence[Problem], *,
             stack: str, head: str, now: dt.datetime, max_age_days: float,
             describe: Callable[[str, str], str], evidence_files: int = 0,
             trend_runs: int = TREND_RUNS) -> Result:
    max_age = dt.timedelta(days=max_age_days)
    # A record from the future (a wrong clock, or a hand-made record) proves nothing.
    future = [r for r in records if r.timestamp > now + FUTURE_SLACK]
    records = [r for r in records if r.timestamp <= now + FUTURE_SLACK]
    problems = [*problems, *(Problem(r.file, r.check, f"timestamp {r.timestamp:%Y-%m-%dT%H:%M:%SZ}"
                                                      " is in the future; not counted")
                             for r in future)]
    links = link(catalog, records, stack)
    results = _judge_all(catalog, links, now, head, max_age, describe)
    categories = []
    for category in catalog.categories:
        members = [r for r in results if r.requirement.category == category.id]
        categories.append(CategoryResult(
            category.id, category.title,
            {s: sum(r.status == s for r in members) for s in STATUSES}, _score(members)))
    # The trend: the score as a report made right after each run would have given it (the
    # evidence up to that run, judged against that run's commit and time).
    runs: dict[str, tuple[dt.datetime, str]] = {}
    for record in records:
        if record.stack is not None and record.stack != stack:
            continue
        held = runs.get(record.run)
        if held is None or record.timestamp > held[0]:
            runs[record.run] = (record.timestamp, record.commit)
    trend = []
    for run, (moment, commit) in sorted(runs.items(), key=lambda i: (i[1][0], i[0]))[
            -trend_runs:]:
        past = _judge_all(catalog, links, moment, commit, max_age, describe, cutoff=moment)
        trend.append(TrendPoint(run, f"{moment:%Y-%m-%dT%H:%M:%SZ}", commit, _score(past),
                                _verdict(past)))
    return Result(
        catalog=catalog, stack=stack, commit=head, max_age_days=max_age_days,
        requirements=results, categories=categories, score=_score(results),
        verdict=_verdict(results),
        counts={s: sum(r.status == s for r in results) for s in STATUSES},
        problems=sorted([*problems, *links.problems],
                        key=lambda p: (p.file, p.where, p.message)),
        trend=trend, evidence_files=evidence_files, records=len(records))
