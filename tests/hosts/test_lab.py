"""Lab lifecycle on a separate, one-host lab (`rampart-t`, bridge rampt0, 10.78.99.0/24): up,
idempotent second up, status, ssh, apt through the proxy, a changed host key refused, and a
down that leaves no process, mount, netns, veth or bridge behind. The default lab is only
checked to be untouched."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.lab import LabConfig, hosts, lifecycle, net, state, sysutil
from infra.lab.config import make_lab
from infra.lab.ssh import ssh_run

pytestmark = pytest.mark.hosts

LOCK = Path("/var/lib/rampart/labs/rampart-t.session.lock")
RAMPART = [str(Path(sys.executable).parent / "rampart"), "lab"]
TEST_LAB_ARGS = [
    "--name", "rampart-t", "--bridge", "rampt0", "--subnet", "10.78.99.0/24",
    "--host", "host1=10.78.99.11",
]  # fmt: skip


@pytest.fixture(scope="module")
def test_lab() -> Iterator[LabConfig]:
    # Two sessions running this module at once would tear down each other's lab: take turns.
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield from _test_lab_lifetime()


def _test_lab_lifetime() -> Iterator[LabConfig]:
    config = make_lab(
        "rampart-t",
        "rampt0",
        "10.78.99.0/24",
        [("host1", "10.78.99.11")],
        Path("/var/lib/rampart/labs/rampart-t/state"),
    )
    # A previous, interrupted session may have left it up: start from nothing.
    lifecycle.down(config)
    try:
        config_first_up[config.name] = lifecycle.up(config)
        yield config
    finally:
        lifecycle.down(config)


config_first_up: dict[str, lifecycle.UpReport] = {}


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RAMPART, *TEST_LAB_ARGS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_first_up_boots_the_host_with_systemd(test_lab: LabConfig) -> None:
    report = config_first_up[test_lab.name]
    assert report.started == ["host1"], report
    done = ssh_run(test_lab, test_lab.host("host1"), ["systemctl", "is-system-running"])
    assert done.stdout.strip() in ("running", "degraded"), f"host1: {done.stdout}{done.stderr}"


def test_second_up_is_idempotent_fast_and_keeps_host_keys(test_lab: LabConfig) -> None:
    known_before = test_lab.known_hosts_path.read_text()
    pids_before = state.load(test_lab.state_file).hosts["host1"].nspawn
    done = _cli("up")
    assert done.returncode == 0, f"second `lab up` failed: {done.stderr}"
    after = state.load(test_lab.state_file)
    assert after.hosts["host1"].nspawn == pids_before, "second up restarted host1"
    assert test_lab.known_hosts_path.read_text() == known_before, "host keys changed on re-up"
    assert "already running host1" in done.stdout, done.stdout
    report = lifecycle.up(test_lab)
    assert report.already_running == ["host1"] and not report.started
    assert report.seconds["total"] < 10, f"warm up took {report.seconds['total']:.1f}s"


def test_status_reports_every_part(test_lab: LabConfig) -> None:
    done = _cli("status")
    assert done.returncode == 0, f"status says the lab is not fully up:\n{done.stdout}"
    for fragment in ("host1", "10.78.99.11", "running", "bridge: up", "http://10.78.99.1:3142"):
        assert fragment in done.stdout, f"status lacks {fragment!r}:\n{done.stdout}"


def test_ssh_runs_a_command_as_the_admin_user(test_lab: LabConfig) -> None:
    # Like ssh itself, the command words form one remote shell line.
    done = _cli("ssh", "host1", "--", "hostname;", "id -un; sudo -n id -u")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["host1", "rampart", "0"]


def test_unknown_host_is_named_in_the_error(test_lab: LabConfig) -> None:
    done = _cli("ssh", "web9", "--", "true")
    assert done.returncode != 0
    assert "web9" in done.stderr and "host1" in done.stderr, done.stderr


def test_apt_installs_through_the_lab_proxy(test_lab: LabConfig) -> None:
    host = test_lab.host("host1")
    done = ssh_run(test_lab, host, ["sudo", "apt-get", "update"], timeout=180)
    assert done.returncode == 0, (
        f"host1 apt-get update through the proxy: {done.stdout}{done.stderr}"
    )
    assert "bookworm-security" in done.stdout, "security suite not fetched through the proxy"
    done = ssh_run(
        test_lab,
        host,
        ["sudo", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "less"],
        timeout=180,
    )
    assert done.returncode == 0, f"host1 apt-get install less: {done.stdout}{done.stderr}"


def test_up_restarts_a_powered_off_host_with_its_keys(test_lab: LabConfig) -> None:
    host = test_lab.host("host1")
    before = state.load(test_lab.state_file).hosts["host1"]
    assert before.nspawn is not None
    ssh_run(test_lab, host, ["sudo", "systemctl", "poweroff"])
    assert before.nspawn.wait_gone(60), "host1 did not power off from inside"
    report = lifecycle.up(test_lab)
    assert report.started == ["host1"], report
    after = state.load(test_lab.state_file).hosts["host1"]
    assert after.keys == before.keys, "host1 got new host keys on restart"
    done = ssh_run(test_lab, host, ["test", "-x", "/usr/bin/less"])
    assert done.returncode == 0, "host1 lost its root's changes (package installed earlier)"


def test_changed_host_key_is_refused(test_lab: LabConfig) -> None:
    host = test_lab.host("host1")
    regen = "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh"
    done = ssh_run(test_lab, host, ["sudo", "sh", "-c", regen])
    assert done.returncode == 0, f"could not regenerate host1's keys: {done.stderr}"
    refused = ssh_run(test_lab, host, ["true"])
    assert refused.returncode == 255, "ssh accepted a host key that differs from the pinned one"
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr or (
        "Host key verification failed" in refused.stderr
    ), refused.stderr


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def test_host_left_by_another_checkout_is_made_afresh(
    test_lab: LabConfig, tmp_path: Path
) -> None:
    """A session killed hard leaves mounts, netns and a host that trusts its checkout's key;
    `up` from another checkout (another lab key, as a CI clone has) must give a host it can
    log in to, not boot the old one."""
    nspawn = state.load(test_lab.state_file).hosts["host1"].nspawn
    assert nspawn is not None and nspawn.alive()
    for pid in [nspawn.pid, *_children(nspawn.pid)]:
        os.kill(pid, signal.SIGKILL)  # the processes this test module started
    assert nspawn.wait_gone(30), "host1's nspawn survived SIGKILL"
    other = make_lab(test_lab.name, test_lab.bridge, str(test_lab.subnet),
                     [(h.name, str(h.address)) for h in test_lab.hosts], tmp_path / "state")
    report = lifecycle.up(other)
    assert report.started == ["host1"], report
    done = ssh_run(other, other.host("host1"), ["true"])
    assert done.returncode == 0, f"host1 refused the new checkout's key: {done.stderr}"


def test_running_host_of_another_checkout_is_replaced(
    test_lab: LabConfig, tmp_path: Path
) -> None:
    """A host still running for another checkout (a CI clone started beside a developer's lab)
    trusts that checkout's key: `up` from here must replace it, not wait on a login that can
    never succeed."""
    nspawn = state.load(test_lab.state_file).hosts["host1"].nspawn
    assert nspawn is not None and nspawn.alive(), "host1 should still be running"
    third = make_lab(test_lab.name, test_lab.bridge, str(test_lab.subnet),
                     [(h.name, str(h.address)) for h in test_lab.hosts], tmp_path / "third")
    report = lifecycle.up(third)
    assert report.started == ["host1"], report
    assert not nspawn.alive(), "the old host1 was not stopped"
    done = ssh_run(third, third.host("host1"), ["true"])
    assert done.returncode == 0, f"host1 refused this checkout's key: {done.stderr}"


def test_down_leaves_nothing_and_spares_the_default_lab(
    test_lab: LabConfig, lab: LabConfig
) -> None:
    st = state.load(test_lab.state_file)
    procs = [p for p in [st.proxy, *(h.nspawn for h in st.hosts.values())] if p]
    inits = [
        sysutil.Proc(pid, sysutil.start_time(pid) or -1) for p in procs for pid in p.children()
    ]
    assert len(procs) == 2, f"expected the proxy and one nspawn recorded: {procs}"
    default_before = state.load(lab.state_file)

    done = _cli("down")
    assert done.returncode == 0, f"`lab down` failed: {done.stderr}"

    alive = [p.pid for p in procs + inits if p.alive()]
    assert not alive, f"processes left running after down: {alive}"
    assert not sysutil.mounts_under(test_lab.run_dir), "mounts left under the lab dir"
    assert not test_lab.run_dir.exists(), f"{test_lab.run_dir} left behind"
    assert not net.lab_netns(test_lab), f"netns left: {net.lab_netns(test_lab)}"
    assert not net.lab_veths(test_lab), f"veths left: {net.lab_veths(test_lab)}"
    assert test_lab.bridge not in net.link_names(), f"bridge {test_lab.bridge} left"
    assert not test_lab.known_hosts_path.exists(), "known_hosts of removed hosts left"
    cgroups = [d for h in test_lab.hosts for d in hosts.cgroup_dirs(test_lab, h) if d.exists()]
    assert not cgroups, f"cgroups left after down: {cgroups}"
    after = _cli("status")
    assert after.returncode == 3, f"status after down: exit 3 (hosts unavailable):\n{after.stdout}"
    assert "stopped" in after.stdout and "bridge: absent" in after.stdout, after.stdout

    for name, hs in default_before.hosts.items():
        assert hs.nspawn is not None and hs.nspawn.alive(), f"default lab host {name} stopped"
    assert lab.bridge in net.link_names(), "default lab bridge removed"
