"""Plain-text report: one line per finding, then the waivers and the verdict."""

from __future__ import annotations

from infra.offline.report import Report
from infra.offline.reporters.common import where


def render(report: Report) -> str:
    out = [f"rampart policy check: stack {report.stack} - {report.resources} resources, "
           f"{len(report.rules)} rules, {report.seconds:.2f} s"]
    for item in report.violations:
        out.append(f"{item.level.upper():9} {item.rule.name}  {item.resource}: "
                   f"{item.outcome.message}  [{where(item)}]")
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
