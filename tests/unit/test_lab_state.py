"""The lab's record of its processes and pinned keys, and PID-reuse-safe process checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.lab import default_lab, sysutil
from infra.lab.hosts import etc_hosts
from infra.lab.state import HostState, LabState, load, save

pytestmark = pytest.mark.unit


def test_state_round_trips(tmp_path: Path) -> None:
    st = LabState(
        proxy=sysutil.Proc(10, 20),
        rootfs="/var/cache/rampart/rootfs-x",
        hosts={"edge1": HostState(sysutil.Proc(30, 40), {"ed25519": "ssh-ed25519 AAAA"})},
    )
    save(tmp_path / "state.json", st)
    assert load(tmp_path / "state.json") == st
    assert st.pinned() == {"edge1": {"ed25519": "ssh-ed25519 AAAA"}}


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.json") == LabState()


def test_own_process_is_alive_and_a_reused_pid_is_not() -> None:
    me = sysutil.Proc(os.getpid(), sysutil.start_time(os.getpid()) or -1)
    assert me.alive()
    assert not sysutil.Proc(os.getpid(), me.start + 1).alive(), "start time must guard PID reuse"


def test_etc_hosts_names_every_lab_host() -> None:
    lab = default_lab()
    text = etc_hosts(lab, lab.host("app1"))
    assert "127.0.1.1 app1" in text
    for host in lab.hosts:
        assert f"{host.address} {host.name}" in text
