"""The report as data (`to_dict`, the documented JSON schema) and its JSON and Markdown forms.

Every form is made from the one redacted dictionary `to_dict` returns, so what the JSON
holds is exactly what the Markdown and HTML show, and a secret the evidence may carry is
redacted once for all of them. The dictionary holds nothing that changes between two runs on
the same evidence (no generation time, sorted keys and lists), so the JSON is byte-stable.

JSON schema "rampart-readiness-report", version 1 (docs/readiness.md, "Report schema"):

    {schema, version, stack, commit, catalog, max_age_days, verdict, score,
     counts: {proven, failed, "not run", stale},
     evidence: {files, records},
     categories: [{id, title, score, counts}],
     requirements: [{id, category, title, severity, figure, status, detail, manual,
                     checks: [{kind, ref, target, status, detail, counts, more_proven,
                               citations: [{check, kind, outcome, status, note, host, stack,
                                            commit, timestamp, run, file, artefact}]}]}],
     problems: [{file, where, message}],
     trend: [{run, timestamp, commit, score, verdict}]}
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from infra.readiness.evidence import Redactor
from infra.readiness.score import (
    CITE_PROVEN,
    FAILED,
    NOT_READY,
    NOT_RUN,
    PROVEN,
    READY,
    STALE,
    CheckResult,
    Result,
)

SCHEMA = "rampart-readiness-report"
VERSION = 1
FORMATS = ("html", "markdown", "json")
_ORDER = {FAILED: 0, STALE: 1, NOT_RUN: 2, PROVEN: 3}


def _citations(check: CheckResult) -> tuple[list[dict[str, Any]], int]:
    ordered = sorted(check.citations, key=lambda c: (_ORDER[c.status], c.record.check,
                                                     c.record.host or "", c.record.stack or ""))
    shown, more = [], 0
    proven = 0
    for citation in ordered:
        if citation.status == PROVEN:
            proven += 1
            if proven > CITE_PROVEN:
                more += 1
                continue
        r = citation.record
        shown.append({
            "check": r.check, "kind": r.kind, "outcome": r.outcome, "status": citation.status,
            "note": citation.note, "host": r.host, "stack": r.stack, "commit": r.commit,
            "timestamp": f"{r.timestamp:%Y-%m-%dT%H:%M:%SZ}", "run": r.run, "file": r.file,
            "artefact": r.artefact,
        })
    return shown, more


# Fields whose format the evidence reader validated (hex commit, run id, ISO time): a
# 40-digit commit looks random, and is no secret.
_VERBATIM = frozenset({"commit", "run", "timestamp"})


def _redact(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, list):
        return [_redact(v, redactor) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _VERBATIM and isinstance(v, str) else _redact(v, redactor)
                for k, v in value.items()}
    return value


def to_dict(result: Result, *, root: Path | None = None,
            redactor: Redactor | None = None) -> dict[str, Any]:
    catalog = result.catalog.path
    if root is not None:
        with contextlib.suppress(ValueError):  # a catalog outside the checkout stays absolute
            catalog = catalog.resolve().relative_to(root.resolve())
    requirements = []
    for rr in result.requirements:
        req = rr.requirement
        checks = []
        for check in rr.checks:
            citations, more = _citations(check)
            checks.append({
                "kind": check.check.kind, "ref": check.check.ref,
                "target": str(check.check.target) if check.check.target else None,
                "status": check.status, "detail": check.detail, "counts": check.counts,
                "citations": citations, "more_proven": more,
            })
        requirements.append({
            "id": req.id, "category": req.category, "title": req.title,
            "severity": req.severity, "figure": req.figure or None, "status": rr.status,
            "detail": rr.detail, "manual": [c.ref for c in req.manual], "checks": checks,
        })
    doc = {
        "schema": SCHEMA, "version": VERSION, "stack": result.stack, "commit": result.commit,
        "catalog": str(catalog), "max_age_days": result.max_age_days,
        "verdict": result.verdict, "score": result.score, "counts": result.counts,
        "evidence": {"files": result.evidence_files, "records": result.records},
        "categories": [{"id": c.id, "title": c.title, "score": c.score, "counts": c.counts}
                       for c in result.categories],
        "requirements": requirements,
        "problems": [{"file": p.file, "where": p.where, "message": p.message}
                     for p in result.problems],
        "trend": [{"run": t.run, "timestamp": t.timestamp, "commit": t.commit,
                   "score": t.score, "verdict": t.verdict} for t in result.trend],
    }
    return _redact(doc, redactor or Redactor.from_env())


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- Markdown ----------------------------------------------------------------------------------

_ICON = {PROVEN: "✅", FAILED: "❌", NOT_RUN: "⬜", STALE: "⏳"}
_VERDICT = {READY: "✅ READY", NOT_READY: "❌ NOT READY", "incomplete": "⚠️ INCOMPLETE"}


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (no pipes, no line breaks, no HTML)."""
    shown = str(text if text is not None else "").replace("\\", "\\\\").replace("|", "\\|")
    shown = shown.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(shown.split())


