"""Markdown report: a pull-request comment (mandatory findings with their fixes, advisory,
waived and the waiver table folded)."""

from __future__ import annotations

from collections.abc import Sequence

from infra.offline.report import Item, Report
from infra.offline.reporters.common import where


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
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
                        f"{_md(i.outcome.message)}{waived} | `{where(i)}` |")
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
