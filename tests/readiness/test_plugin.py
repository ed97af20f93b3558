"""The pytest plugin in a real pytest run (a subprocess over a small test file): one evidence file
with every outcome, duration, marker and measured value, and nothing without an evidence dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.readiness import evidence

from .support import ROOT

pytestmark = pytest.mark.unit

SAMPLE = '''
import pytest

@pytest.mark.requirement("EDGE-3", "EDGE-4")
def test_passes(readiness_measure):
    readiness_measure("p99_ms", 54.5, unit="ms", target="< 500")

def test_fails():
    assert 1 == 2, "one is not two"

def test_skips():
    pytest.skip("no lab here")

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_errors(broken):
    pass

def test_misses_its_target(readiness_measure):
    readiness_measure("rto_seconds", 20000, unit="s", target="<= 14400")

@pytest.mark.parametrize("name", ["app1", "db1"])
def test_param(name):
    pass
'''


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k != evidence.ENV_DIR}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "infra.readiness.pytest_plugin",
         "-p", "no:cacheprovider", "-q", "test_sample.py", *args],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})})


def _records(directory: Path) -> dict[str, dict[str, Any]]:
    (path,) = directory.glob("pytest-*.json")
    loaded = evidence.load_dir(directory)
    assert loaded.problems == [], loaded.problems
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["schema"] == evidence.SCHEMA and raw["version"] == evidence.VERSION
    return {r["check"].split("::")[1]: r for r in raw["records"]}


def _git_checkout(directory: Path) -> str:
    """A throwaway checkout (its own repository) with one commit: the commit records carry."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(directory), "-c", "user.name=t",
                               "-c", "user.email=t@example.invalid", *args], check=True,
                              capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "sample")
    return git("rev-parse", "HEAD")


def test_every_outcome_is_recorded_with_markers_and_measurements(tmp_path: Path) -> None:
    commit = _git_checkout(tmp_path)
    out = tmp_path / "evidence"
    done = _run(tmp_path, "--evidence-dir", str(out))
    assert done.returncode == 1, done.stdout  # the sample has failures
    assert "readiness evidence: 7 records in" in done.stdout
    records = _records(out)
    outcomes = {name: r["outcome"] for name, r in records.items()}
    assert outcomes == {
        "test_passes": "passed", "test_fails": "failed", "test_skips": "skipped",
        "test_errors": "error", "test_misses_its_target": "failed",
        "test_param[app1]": "passed", "test_param[db1]": "passed"}
    passed = records["test_passes"]
    assert passed["requirements"] == ["EDGE-3", "EDGE-4"]
    assert passed["measurements"] == [{"name": "p99_ms", "value": 54.5, "unit": "ms",
                                       "target": "< 500"}]
    assert passed["commit"] == commit and passed["kind"] == "pytest"
    assert passed["tools"]["pytest"] == pytest.__version__
    assert isinstance(passed["duration_s"], float) and passed["duration_s"] >= 0
    assert records["test_fails"]["message"].startswith("AssertionError: one is not two")
    assert records["test_skips"]["message"] == "Skipped: no lab here"
    assert "setup broke" in records["test_errors"]["message"]
    # A test cannot pass while its own measurement misses its own target.
    assert records["test_misses_its_target"]["message"] == (
        "measured rto_seconds = 20000s misses its target <= 14400")
    run = {r["run"] for r in records.values()}
    assert len(run) == 1


def test_the_environment_variable_turns_it_on(tmp_path: Path) -> None:
    out = tmp_path / "from-env"
    done = _run(tmp_path, "-k", "param", env={evidence.ENV_DIR: str(out)})
    assert done.returncode == 0, done.stdout
    records = _records(out)
    assert sorted(records) == ["test_param[app1]", "test_param[db1]"]
    # Outside a git checkout the commit is "unknown": such evidence is stale for any report.
    assert {r["commit"] for r in records.values()} == {"unknown"}


def test_without_an_evidence_dir_nothing_is_written(tmp_path: Path) -> None:
    done = _run(tmp_path, "-k", "param")
    assert done.returncode == 0, done.stdout
    assert "readiness evidence" not in done.stdout
    assert not list(tmp_path.rglob("pytest-*.json"))


def test_the_marker_is_registered_for_strict_markers(tmp_path: Path) -> None:
    done = _run(tmp_path, "--strict-markers", "-k", "passes")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_host_test_records_its_host(tmp_path: Path) -> None:
    hosts = tmp_path / "tests" / "hosts"
    hosts.mkdir(parents=True)
    (hosts / "test_sshd.py").write_text(
        'import pytest\n\n@pytest.mark.parametrize("name", ["edge1", "db1"])\n'
        "def test_sshd(name):\n    pass\n", encoding="utf-8")
    out = tmp_path / "evidence"
    base = {k: v for k, v in os.environ.items() if k != evidence.ENV_DIR}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "infra.readiness.pytest_plugin",
         "-p", "no:cacheprovider", "-q", "tests/hosts/test_sshd.py", "--evidence-dir", str(out)],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
        env={**base, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout
    hosts_seen = {r.check: r.host for r in evidence.load_dir(out).records}
    assert hosts_seen == {"tests/hosts/test_sshd.py::test_sshd[edge1]": "edge1",
                          "tests/hosts/test_sshd.py::test_sshd[db1]": "db1"}


def test_the_tests_never_see_the_variable_so_commands_they_run_write_no_evidence(
        tmp_path: Path) -> None:
    """The session records its tests; a command a test runs (with stand-ins) must not write
    evidence of its own into the same directory, so the variable is withheld from tests."""
    (tmp_path / "test_env.py").write_text(
        "import os\n\ndef test_env():\n"
        f"    assert {evidence.ENV_DIR!r} not in os.environ\n", encoding="utf-8")
    out = tmp_path / "evidence"
    base = {k: v for k, v in os.environ.items() if k != evidence.ENV_DIR}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "infra.readiness.pytest_plugin",
         "-p", "no:cacheprovider", "-q", "test_env.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
        env={**base, "PYTHONPATH": str(ROOT), evidence.ENV_DIR: str(out)})
    assert done.returncode == 0, done.stdout
    (record,) = evidence.load_dir(out).records
    assert (record.check, record.outcome) == ("test_env.py::test_env", "passed")
