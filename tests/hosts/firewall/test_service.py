"""firewall/service and the safety properties of loading: the file is checked, the unit
touches only our table, Docker's chains survive a reload, and so does an SSH session."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable

import pytest
from testinfra.backend.base import CommandResult
from testinfra.host import Host

from .support import HOSTS, TABLE, role_vars


@pytest.mark.parametrize("name", HOSTS)
def test_nftables_service_is_enabled_and_active(
    hardened: Callable[[str], Host], name: str
) -> None:
    service = hardened(name).service("nftables")
    assert service.is_enabled, f"{name}: nftables.service is not enabled (no ruleset at boot)"
    assert service.is_running, f"{name}: nftables.service is not active"


@pytest.mark.parametrize("name", HOSTS)
def test_ruleset_file_is_private_valid_and_never_flushes_everything(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    path = role_vars(host)["firewall_config_path"]
    f = host.file(path)
    assert f.mode == 0o600 and f.user == "root", f"{name}: {path} mode {oct(f.mode)} {f.user}"
    statements = [ln.strip() for ln in f.content_string.splitlines()
                  if ln.strip() and not ln.lstrip().startswith("#")]
    assert "flush ruleset" not in statements, f"{name}: {path} flushes every table"
    check = host.run(f"nft --check --file {path}")
    assert check.rc == 0, f"{name}: {path} does not pass nft --check: {check.stderr}"


@pytest.mark.parametrize("name", HOSTS)
def test_stopping_the_unit_would_remove_only_our_table(
    hardened: Callable[[str], Host], name: str
) -> None:
    stop = hardened(name).check_output("systemctl show nftables --property ExecStop")
    assert f"delete table inet {TABLE}" in stop and "flush" not in stop, (
        f"{name}: nftables ExecStop is not limited to our table: {stop}"
    )


def reload_nftables(host: Host) -> CommandResult:
    """`systemctl reload nftables`, once: no retry (the lab's hosts have cgroups of their own;
    tests/hosts/test_unit_restarts.py)."""
    return host.run("systemctl reload nftables")


def _docker_hosts(lab_host: Callable[[str], Host]) -> list[str]:
    return list(lab_host("edge1").ansible.get_variables()["groups"]["docker_hosts"])


@pytest.mark.parametrize("name", ["edge1", "app1"])
def test_reload_keeps_dockers_tables(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    assert name in _docker_hosts(hardened), f"{name} is not in docker_hosts any more"
    before = host.check_output("nft list tables")
    assert "table ip filter" in before and "table ip nat" in before, (
        f"{name}: Docker's iptables-nft tables are missing before the reload: {before}"
    )
    reload = reload_nftables(host)
    assert reload.rc == 0, f"{name}: nftables reload failed: {reload.stderr}"
    after = host.check_output("nft list tables")
    for table in ("table ip filter", "table ip nat", f"table inet {TABLE}"):
        assert table in after, f"{name}: {table} disappeared when nftables reloaded: {after}"


def test_an_open_ssh_session_survives_a_reload(hardened: Callable[[str], Host]) -> None:
    """A separate SSH connection (no multiplexing) stays up while the ruleset reloads."""
    host = hardened("db1")
    v = host.ansible.get_variables()
    command = [
        "ssh", "-o", "ControlPath=none", "-o", "BatchMode=yes",
        "-i", v["ansible_ssh_private_key_file"],
        *shlex.split(v.get("ansible_ssh_common_args", "")),
        f"{v['ansible_user']}@{v['ansible_host']}",
        "sleep 6; echo still-connected",
    ]
    session = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        time.sleep(2)
        reload = reload_nftables(host)
        assert reload.rc == 0, f"db1: nftables reload failed: {reload.stderr}"
        out, err = session.communicate(timeout=30)
    finally:
        if session.poll() is None:
            session.kill()
    assert session.returncode == 0 and "still-connected" in out, (
        f"db1: the SSH session did not survive the reload: rc={session.returncode} {err}"
    )
