"""Helpers every report format shares."""

from __future__ import annotations

from infra.offline.report import Item


def where(item: Item) -> str:
    """`file:line:column`, as editors and CI annotations read it."""
    loc = item.location
    return f"{loc.file}:{loc.line}:{loc.column}"
