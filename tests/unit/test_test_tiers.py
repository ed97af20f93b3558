"""scripts/test_tiers.py (`make test`): the lab tiers and the lab-free tiers in two pytest
sessions at once. Every test runs in exactly one of them, a failure in either fails the run and
is shown, and an interrupt tears both down (their fixtures' finalizers run). Run on a small
project of its own, through real pytest sessions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "test_tiers.py"

INI = """[pytest]
markers =
    hosts: lab
    drills: lab
    unit: lab-free
"""

CONFTEST = '''
import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def ran(request):
    log = Path(os.environ["TIERS_LOG"])
    with log.open("a") as f:
        f.write(f"{request.node.nodeid}\\n")
    yield
    with log.open("a") as f:
        f.write(f"done {request.node.nodeid}\\n")
'''

# Every combination of the two lab markers, with and without another marker.
TESTS = '''
import os
import time
from pathlib import Path

import pytest


@pytest.mark.hosts
def test_hosts(): pass

@pytest.mark.drills
def test_drills(): pass

@pytest.mark.hosts
@pytest.mark.drills
def test_hosts_and_drills(): pass

@pytest.mark.unit
def test_unit(): pass

def test_unmarked(): pass

@pytest.mark.unit
@pytest.mark.hosts
def test_unit_and_hosts(): pass

def test_lab_free_may_fail():
    assert not os.environ.get("TIERS_FAIL"), "lab-free failure on purpose"

@pytest.mark.hosts
def test_lab_may_wait():
    if os.environ.get("TIERS_WAIT"):
        Path(os.environ["TIERS_WAIT"] + "-lab").touch()
        time.sleep(60)

def test_lab_free_may_wait():
    if os.environ.get("TIERS_WAIT"):
        Path(os.environ["TIERS_WAIT"] + "-free").touch()
        time.sleep(60)
'''

LAB = {"test_hosts", "test_drills", "test_hosts_and_drills", "test_unit_and_hosts",
       "test_lab_may_wait"}
LAB_FREE = {"test_unit", "test_unmarked", "test_lab_free_may_fail", "test_lab_free_may_wait"}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_all.py").write_text(TESTS)
    return tmp_path


def _argv(project: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "-p", "no:cacheprovider", "-c",
            str(project / "pytest.ini"), "--rootdir", str(project), *extra, str(project)]


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAMPART_EVIDENCE_DIR", "TIERS_FAIL", "TIERS_WAIT", "PYTEST_ADDOPTS")}
    return {**env, "TIERS_LOG": str(project / "ran.log"), **extra}


def _run(project: Path, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(project, *extra), cwd=project, env=_env(project, **env),
                          capture_output=True, text=True, timeout=120, check=False)


def _ran(project: Path) -> list[str]:
    return [line.split("::")[1] for line in (project / "ran.log").read_text().splitlines()
            if not line.startswith("done ")]


def test_every_test_runs_in_exactly_one_session(project: Path) -> None:
    done = _run(project, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    ran = _ran(project)
    assert sorted(ran) == sorted(LAB | LAB_FREE), ran
    # The lab session streams; the lab-free session's output follows under its own heading.
    lab_free = done.stdout.index("--- test_tiers: lab-free tiers (exit 0) ---")
    assert done.stdout.index(f"{len(LAB)} passed, {len(LAB_FREE)} deselected") < lab_free
    assert done.stdout.index(f"{len(LAB_FREE)} passed, {len(LAB)} deselected") > lab_free
    assert done.stdout.rstrip().endswith("lab tiers exit 0, lab-free tiers exit 0")


def test_a_failure_in_the_lab_free_session_fails_the_run_and_is_shown(project: Path) -> None:
    done = _run(project, "-q", TIERS_FAIL="1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lab-free failure on purpose" in done.stdout
    assert "FAILED test_all.py::test_lab_free_may_fail" in done.stdout
    assert sorted(_ran(project)) == sorted(LAB | LAB_FREE)


def test_a_selection_with_nothing_for_one_session_is_not_a_failure(project: Path) -> None:
    done = _run(project, "-q", "-k", "unmarked")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _ran(project) == ["test_unmarked"]
    nothing = _run(project, "-q", "-k", "no_such_test")
    assert nothing.returncode == 5, nothing.stdout + nothing.stderr


@pytest.mark.parametrize("marker", [["-m", "unit"], ["-munit"]])
def test_a_marker_of_ones_own_is_refused(project: Path, marker: list[str]) -> None:
    done = _run(project, *marker)
    assert done.returncode == 4
    assert "-m is set here" in done.stderr
    assert not (project / "ran.log").exists()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_sigterm_tears_both_sessions_down(project: Path, sigint: str) -> None:
    """"ignored": started as a non-interactive shell starts a background job (`make test &`,
    nohup), SIGINT ignored and inherited so; the sessions still get the interrupt."""
    wait = str(project / "started")
    runner = subprocess.Popen(_argv(project, "-q"), cwd=project,
                              env=_env(project, TIERS_WAIT=wait),
                              preexec_fn=_ignore_sigint if sigint == "ignored" else None,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (Path(wait + "-lab").exists() and Path(wait + "-free").exists()):
            assert time.monotonic() < deadline, "the waiting tests never started"
            assert runner.poll() is None, runner.communicate()[0]
            time.sleep(0.1)
        started = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        out, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 2, out
    assert time.monotonic() - started < 30
    log = (project / "ran.log").read_text().splitlines()
    # Each waiting test's fixture was torn down: pytest got an interrupt, not a kill.
    assert "done test_all.py::test_lab_may_wait" in log, log
    assert "done test_all.py::test_lab_free_may_wait" in log, log
    assert "interrupted; every command stopped" in out


def test_a_command_that_cannot_start_stops_the_others(tmp_path: Path) -> None:
    from infra import side_by_side

    pid_file = tmp_path / "pid"
    sleeper = [sys.executable, "-c",
               f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
               "time.sleep(60)"]
    started = time.monotonic()
    with pytest.raises(FileNotFoundError):
        side_by_side.run({"sleeper": sleeper, "missing": [str(tmp_path / "no-such-command")]},
                         label="t")
    assert time.monotonic() - started < 30
    time.sleep(1)  # a sleeper left running would have written its pid by now
    if pid_file.exists():  # it had started: it is gone now
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)
