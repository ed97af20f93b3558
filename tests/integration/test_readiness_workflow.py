"""What .github/workflows/readiness.yml publishes, and what its evidence leaves out.

tests/integration/test_workflows.py executes the workflow's job: its upload-artifact check
fails the job when a `path:` of the artifact names no file. These tests make that mean
something: the artifact lists the reports and the evidence directory; CI leaves out of the
cited tests only the lab tiers and the ones scripts/readiness_ci.py names with a reason; and
the upload check itself tells a missing file from a present one.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.readiness import catalog as catalogs

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "readiness.yml"
SCRIPT = ROOT / "scripts" / "readiness_ci.py"
REPORTS = ("out/readiness.html", "out/readiness.md", "out/readiness.json")
EVIDENCE_DIR = "out/evidence/"


def _module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


readiness_ci = _module("readiness_ci", SCRIPT)
workflows = _module("workflows_executor", Path(__file__).with_name("test_workflows.py"))


def _steps() -> list[dict[str, Any]]:
    doc = workflows.load_workflow(WORKFLOW.read_text(encoding="utf-8"))
    return list(doc["jobs"]["readiness"]["steps"])


def _cited_refs() -> list[str]:
    cat = catalogs.load()
    return sorted({c.ref for r in cat.requirements for c in r.checks if c.kind == "pytest"})


@pytest.mark.unit
def test_the_artifact_holds_the_reports_and_the_evidence_whatever_happened() -> None:
    steps = _steps()
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    paths = [line.strip() for line in upload["with"]["path"].splitlines() if line.strip()]
    missing = [p for p in (*REPORTS, EVIDENCE_DIR) if p not in paths]
    assert not missing, f"{WORKFLOW.name}: the artifact does not list {', '.join(missing)}"
    # error: the executed job fails when one of them was not written (test_workflows' hook).
    assert upload["with"].get("if-no-files-found") == "error"
    assert str(upload.get("if", "")).startswith("always()"), \
        "the report must be published when a check failed too"
    verdict = steps[-1]
    assert verdict.get("name") == "Verdict" and "steps.report.outputs.exit" in \
        str(verdict.get("env")), "the Verdict (reading the report step's exit) must come last"
    assert steps.index(upload) < len(steps) - 1


@pytest.mark.unit
@pytest.mark.parametrize("entry", readiness_ci.NEEDS_MORE, ids=lambda e: e[0])
def test_every_left_out_test_is_still_cited(entry: tuple[str, str | None, str]) -> None:
    """An excuse outlives its test only as a failure here."""
    prefix = entry[0]
    assert any(ref == prefix or ref.startswith(prefix) or prefix.startswith(ref)
               for ref in _cited_refs()), \
        f"scripts/readiness_ci.py leaves out {prefix}, which the catalog no longer cites"


@pytest.mark.integration
def test_ci_runs_every_cited_test_but_the_lab_and_the_named_exceptions() -> None:
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    nodes = [line for line in listed.stdout.splitlines() if line.startswith("tests/")]
    assert nodes, listed.stdout[-2000:]
    lab = [n for n in nodes if n.startswith(readiness_ci.LAB_DIRS)]
    assert not lab, f"lab tests in the CI selection: {lab[:5]}"
    recursive = [n for n in nodes if n.startswith("tests/integration/test_workflows.py::test_job")]
    assert not recursive, "the CI selection runs the workflows (itself) again"
    assert any(n.startswith("tests/integration/test_workflows.py::test_workflow_matches")
               for n in nodes), "the workflows' static checks (unit) are cited and must run"
    checks = [catalogs.Check("pytest", ref) for ref in _cited_refs()]
    uncited = [n for n in nodes if not any(c.matches(n, "pytest") for c in checks)]
    assert not uncited, f"not cited by the catalog, yet selected: {uncited[:5]}"
    excused = [prefix for prefix, _, _ in readiness_ci.NEEDS_MORE]
    dropped = [ref for ref in _cited_refs()
               if not ref.startswith(readiness_ci.LAB_DIRS)
               and not any(ref == p or ref.startswith(p) for p in excused)
               and not any(catalogs.Check("pytest", ref).matches(n, "pytest") for n in nodes)]
    assert not dropped, f"cited, lab-free, not excused, yet CI runs none of: {dropped}"
    for _, _, why in readiness_ci.NEEDS_MORE:
        assert why in listed.stdout, f"the listing does not say what it leaves out: {why}"


@pytest.fixture
def run(tmp_path: Path) -> Any:
    workspace = tmp_path / "workspace"
    (workspace / "out" / "evidence" / "artefacts").mkdir(parents=True)
    (workspace / "out" / "readiness.html").write_text("<html></html>")
    (workspace / "out" / "evidence" / "pytest-1.json").write_text("{}")
    (workspace / "out" / "evidence" / "artefacts" / "policy.sarif").write_text("{}")
    (workspace / "out" / "evidence" / ".hidden").write_text("x")
    return workflows.JobRun("readiness.yml", "readiness", workspace, tmp_path / "temp")


@pytest.mark.unit
def test_upload_check_counts_what_the_action_would_upload(run: Any) -> None:
    reason = workflows.check_upload_artifact(
        {"name": "r", "path": "out/readiness.html\nout/evidence/\n!out/evidence/artefacts/",
         "if-no-files-found": "error"}, {}, run)
    # The hidden file is left out, as by the action; the negated directory too.
    assert reason == "checked instead: artifact 'r' would hold 2 file(s), 15 bytes"


@pytest.mark.unit
def test_upload_check_fails_on_a_path_that_names_no_file(run: Any) -> None:
    with pytest.raises(AssertionError, match=r"path 'out/readiness\.md' matches no file"):
        workflows.check_upload_artifact(
            {"path": "out/readiness.html\nout/readiness.md", "if-no-files-found": "error"}, {},
            run)
    with pytest.raises(AssertionError, match="matches no file"):
        workflows.check_upload_artifact(
            {"path": "out/*.pdf", "if-no-files-found": "error"}, {}, run)
    # ignore / warn (the action's default): nothing to upload is not an error.
    assert "0 file(s)" in workflows.check_upload_artifact({"path": "out/none/"}, {}, run)
    with pytest.raises(AssertionError, match="if-no-files-found: 'fail'"):
        workflows.check_upload_artifact(
            {"path": "out/", "if-no-files-found": "fail"}, {}, run)