def cited(citation: dict[str, Any]) -> str:
    where = " ".join(x for x in (f"host {citation['host']}" if citation["host"] else "",
                                 f"stack {citation['stack']}" if citation["stack"] else "") if x)
    return (f"{citation['check']}{' (' + where + ')' if where else ''}: {citation['note']} "
            f"[{citation['file']}"
            + (f", {citation['artefact']}" if citation["artefact"] else "") + "]")


def render_markdown(doc: dict[str, Any]) -> str:
    """A pull-request comment / job summary: verdict, category table, what is not proven
    (each with its cited evidence), problems with the evidence; proven ones folded."""
    counts = doc["counts"]
    lines = [
        f"## Production readiness — stack `{_cell(doc['stack'])}`: "
        f"{_VERDICT.get(doc['verdict'], doc['verdict'])}, score {doc['score']:.1f} / 100",
        "",
        f"Commit `{doc['commit'][:12]}` · {counts[PROVEN]} proven · {counts[FAILED]} failed · "
        f"{counts[STALE]} stale · {counts[NOT_RUN]} not run · evidence: "
        f"{doc['evidence']['files']} files, {doc['evidence']['records']} records "
        f"(max age {doc['max_age_days']:g} days)",
        "",
    ]
    blockers = [r for r in doc["requirements"]
                if r["status"] == FAILED and r["severity"] == "blocker"]
    if blockers:
        lines += [f"**Failed blockers:** {', '.join(r['id'] for r in blockers)} — the verdict is "
                  "\"not ready\" whatever the score.", ""]
    lines += ["| category | score | ✅ proven | ❌ failed | ⏳ stale | ⬜ not run |",
              "|---|---:|---:|---:|---:|---:|"]
    for c in doc["categories"]:
        k = c["counts"]
        lines.append(f"| {_cell(c['title'])} | {c['score']:.1f} | {k[PROVEN]} | {k[FAILED]} | "
                     f"{k[STALE]} | {k[NOT_RUN]} |")
    lines.append("")
    open_items = [r for r in doc["requirements"] if r["status"] != PROVEN]
    order = {FAILED: 0, STALE: 1, NOT_RUN: 2}
    severity = {"blocker": 0, "major": 1, "minor": 2}
    if open_items:
        lines += ["### Not proven", "", "| | id | severity | requirement | evidence |",
                  "|---|---|---|---|---|"]
        for r in sorted(open_items, key=lambda r: (order[r["status"]], severity[r["severity"]],
                                                    r["id"])):
            lines.append(f"| {_ICON[r['status']]} {r['status']} | {r['id']} | {r['severity']} | "
                         f"{_cell(r['title'])} | {_cell(_evidence_line(r))} |")
        lines.append("")
    if doc["problems"]:
        lines += [f"### Evidence not counted ({len(doc['problems'])})", ""]
        lines += [f"- `{_cell(p['file'])}`{' ' + _cell(p['where']) if p['where'] else ''}: "
                  f"{_cell(p['message'])}" for p in doc["problems"][:50]]
        if len(doc["problems"]) > 50:
            lines.append(f"- … and {len(doc['problems']) - 50} more (see the JSON report)")
        lines.append("")
    proven = [r for r in doc["requirements"] if r["status"] == PROVEN]
    if proven:
        lines += ["<details><summary>Proven requirements "
                  f"({len(proven)})</summary>", "", "| id | requirement | evidence |",
                  "|---|---|---|"]
        lines += [f"| {r['id']} | {_cell(r['title'])} | {_cell(_evidence_line(r))} |"
                  for r in proven]
        lines += ["", "</details>", ""]
    if len(doc["trend"]) > 1:
        shown = " → ".join(f"{t['score']:.0f}" for t in doc["trend"][-10:])
        lines += [f"Score over the last {min(10, len(doc['trend']))} evidence runs: {shown}", ""]
    return "\n".join(lines)


def _evidence_line(req: dict[str, Any]) -> str:
    """Each check that is not proven with its worst citation; proven ones by name only."""
    if not req["checks"]:
        return "manual: " + "; ".join(req["manual"])
    parts, proven = [], []
    for check in req["checks"]:
        label = f"{check['ref']}" + (f" ({check['target']})" if check["target"] else "")
        if check["status"] == PROVEN:
            proven.append(label)
        elif not check["citations"]:
            parts.append(f"{_ICON[check['status']]} {label}: no evidence")
        else:
            extra = sum(check["counts"].values()) - 1
            parts.append(f"{_ICON[check['status']]} " + cited(check["citations"][0])
                         + (f" (+{extra} more)" if extra > 0 else ""))
    if proven:
        parts.append("✅ " + ", ".join(proven))
    return "; ".join(parts)
