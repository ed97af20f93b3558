"""The common role's skip decisions (roles/common/filter_plugins/common_file_state.py): a task
is skipped only when the host probe shows exactly the wanted kind, owner, mode and content."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "common_file_state", REPO / "roles/common/filter_plugins/common_file_state.py"
)
assert _spec and _spec.loader
fs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fs)

BANNER = "Authorized uses only.\n"
DIGEST = hashlib.sha256(BANNER.encode()).hexdigest()


def probe(tmp_path: Path, *names: str) -> dict[str, list[str]]:
    """Run the role's real probe script (vars/main.yml) on local paths."""
    script = yaml.safe_load((REPO / "roles/common/vars/main.yml").read_text())[
        "__common_probe_script"
    ]
    paths = [str(tmp_path / n) for n in names]
    out = subprocess.run(["sh", "-c", script, "probe", *paths], check=True,
                         capture_output=True, text=True).stdout
    return fs.common_file_state(out.splitlines())


def test_probe_reports_kind_owner_mode_and_content(tmp_path: Path) -> None:
    (tmp_path / "issue").write_text(BANNER)
    (tmp_path / "issue").chmod(0o644)
    (tmp_path / "cron.d").mkdir(mode=0o700)
    (tmp_path / "empty").write_text("")
    states = probe(tmp_path, "issue", "cron.d", "empty", "missing")
    owner = f"{(tmp_path / 'issue').owner()}:{(tmp_path / 'issue').group()}"
    assert states[str(tmp_path / "issue")] == ["regular file", owner, "644", DIGEST]
    assert states[str(tmp_path / "cron.d")][0] == "directory"
    assert states[str(tmp_path / "missing")] == ["absent"]
    user, group = owner.split(":")
    assert not fs.common_file_differs(states, str(tmp_path / "issue"), mode="0644",
                                      content=BANNER, owner=user, group=group)
    assert not fs.common_file_differs(states, str(tmp_path / "empty"), mode="0644",
                                      content="", owner=user, group=group)
    assert not fs.common_file_differs(states, str(tmp_path / "cron.d"), state="directory",
                                      mode="0700", owner=user, group=group)
    assert not fs.common_file_differs(states, str(tmp_path / "missing"), state="absent")


STATES = {"/etc/issue": ["regular file", "root:root", "644", DIGEST],
          "/etc/cron.d": ["directory", "root:root", "700", "-"],
          "/etc/cron.deny": ["absent"]}


@pytest.mark.parametrize(("path", "kwargs"), [
    ("/etc/issue", {"mode": "0644", "content": BANNER + "x"}),   # content differs
    ("/etc/issue", {"mode": "0600", "content": BANNER}),         # mode differs
    ("/etc/issue", {"mode": "0644", "owner": "daemon"}),         # owner differs
    ("/etc/issue", {"state": "directory", "mode": "0644"}),      # kind differs
    ("/etc/issue", {"state": "absent"}),                         # must go
    ("/etc/cron.d", {"state": "directory", "mode": "0755"}),
    ("/etc/cron.deny", {"mode": "0600", "content": BANNER}),     # must be created
    ("/etc/motd", {"mode": "0644", "content": BANNER}),          # never probed: run the task
])
def test_any_difference_or_doubt_runs_the_task(path: str, kwargs: dict[str, str]) -> None:
    assert fs.common_file_differs(STATES, path, **kwargs)


def test_wanted_state_already_there_skips_the_task() -> None:
    assert not fs.common_file_differs(STATES, "/etc/issue", mode="0644", content=BANNER)
    assert not fs.common_file_differs(STATES, "/etc/issue", mode=420)  # YAML int 0644
    assert not fs.common_file_differs(STATES, "/etc/cron.d", state="directory", mode="0700")
    assert not fs.common_file_differs(STATES, "/etc/cron.deny", state="absent")
    assert fs.common_file_differs(None, "/etc/issue")
