"""The readiness report as one self-contained HTML file: inline CSS and SVG, no script, no
font, no image, and a Content-Security-Policy of `default-src 'none'` so that a browser
fetches nothing even if something slipped in. Links to the cited artefacts are relative to
the report's own location (open the report beside its evidence directory, or publish both
as one CI artefact).

Sections: the verdict and score; a bar per category (proven / failed / stale / not run);
the score over the evidence runs kept; per category a table of its requirements with the
evidence each cites; the evidence that was not counted and why.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

from infra.readiness.reports import cited
from infra.readiness.score import FAILED, NOT_RUN, PROVEN, STALE

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")
COLOURS = {PROVEN: "#1a7f37", FAILED: "#cf222e", STALE: "#bf8700", NOT_RUN: "#8c959f"}
_VERDICT_COLOUR = {"ready": "#1a7f37", "not ready": "#cf222e", "incomplete": "#bf8700"}
_STATUS_ORDER = (PROVEN, FAILED, STALE, NOT_RUN)

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:24px}
header.overview{display:flex;gap:24px;align-items:center;background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:20px;margin-bottom:20px}
#verdict{font-size:28px;font-weight:700;color:#fff;padding:12px 20px;border-radius:8px;
white-space:nowrap;text-transform:uppercase;letter-spacing:.03em}
.score{font-size:40px;font-weight:700;white-space:nowrap}
.score .meta{font-size:16px}
summary{cursor:pointer;color:#57606a}
.meta{color:#57606a}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;
margin-bottom:20px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 12px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.category{border:1px solid #d0d7de;border-radius:6px;padding:10px}
.category h3{font-size:14px;margin:0 0 6px;display:flex;justify-content:space-between}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%;margin-bottom:12px}
th,td{border-top:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.pill{display:inline-block;color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;
white-space:nowrap}
td.evidence{font-size:12.5px;word-break:break-word}
td.evidence ul{margin:0;padding-left:16px}
.sev-blocker{font-weight:700}
code{font-size:12.5px}
"""


def _pill(status: str) -> str:
    return f'<span class="pill" style="background:{COLOURS[status]}">{escape(status)}</span>'


def _bar(counts: dict[str, int], width: int = 250, height: int = 18) -> str:
    total = sum(counts.values()) or 1
    x = 0.0
    parts = []
    for status in _STATUS_ORDER:
        n = counts.get(status, 0)
        if not n:
            continue
        w = width * n / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
                     f'fill="{COLOURS[status]}"><title>{n} {escape(status)}</title></rect>')
        x += w
    return (f'<svg class="bar" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-label="'
            + escape(", ".join(f"{counts.get(s, 0)} {s}" for s in _STATUS_ORDER)) + '">'
            + f'<rect width="{width}" height="{height}" fill="#eaeef2"/>' + "".join(parts)
            + "</svg>")


def _trend(points: list[dict[str, Any]], width: int = 720, height: int = 180) -> str:
    if not points:
        return '<p class="meta">No evidence run yet.</p>'
    left, right, top, bottom = 40, 10, 10, 30
    inner_w, inner_h = width - left - right, height - top - bottom

    def xy(index: int, score: float) -> tuple[float, float]:
        x = left + (inner_w * index / (len(points) - 1) if len(points) > 1 else inner_w / 2)
        return x, top + inner_h * (1 - score / 100)

    grid = "".join(
        f'<line x1="{left}" x2="{width - right}" y1="{top + inner_h * (1 - v / 100):.1f}" '
        f'y2="{top + inner_h * (1 - v / 100):.1f}" stroke="#d8dee4"/>'
        f'<text x="{left - 6}" y="{top + inner_h * (1 - v / 100) + 4:.1f}" font-size="11" '
        f'text-anchor="end" fill="#57606a">{v}</text>' for v in (0, 25, 50, 75, 100))
    coords = [xy(i, p["score"]) for i, p in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" '
        f'fill="{_VERDICT_COLOUR.get(p["verdict"], "#57606a")}">'
        f'<title>{escape(p["timestamp"])} · run {escape(p["run"])} · commit '
        f'{escape(p["commit"][:10])} · score {p["score"]:.1f} · {escape(p["verdict"])}</title>'
        "</circle>" for (x, y), p in zip(coords, points, strict=True))
    labels = ""
    for index in sorted({0, len(points) - 1}):
        x, _ = coords[index]
        anchor = "start" if index == 0 else "end"
        labels += (f'<text x="{x:.1f}" y="{height - 8}" font-size="11" text-anchor="{anchor}" '
                   f'fill="#57606a">{escape(points[index]["timestamp"][:10])}</text>')
    return (f'<svg id="trend" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-label="score over {len(points)} evidence runs">'
            + grid + f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>'
            + dots + labels + "</svg>")


def _href(path: str, evidence_dir: Path, out: Path) -> str:
    target = evidence_dir / path
    return escape(Path(os.path.relpath(target.resolve(), out.parent.resolve())).as_posix(),
                  quote=True)


