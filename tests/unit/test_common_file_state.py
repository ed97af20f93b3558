"""The roles' skip decisions: a managed file (playbooks/library/rampart_managed_files.py) is
written only when its kind, owner, mode or content differ, and apt runs
(playbooks/action_plugins/rampart_apt.py) only when dpkg shows a package to install or remove.

The module runs here as Ansible runs it on a host (a Python process reading its arguments as
JSON), on files under tmp_path owned by the user running the tests."""

from __future__ import annotations

import grp
import json
import os
import pwd
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "playbooks/library/rampart_managed_files.py"
USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
BANNER = "Authorized uses only.\n"


files_module: Any = SimpleNamespace(**runpy.run_path(str(MODULE)))
apt_action: Any = SimpleNamespace(
    **runpy.run_path(str(REPO / "playbooks/action_plugins/rampart_apt.py")))


def run(*files: dict[str, Any], check: bool = False, diff: bool = False) -> dict[str, Any]:
    """The module's JSON result for `files` (owner and group default to the test's user)."""
    items = [{"owner": USER, "group": GROUP, **f} for f in files]
    args = {"ANSIBLE_MODULE_ARGS": {"files": items, "_ansible_check_mode": check,
                                    "_ansible_diff": diff}}
    done = subprocess.run([sys.executable, str(MODULE), json.dumps(args)],
                          capture_output=True, text=True, check=False)
    return dict(json.loads(done.stdout))


def test_a_missing_file_is_written_with_its_mode_then_left_alone(tmp_path: Path) -> None:
    issue = tmp_path / "issue"
    first = run({"dest": str(issue), "content": BANNER, "mode": "0640"})
    assert first["changed"] and first["changed_paths"] == [str(issue)]
    assert issue.read_text() == BANNER and (issue.stat().st_mode & 0o777) == 0o640
    again = run({"dest": str(issue), "content": BANNER, "mode": "0640"})
    assert not again["changed"], again


@pytest.mark.parametrize(("drift", "wanted"), [
    ("content", {"content": BANNER + "x", "mode": "0644"}),
    ("mode", {"content": BANNER, "mode": "0600"}),
    ("mode as a YAML number", {"content": BANNER, "mode": 0o600}),
])
def test_any_difference_is_changed_and_repaired(tmp_path: Path, drift: str,
                                                wanted: dict[str, Any]) -> None:
    issue = tmp_path / "issue"
    issue.write_text(BANNER)
    issue.chmod(0o644)
    result = run({"dest": str(issue), **wanted})
    assert result["changed"], f"{drift}: not reported as a change"
    assert issue.read_text() == wanted["content"]
    mode = wanted["mode"] if isinstance(wanted["mode"], int) else int(wanted["mode"], 8)
    assert issue.stat().st_mode & 0o777 == mode
    assert not run({"dest": str(issue), **wanted})["changed"]


def test_another_owner_is_a_change(tmp_path: Path) -> None:
    issue = tmp_path / "issue"
    issue.write_text(BANNER)
    result = run({"dest": str(issue), "content": BANNER, "owner": "nobody-such-user-xyz"})
    assert result.get("failed"), "an unknown owner must fail, not pass as unchanged"


def test_check_mode_reports_without_writing_and_diff_shows_both_sides(tmp_path: Path) -> None:
    issue = tmp_path / "issue"
    issue.write_text("old\n")
    result = run({"dest": str(issue), "content": "new\n"}, check=True, diff=True)
    assert result["changed"] and issue.read_text() == "old\n"
    assert result["diff"] == [{"before_header": str(issue), "after_header": str(issue),
                               "before": "old\n", "after": "new\n"}]


def test_validate_failure_leaves_the_file_untouched(tmp_path: Path) -> None:
    conf = tmp_path / "sudoers"
    conf.write_text("good\n")
    result = run({"dest": str(conf), "content": "bad\n", "validate": "grep -q good %s"})
    assert result.get("failed") and "validate" in result["msg"]
    assert conf.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sudoers"], "temporary file left behind"
    assert run({"dest": str(conf), "content": "good too\n", "validate": "grep -q good %s"})[
        "changed"]


