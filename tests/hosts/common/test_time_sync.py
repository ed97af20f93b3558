"""common/time_sync: chrony runs; inside a container it only monitors the host's clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, in_container, role_vars


@pytest.mark.parametrize("name", HOSTS)
def test_chrony_is_enabled_and_running(hardened: Callable[[str], Host], name: str) -> None:
    service = hardened(name).service("chrony")
    assert service.is_enabled, f"{name}: chrony is not enabled"
    assert service.is_running, f"{name}: chrony is not running"


@pytest.mark.parametrize("name", HOSTS)
def test_chrony_controls_the_clock_only_on_a_real_host(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    cmdline = host.check_output("cat /proc/$(pidof chronyd | cut -d' ' -f1)/cmdline | tr '\\0' ' '")
    if in_container(host):
        assert " -x" in cmdline, f"{name}: chronyd runs without -x in a container: {cmdline}"
    else:
        assert " -x" not in cmdline, f"{name}: chronyd does not steer the clock: {cmdline}"


@pytest.mark.parametrize("name", HOSTS)
def test_chrony_sources_match_the_inventory(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    v = role_vars(host)
    conf = host.file("/etc/chrony/chrony.conf").content_string
    for pool in v["common_time_sync_pools"]:
        assert f"pool {pool} iburst" in conf, f"{name}: pool {pool} missing from chrony.conf"
    for server in v["common_time_sync_servers"]:
        assert f"server {server} iburst" in conf, f"{name}: server {server} missing"
    assert "cmdport 0" in conf and "port 0" in conf, f"{name}: chrony listens on the network"
