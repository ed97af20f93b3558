"""How a lab host is booted: what systemd-nspawn is asked for."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.lab import default_lab, sysutil
from infra.lab.hosts import cgroup_dirs, enter_own_cgroups, nspawn_command, remove_cgroups

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("register", [True, False])
def test_host_runs_in_its_own_netns_and_may_manage_it(register: bool) -> None:
    lab = default_lab()
    host = lab.host("db1")
    cmd = nspawn_command(lab, host, register)
    assert f"--network-namespace-path=/run/netns/{lab.netns(host)}" in cmd
    # nftables and network sysctls inside the host need CAP_NET_ADMIN in its own netns;
    # nspawn only grants it by itself with --private-network.
    assert "--capability=CAP_NET_ADMIN" in cmd
    assert not any(arg.startswith("--capability=") and arg != "--capability=CAP_NET_ADMIN"
                   for arg in cmd), "no other capability is added to the lab hosts"
    assert ("--keep-unit" in cmd) is (not register)


def test_without_machined_nspawn_starts_in_the_hosts_own_cgroups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each host gets its own cgroup in every hierarchy before nspawn starts: hosts sharing one
    made restarts of the same unit on two hosts fail with 219/CGROUP."""
    mounts = [tmp_path / "systemd", tmp_path / "unified"]
    for mnt in mounts:
        mnt.mkdir()
    monkeypatch.setattr(sysutil, "cgroup_mounts", lambda: mounts)
    lab = default_lab()
    dirs = {h.name: cgroup_dirs(lab, h) for h in lab.hosts}
    assert len({d for ds in dirs.values() for d in ds}) == 2 * len(lab.hosts), "never shared"
    db1 = lab.host("db1")
    out = tmp_path / "pid"
    argv = enter_own_cgroups(lab, db1, ["/bin/sh", "-c", f"echo $$ > {out}"])
    done = subprocess.run(argv, check=True)
    assert done.returncode == 0
    pid = out.read_text().strip()
    # The command replaced the shell (exec): the PID written to each cgroup is its own.
    for path in dirs["db1"]:
        assert (path / "cgroup.procs").read_text().strip() == pid, path


def test_a_hosts_cgroups_are_removed_deepest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sysutil, "cgroup_mounts", lambda: [tmp_path])
    lab = default_lab()
    db1, app1 = lab.host("db1"), lab.host("app1")
    for host in (db1, app1):
        (cgroup_dirs(lab, host)[0] / "payload" / "system.slice" / "x.service").mkdir(parents=True)
    remove_cgroups(lab, db1)
    assert not cgroup_dirs(lab, db1)[0].exists()
    assert cgroup_dirs(lab, app1)[0].is_dir(), "another host's cgroup is left alone"
    remove_cgroups(lab, app1)
    assert not (tmp_path / "rampart-labs").exists(), "the empty parent goes with the last host"