def test_directories_absent_paths_and_attribute_only_files(tmp_path: Path) -> None:
    cron_d, deny, crontab = tmp_path / "cron.d", tmp_path / "cron.deny", tmp_path / "crontab"
    cron_d.mkdir(mode=0o755)
    deny.write_text("someone\n")
    crontab.write_text("# system crontab\n")
    crontab.chmod(0o644)
    wanted = [{"dest": str(cron_d), "state": "directory", "mode": "0700"},
              {"dest": str(deny), "state": "absent"},
              {"dest": str(crontab), "mode": "0600"},
              {"dest": str(tmp_path / "new.d"), "state": "directory", "mode": "0750"}]
    result = run(*wanted)
    assert sorted(result["changed_paths"]) == sorted(w["dest"] for w in wanted)
    assert cron_d.stat().st_mode & 0o777 == 0o700 and not deny.exists()
    assert crontab.read_text() == "# system crontab\n" and crontab.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new.d").is_dir()
    assert not run(*wanted)["changed"]


def test_an_attribute_only_file_that_is_missing_fails(tmp_path: Path) -> None:
    assert run({"dest": str(tmp_path / "crontab"), "mode": "0600"}).get("failed")


@pytest.mark.parametrize(("text", "edits", "after"), [
    # The last matching line is replaced (lineinfile's rule), commented-out keys included.
    ("#UMASK\t022\nUMASK\t022\n", [("^#?\\s*UMASK\\s", "UMASK\t027")], "#UMASK\t022\nUMASK\t027\n"),
    ("# PASS_MAX_DAYS 99999\n", [("^#?\\s*PASS_MAX_DAYS\\s", "PASS_MAX_DAYS\t365")],
     "PASS_MAX_DAYS\t365\n"),
    # No match: appended.
    ("a\n", [("^umask ", "umask 027")], "a\numask 027\n"),
    # Already there: byte for byte the same text, even without a final newline.
    ("umask 027", [("^umask ", "umask 027")], "umask 027"),
])
def test_lines_follow_lineinfile(text: str, edits: list[tuple[str, str]], after: str) -> None:
    rules = [{"regexp": r, "line": line} for r, line in edits]
    assert files_module.edited(text, rules) == after


def test_lines_are_edited_into_the_existing_file_once(tmp_path: Path) -> None:
    defs = tmp_path / "login.defs"
    defs.write_text("# comment\nUMASK\t022\n")
    lines = [{"regexp": "^#?\\s*UMASK\\s", "line": "UMASK\t027"},
             {"regexp": "^#?\\s*HOME_MODE\\s", "line": "HOME_MODE\t0750"}]
    assert run({"dest": str(defs), "lines": lines, "mode": "0644"})["changed"]
    assert defs.read_text() == "# comment\nUMASK\t027\nHOME_MODE\t0750\n"
    assert not run({"dest": str(defs), "lines": lines, "mode": "0644"})["changed"]
    assert run({"dest": str(tmp_path / "missing"), "lines": lines}).get("failed")


DPKG = ["ii acct", "ii sysstat", "rc exim4-base", "un telnet", "iU half-installed"]


@pytest.mark.parametrize(("state", "names", "satisfied"), [
    ("present", ["acct", "sysstat"], True),
    ("present", ["acct", "chrony"], False),            # chrony unknown to dpkg: install
    ("present", ["half-installed"], False),            # not fully installed: apt finishes it
    ("present", ["acct:amd64"], True),                 # an architecture qualifier
    ("absent", ["telnet", "exim4-base", "gcc"], True),  # gone, only config left, unknown
    ("absent", ["telnet", "acct"], False),             # acct still installed: remove
])
def test_apt_runs_only_when_dpkg_shows_work(state: str, names: list[str],
                                            satisfied: bool) -> None:
    assert apt_action.satisfied(state, names, DPKG) is satisfied


@pytest.mark.parametrize(("name", "plain"), [
    ("libpam-pwquality", True), ("g++", True), ("python3.11", True), ("acct:amd64", True),
    ("docker-ce=5:27.0", False), ("nginx*", False), ("./x.deb", False),
])
def test_only_plain_names_are_answered_by_dpkg(name: str, plain: bool) -> None:
    assert bool(apt_action._PLAIN.match(name)) is plain
