"""How a lab host is booted: what systemd-nspawn is asked for."""

from __future__ import annotations

import pytest

from infra.lab import default_lab
from infra.lab.hosts import nspawn_command

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
