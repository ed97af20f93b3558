"""Runbook coverage: every alert has runbooks/<AlertName>.md, every page has an alert.

Pages that document procedures rather than alerts are listed here explicitly, so a
misspelled or orphaned page cannot hide behind a pattern.
"""

from __future__ import annotations

from pathlib import Path

# Pages under runbooks/ that no alert links to, on purpose.
NON_ALERT_RUNBOOKS = frozenset(
    {
        "README",  # how the runbooks are organised
        "DatabaseLost",  # disaster recovery procedure (restore from backup), no alert
    }
)
# Sections every alert page has, in this order (DESIGN: what fired, impact, first
# diagnosis commands, mitigation, escalation).
SECTIONS = ("What fired", "Impact", "First diagnosis", "Mitigation", "Escalation")
RUNBOOK_DIR = Path(__file__).resolve().parents[2] / "runbooks"


def runbook_pages(directory: Path = RUNBOOK_DIR) -> set[str]:
    return {p.stem for p in directory.glob("*.md")}


def coverage(alerts: set[str], directory: Path = RUNBOOK_DIR) -> tuple[list[str], list[str]]:
    """(alerts without a page, pages without an alert and not listed as non-alert pages)."""
    pages = runbook_pages(directory)
    missing = sorted(alerts - pages)
    orphans = sorted(pages - alerts - NON_ALERT_RUNBOOKS)
    return missing, orphans


def missing_sections(text: str) -> list[str]:
    """Sections absent from a page, or present out of order."""
    headings = [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]
    found = [h for h in headings if h in SECTIONS]
    missing = [s for s in SECTIONS if s not in found]
    if not missing and found != list(SECTIONS):
        return ["(order) " + " > ".join(found)]
    return missing