def _evidence_cell(req: dict[str, Any], evidence_dir: Path, out: Path) -> str:
    if not req["checks"]:
        return "manual: " + escape("; ".join(req["manual"]))
    items = []
    for check in req["checks"]:
        head = (f"<b>{escape(check['kind'])}</b> <code>{escape(check['ref'])}</code>"
                + (f" — target <code>{escape(check['target'])}</code>" if check["target"] else "")
                + f" — {_pill(check['status'])} {escape(check['detail'])}")
        cites = []
        for c in check["citations"]:
            links = f'<a href="{_href(c["file"], evidence_dir, out)}">evidence</a>'
            if c["artefact"]:
                links += f' · <a href="{_href(c["artefact"], evidence_dir, out)}">artefact</a>'
            cites.append(f"<li>{_pill(c['status'])} {escape(cited(c))} ({links})</li>")
        if check["more_proven"]:
            cites.append(f"<li>… and {check['more_proven']} more proven</li>")
        # Citations fold away (no script: <details>); open when the check is not proven.
        folded = (f"<details{' open' if check['status'] != PROVEN else ''}><summary>"
                  f"{len(check['citations']) + check['more_proven']} record(s)</summary>"
                  f"<ul>{''.join(cites)}</ul></details>") if cites else ""
        items.append(f"<li>{head}{folded}</li>")
    if req["manual"]:
        items.append("<li>manual: " + escape("; ".join(req["manual"])) + "</li>")
    return f"<ul>{''.join(items)}</ul>"


def render_html(doc: dict[str, Any], *, evidence_dir: Path, out: Path) -> str:
    verdict = doc["verdict"]
    counts = doc["counts"]
    charts = "".join(
        f'<div class="category" id="category-{escape(c["id"])}" data-category="{escape(c["id"])}">'
        f'<h3><span>{escape(c["title"])}</span><span>{c["score"]:.0f}</span></h3>'
        f'{_bar(c["counts"])}<div class="meta">'
        + " · ".join(f"{c['counts'][s]} {s}" for s in _STATUS_ORDER) + "</div></div>"
        for c in doc["categories"])
    legend = "".join(f'<span><i style="background:{COLOURS[s]}"></i>{escape(s)}</span>'
                     for s in _STATUS_ORDER)
    tables = []
    for category in doc["categories"]:
        rows = "".join(
            f'<tr id="{escape(r["id"])}" data-status="{escape(r["status"])}">'
            f'<td>{_pill(r["status"])}</td><td><code>{escape(r["id"])}</code></td>'
            f'<td class="sev-{escape(r["severity"])}">{escape(r["severity"])}</td>'
            f'<td>{escape(r["title"])}</td><td>{escape(r["figure"] or "—")}</td>'
            f'<td class="evidence">{_evidence_cell(r, evidence_dir, out)}</td></tr>'
            for r in doc["requirements"] if r["category"] == category["id"])
        tables.append(
            f'<h2 id="requirements-{escape(category["id"])}">{escape(category["title"])} — '
            f'{category["score"]:.1f}</h2><table><thead><tr><th>status</th><th>id</th>'
            "<th>severity</th><th>requirement</th><th>owners' figure</th><th>evidence</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")
    problems = ""
    if doc["problems"]:
        listed = "".join(f"<li><code>{escape(p['file'])}</code>"
                         f"{' ' + escape(p['where']) if p['where'] else ''}: "
                         f"{escape(p['message'])}</li>" for p in doc["problems"])
        problems = ('<section id="problems"><h2>Evidence not counted '
                    f'({len(doc["problems"])})</h2><ul>{listed}</ul></section>')
    blockers = [r["id"] for r in doc["requirements"]
                if r["status"] == FAILED and r["severity"] == "blocker"]
    blocker_line = (f'<p id="failed-blockers"><b>Failed blockers:</b> {escape(", ".join(blockers))}'
                    " — the verdict is “not ready” whatever the score.</p>" if blockers else "")
    colour = _VERDICT_COLOUR.get(verdict, "#57606a")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Production readiness — {escape(doc["stack"])}: {escape(verdict)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<header class="overview">
<div id="verdict" style="background:{colour}">{escape(verdict)}</div>
<div><div class="score" id="score">{doc["score"]:.1f}<span class="meta"> / 100</span></div></div>
<div><h1>Production readiness of stack <code>{escape(doc["stack"])}</code></h1>
<div class="meta">commit <code>{escape(doc["commit"][:12])}</code> · {counts[PROVEN]} proven ·
{counts[FAILED]} failed · {counts[STALE]} stale · {counts[NOT_RUN]} not run · evidence:
{doc["evidence"]["files"]} files, {doc["evidence"]["records"]} records · max age
{doc["max_age_days"]:g} days · catalog <code>{escape(doc["catalog"])}</code></div>
{blocker_line}</div>
</header>
<section id="categories"><h2>Categories</h2><div class="legend">{legend}</div>
<div class="charts">{charts}</div></section>
<section id="trend-section"><h2>Score over the evidence runs kept ({len(doc["trend"])})</h2>
{_trend(doc["trend"])}</section>
{problems}
<section id="requirements">{"".join(tables)}</section>
</main>
</body>
</html>
"""
