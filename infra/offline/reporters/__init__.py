"""Report formats of `rampart policy check`, one module each: text, json, sarif, markdown.

May import: infra.offline.report (the `Report`) and the pack's rule metadata (policies).
"""

from __future__ import annotations

from collections.abc import Callable

from infra.offline.report import Report
from infra.offline.reporters import json, markdown, sarif, text

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": text.render, "json": json.render, "sarif": sarif.render,
    "markdown": markdown.render,
}
FORMATS = tuple(RENDERERS)


def render(report: Report, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return RENDERERS[fmt](report)
