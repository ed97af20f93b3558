"""`rampart readiness` judging evidence, end to end through the CLI: proven / failed / not run /
stale, the verdict and its cap, evidence that is tampered with or malformed, the exit codes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from infra.readiness import git as readiness_git

from .support import (
    NOW,
    all_proven,
    measured,
    mini_catalog,
    rec,
    report,
    requirement,
    run_cli,
    write_evidence,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return mini_catalog(tmp_path / "catalog")


def test_everything_proven_is_ready_with_the_full_automated_score(tmp_path: Path,
                                                                  catalog: Path) -> None:
    write_evidence(tmp_path / "ev", "pytest-1.json", all_proven())
    result, doc = report(tmp_path / "ev", catalog)
    assert result.exit_code == 0, result.output
    assert doc["verdict"] == "ready"
    assert {r["id"]: r["status"] for r in doc["requirements"]} == {
        "EDGE-1": "proven", "EDGE-2": "proven", "BAK-1": "proven", "BAK-2": "not run"}
    # Weights 3 + 2 + 3 proven of 3 + 2 + 3 + 1: the manual minor counts as not proven.
    assert doc["score"] == round(100 * 8 / 9, 1)
    cited = requirement(doc, "BAK-1")["checks"][0]["citations"][0]
    assert cited["note"] == "rto_seconds = 42 s (target rto_seconds <= 14400 s)"
    assert cited["host"] == "db1" and cited["file"] == "pytest-1.json"


def test_a_failed_blocker_means_not_ready_and_exit_1_whatever_the_score(
        tmp_path: Path, catalog: Path) -> None:
    records = all_proven()
    records[0] = rec("tests/x/test_edge.py::test_redirect", "failed",
                     message="assert 200 == 308")
    write_evidence(tmp_path / "ev", "pytest-1.json", records)
    result, doc = report(tmp_path / "ev", catalog, "--fail-under", "10")
    assert doc["verdict"] == "not ready"
    assert doc["score"] > 10  # the score alone would pass the bar
    assert result.exit_code == 1
    assert "failed blockers: EDGE-1" in result.stderr
    edge = requirement(doc, "EDGE-1")
    assert edge["status"] == "failed"
    assert edge["checks"][0]["citations"][0]["note"] == "assert 200 == 308"


def test_a_failed_major_is_not_ready_to_claim_ready_but_does_not_exit_1(
        tmp_path: Path, catalog: Path) -> None:
    records = all_proven()
    records[2] = rec("tests/x/test_limits.py::test_login", "failed")
    write_evidence(tmp_path / "ev", "pytest-1.json", records)
    result, doc = report(tmp_path / "ev", catalog)
    assert (doc["verdict"], result.exit_code) == ("incomplete", 0)
    assert requirement(doc, "EDGE-2")["status"] == "failed"
    assert requirement(doc, "EDGE-2")["checks"][0]["counts"] == {
        "proven": 1, "failed": 1, "not run": 0, "stale": 0}


def test_fail_under_exits_1_below_the_score(tmp_path: Path, catalog: Path) -> None:
    write_evidence(tmp_path / "ev", "pytest-1.json", all_proven()[:1])
    result, doc = report(tmp_path / "ev", catalog, "--fail-under", "50")
    assert doc["score"] < 50 and doc["verdict"] == "incomplete"
    assert result.exit_code == 1
    assert "under --fail-under 50" in result.stderr


def test_evidence_older_than_max_age_is_stale_and_not_proven(tmp_path: Path,
                                                             catalog: Path) -> None:
    old = NOW - dt.timedelta(days=10)
    write_evidence(tmp_path / "ev", "old.json", all_proven(at=old))
    result, doc = report(tmp_path / "ev", catalog, "--max-age", "7")
    assert {r["status"] for r in doc["requirements"] if r["id"] != "BAK-2"} == {"stale"}
    assert doc["score"] == 0.0 and doc["verdict"] == "incomplete"
    note = requirement(doc, "EDGE-1")["checks"][0]["citations"][0]["note"]
    assert "10 day(s) old, older than --max-age 7" in note
    # The same evidence within a longer --max-age proves them.
    _, longer = report(tmp_path / "ev", catalog, "--max-age", "30")
    assert requirement(longer, "EDGE-1")["status"] == "proven"


def test_a_newer_run_replaces_an_older_one_of_the_same_check(tmp_path: Path,
                                                            catalog: Path) -> None:
    old = NOW - dt.timedelta(days=10)
    write_evidence(tmp_path / "ev", "a-old.json", [
        rec("tests/x/test_edge.py::test_redirect", "failed", at=old, run="old")])
    write_evidence(tmp_path / "ev", "b-new.json", all_proven(run="new"))
    _, doc = report(tmp_path / "ev", catalog)
    assert requirement(doc, "EDGE-1")["status"] == "proven"
    assert [t["run"] for t in doc["trend"]] == ["old", "new"]
    assert doc["trend"][0]["verdict"] == "not ready" and doc["trend"][1]["verdict"] == "ready"


def test_evidence_from_another_commit_is_stale_and_says_so(tmp_path: Path,
                                                           catalog: Path) -> None:
    records = all_proven()
    records[0]["commit"] = "0" * 40  # a commit this checkout does not have
    write_evidence(tmp_path / "ev", "pytest-1.json", records)
    _, doc = report(tmp_path / "ev", catalog)
    edge = requirement(doc, "EDGE-1")
    assert edge["status"] == "stale"
    assert edge["checks"][0]["citations"][0]["note"] == (
        "another commit: recorded at 0000000000, a commit this checkout does not have")
    assert doc["verdict"] == "incomplete"
    assert requirement(doc, "EDGE-2")["status"] == "proven"


def test_the_difference_between_two_commits_is_counted_and_named(tmp_path: Path) -> None:
    """On a throwaway repository (a shallow CI clone has no second commit of its own)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t",
                               "-c", "user.email=t@example.invalid", *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1\n", encoding="utf-8")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    first = git("rev-parse", "HEAD")
    (tmp_path / "a.txt").write_text("2\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("new\n", encoding="utf-8")
    git("add", "a.txt", "b.txt")
    git("commit", "-q", "-m", "two")
    git("commit", "-q", "--allow-empty", "-m", "three")
    second = git("rev-parse", "HEAD")
    assert readiness_git.difference(tmp_path, first, second) == (
        f"{first[:10]} -> {second[:10]}: 2 commit(s) newer; 2 file(s) changed (a.txt, b.txt)")
    assert readiness_git.difference(tmp_path, second, first) == (
        f"{second[:10]} -> {first[:10]}: 0 commit(s) newer, 2 not in HEAD; 2 file(s) changed "
        "(a.txt, b.txt)")
    assert readiness_git.head(tmp_path) == (second, False)


@pytest.mark.parametrize("measurement, expected", [
    (measured("rto_seconds", 14400.0, "s"), "proven"),  # the figure itself meets "<="
    (measured("rto_seconds", 20000.0, "s"), "failed"),
    (measured("rpo_seconds", 1.0, "s"), "not run"),  # no rto_seconds measured
])
def test_a_measured_value_is_judged_against_the_owners_figure(
        tmp_path: Path, catalog: Path, measurement: dict, expected: str) -> None:
    write_evidence(tmp_path / "ev", "drill.json", [
        rec("restore-drill", kind="restore-drill", host="db1", measurements=[measurement])])
    _, doc = report(tmp_path / "ev", catalog)
    bak = requirement(doc, "BAK-1")
    assert bak["status"] == expected
    if expected == "failed":
        assert doc["verdict"] == "not ready"
        assert "misses the owners' figure: rto_seconds = 20000 s" in \
            bak["checks"][0]["citations"][0]["note"]


def test_a_skipped_test_is_not_run(tmp_path: Path, catalog: Path) -> None:
    write_evidence(tmp_path / "ev", "p.json", [
        rec("tests/x/test_edge.py::test_redirect", "skipped", message="no lab")])
    _, doc = report(tmp_path / "ev", catalog)
    check = requirement(doc, "EDGE-1")["checks"][0]
    assert check["status"] == "not run"
    assert check["citations"][0]["note"] == "skipped: no lab"


def test_a_marker_links_a_record_to_its_requirement(tmp_path: Path, catalog: Path) -> None:
    write_evidence(tmp_path / "ev", "p.json", [
        rec("tests/y/test_other.py::test_drill_by_hand", requirements=["BAK-2"])])
    _, doc = report(tmp_path / "ev", catalog)
    bak = requirement(doc, "BAK-2")
    assert bak["status"] == "proven"
    assert bak["checks"][0]["kind"] == "marker"


def test_records_about_another_stack_do_not_count(tmp_path: Path, catalog: Path) -> None:
    drill = rec("restore-drill", kind="restore-drill", stack="prod",
                measurements=[measured("rto_seconds", 1.0, "s")])
    write_evidence(tmp_path / "ev", "d.json", [drill])
    _, dev = report(tmp_path / "ev", catalog, "--stack", "dev")
    _, prod = report(tmp_path / "ev", catalog, "--stack", "prod")
    assert requirement(dev, "BAK-1")["status"] == "not run"
    assert requirement(prod, "BAK-1")["status"] == "proven"


# --- Tampered and malformed evidence ---------------------------------------------------------


def test_tampered_and_malformed_evidence_is_reported_and_never_counted(
        tmp_path: Path, catalog: Path) -> None:
    ev = tmp_path / "ev"
    good = all_proven()
    # 1. Truncated JSON: the whole file is out, though it held a passing redirect test.
    text = json.dumps({"schema": "rampart-readiness-evidence", "version": 1,
                       "records": [good[0]]})
    ev.mkdir()
    (ev / "truncated.json").write_text(text[: len(text) // 2], encoding="utf-8")
    # 2. A record naming a requirement the catalog does not have.
    unknown = rec("tests/x/test_limits.py::test_burst[100]", requirements=["EDGE-99"])
    # 3. "passed" while its own measurement misses its own target.
    lying = rec("restore-drill", kind="restore-drill", host="db1",
                measurements=[measured("rto_seconds", 20000.0, "s", "<= 14400")])
    # 4. Records of the wrong shape.
    no_commit = {k: v for k, v in good[2].items() if k != "commit"}
    text_value = rec("tests/x/test_limits.py::test_login",
                     measurements=[{"name": "p99_ms", "value": "fast"}])
    future = rec("tests/x/test_limits.py::test_login", at=NOW + dt.timedelta(days=2))
    write_evidence(ev, "tampered.json", [unknown, lying, no_commit, text_value, future])
    (ev / "other.json").write_text('{"schema": "something-else", "records": []}',
                                   encoding="utf-8")
    result, doc = report(ev, catalog)
    assert result.exit_code == 0
    problems = [f"{p['file']} {p['where']}: {p['message']}" for p in doc["problems"]]
    expected = [
        "other.json : not an evidence file",
        "tampered.json records[1] (restore-drill): claims \"passed\" but rto_seconds = 20000s "
        "misses its own target <= 14400",
        "tampered.json records[2] (tests/x/test_limits.py::test_login): `commit` must be",
        "tampered.json records[3] (tests/x/test_limits.py::test_login): measurements[0] "
        "(p99_ms): value must be a finite number",
        "tampered.json tests/x/test_limits.py::test_burst[100]: names unknown requirement(s) "
        "EDGE-99; not counted",
        "tampered.json tests/x/test_limits.py::test_login: timestamp",
        "truncated.json : not valid JSON (truncated or damaged)",
    ]
    assert len(problems) == len(expected), problems
    for problem, start in zip(sorted(problems), sorted(expected), strict=True):
        assert problem.startswith(start), (problem, start)
    assert {r["id"]: r["status"] for r in doc["requirements"]} == {
        "EDGE-1": "not run", "EDGE-2": "not run", "BAK-1": "not run", "BAK-2": "not run"}
    assert doc["score"] == 0.0


# --- Bad input: one line naming the file, exit 2 ---------------------------------------------


def test_a_missing_evidence_directory_is_exit_2_naming_it(tmp_path: Path,
                                                          catalog: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_cli("--evidence", str(missing), "--catalog", str(catalog), "--format", "json")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(missing) in lines[0] and "does not exist" in lines[0]
    assert result.stdout == ""


def test_an_unknown_stack_is_exit_2_naming_the_stack_file(tmp_path: Path,
                                                         catalog: Path) -> None:
    write_evidence(tmp_path / "ev", "p.json", all_proven())
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog),
                     "--stack", "nosuch", "--format", "json")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("Pulumi.nosuch.yaml: no such stack file")
    assert "dev" in lines[0]


@pytest.mark.parametrize("text, fragment", [
    ("version: 1\ncategories: [\n", "not valid YAML"),
    ("version: 2\ncategories: []\nrequirements: []\n", "version must be 1"),
    ("", "must be a mapping"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: blocker, checks: []}\n",
     "AB-1: has no check"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: blocker}\n", "AB-1: has no check"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: b, title: T, severity: blocker, checks: [{manual: reason "
     "given at length}]}\n", "category 'b' is not one of a"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: huge, checks: [{manual: reason given "
     "at length}]}\n", "severity 'huge'"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: minor, checks: [{manual: why}]}\n",
     "needs the reason"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: minor, checks: [{evidence: backup, "
     "target: fast}]}\n", "target 'fast'"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: minor, checks: [{pytest: x, "
     "evidence: y}]}\n", "exactly one of"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: minor, chekcs: []}\n",
     "unknown key(s) chekcs"),
    ("version: 1\ncategories:\n  - {id: a, title: A}\nrequirements:\n"
     "  - {id: AB-1, category: a, title: T, severity: minor, checks: [{pytest: x}]}\n"
     "  - {id: AB-1, category: a, title: U, severity: minor, checks: [{pytest: y}]}\n",
     "AB-1: id is listed twice"),
])
def test_a_malformed_requirements_file_is_exit_2_naming_it(tmp_path: Path, text: str,
                                                           fragment: str) -> None:
    bad = mini_catalog(tmp_path / "bad", text)
    write_evidence(tmp_path / "ev", "p.json", all_proven())
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(bad),
                     "--format", "json")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(str(bad)) and fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_a_missing_requirements_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    write_evidence(tmp_path / "ev", "p.json", all_proven())
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog",
                     str(tmp_path / "none.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'none.yaml'}: requirements file does not exist"


@pytest.mark.parametrize("args, fragment", [
    (["--format", "pdf"], "--format 'pdf' is not one of html, markdown, json"),
    (["--fail-under", "120"], "--fail-under 120 is not a score between 0 and 100"),
    (["--max-age", "0"], "--max-age 0 must be a positive number of days"),
])
def test_bad_options_are_exit_2(tmp_path: Path, catalog: Path, args: list[str],
                                fragment: str) -> None:
    write_evidence(tmp_path / "ev", "p.json", all_proven())
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog), *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == fragment


def test_evidence_made_outside_a_checkout_is_never_current(tmp_path: Path,
                                                          catalog: Path) -> None:
    records = all_proven()
    records[0]["commit"] = "unknown"
    write_evidence(tmp_path / "ev", "pytest-1.json", records)
    _, doc = report(tmp_path / "ev", catalog)
    edge = requirement(doc, "EDGE-1")
    assert edge["status"] == "stale"
    assert "recorded outside a git checkout" in edge["checks"][0]["citations"][0]["note"]
