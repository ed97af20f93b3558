"""Every alert has a runbook page and every page has an alert (or is listed as a
non-alert procedure); every page has the five sections an on-call engineer expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.model import DEFAULT_CATALOG, build_platform
from infra.observability import alert_names, load_settings, rule_files
from infra.observability.runbooks import (
    NON_ALERT_RUNBOOKS,
    RUNBOOK_DIR,
    coverage,
    missing_sections,
    runbook_pages,
)

pytestmark = pytest.mark.unit

ALERTS = set(alert_names(rule_files(build_platform(DEFAULT_CATALOG), load_settings())))
PAGES = sorted(runbook_pages())


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_alert_has_a_runbook(alert: str) -> None:
    assert (RUNBOOK_DIR / f"{alert}.md").is_file(), f"runbooks/{alert}.md is missing"


@pytest.mark.parametrize("page", PAGES)
def test_runbook_has_an_alert(page: str) -> None:
    assert page in ALERTS or page in NON_ALERT_RUNBOOKS, (
        f"runbooks/{page}.md matches no alert; rename it or list it in NON_ALERT_RUNBOOKS"
    )


@pytest.mark.parametrize("alert", sorted(ALERTS & set(PAGES)))
def test_runbook_has_every_section(alert: str) -> None:
    text = (RUNBOOK_DIR / f"{alert}.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {alert}\n"), f"runbooks/{alert}.md must open with '# {alert}'"
    assert missing_sections(text) == [], f"runbooks/{alert}.md: {missing_sections(text)}"
    assert "```" in text, f"runbooks/{alert}.md has no diagnosis commands"


def test_coverage_reports_missing_and_orphaned_pages(tmp_path: Path) -> None:
    (tmp_path / "TargetDown.md").write_text("# TargetDown\n")
    (tmp_path / "TargetDwon.md").write_text("# typo\n")
    (tmp_path / "DatabaseLost.md").write_text("# DR\n")
    missing, orphans = coverage({"TargetDown", "BackupFailed"}, tmp_path)
    assert (missing, orphans) == (["BackupFailed"], ["TargetDwon"])


def test_sections_checker_catches_a_missing_and_a_misordered_section() -> None:
    assert missing_sections("## What fired\n## Impact\n## Mitigation\n## Escalation\n") == [
        "First diagnosis"
    ]
    assert missing_sections(
        "## Impact\n## What fired\n## First diagnosis\n## Mitigation\n## Escalation\n"
    )[0].startswith("(order)")
