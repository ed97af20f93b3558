"""`rampart observability build`: writes everything, deterministically, and refuses an
impossible threshold with one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.observability import app

pytestmark = pytest.mark.unit


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_build_from_a_stack_is_deterministic(tmp_path: Path) -> None:
    runner = CliRunner()
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = runner.invoke(app, ["build", "--stack", "dev", "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert _tree(first) == _tree(second)
    assert "prometheus/prometheus.yml" in _tree(first)
    assert "15 alerts" in result.output


def test_build_removes_stale_generated_files_only(tmp_path: Path) -> None:
    stale = tmp_path / "prometheus" / "rules" / "old.rules.yml"
    stale.parent.mkdir(parents=True)
    stale.write_text("groups: []\n")
    mine = tmp_path / "notes.txt"
    mine.write_text("keep me")
    result = CliRunner().invoke(app, ["build", "--stack", "dev", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert not stale.exists(), "a rule file the code no longer generates was left behind"
    assert mine.read_text() == "keep me"


def test_build_from_a_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "rampart:alerts:\n  errorRatioCritical: 0.02\n"
        "rampart:observability:\n  nodeTargets: ['db1:9100']\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "--settings", str(settings), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "> 0.02" in (out / "prometheus/rules/services.rules.yml").read_text()
    assert "db1:9100" in (out / "prometheus/prometheus.yml").read_text()


def test_impossible_threshold_exits_2_naming_the_key(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("alerts:\n  diskCritical: 1.2\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "--settings", str(settings), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{settings}: field 'rampart:alerts.diskCritical': ratio must be between 0 and 1" in (
        result.output
    )
    assert not out.exists(), "nothing may be written when the settings are invalid"


def test_stack_and_settings_are_exclusive(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 2
