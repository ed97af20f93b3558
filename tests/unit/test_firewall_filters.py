"""The firewall role's lateral-SSH check (filter plugin), without Ansible."""

from __future__ import annotations

import ipaddress
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# The plugin file as Ansible loads it (by path; filter_plugins is not a package).
PLUGIN = ROOT / "roles/firewall/filter_plugins/firewall_sources.py"
sources: Any = SimpleNamespace(**runpy.run_path(str(PLUGIN)))

HOSTVARS = {
    "edge1": {"ansible_host": "10.77.0.11"},
    "app1": {"ansible_host": "10.77.0.12"},
    "db1": {"ansible_host": "10.77.0.13", "firewall_host_address": "10.77.1.13"},
    "bastion": {"ansible_host": "10.77.0.5"},
}


def lateral(cidrs: list[str], bastions: tuple[str, ...] = ()) -> list[str]:
    return list(sources.lateral_ssh_hosts(cidrs, HOSTVARS, list(HOSTVARS), list(bastions)))


def test_the_lab_admin_network_holds_no_host() -> None:
    assert lateral(["10.77.0.0/29"], bastions=("bastion",)) == []


def test_the_whole_subnet_is_refused_naming_each_host() -> None:
    found = lateral(["10.77.0.0/24"])
    assert found == ["edge1 (10.77.0.11)", "app1 (10.77.0.12)", "bastion (10.77.0.5)"]


def test_the_firewall_address_wins_over_ansible_host() -> None:
    assert lateral(["10.77.1.0/24"]) == ["db1 (10.77.1.13)"]
    assert "db1" not in " ".join(lateral(["10.77.0.13/32"]))


def test_a_named_bastion_is_allowed_and_only_it() -> None:
    assert lateral(["10.77.0.4/30"], bastions=("bastion",)) == []
    assert lateral(["10.77.0.4/30"]) == ["bastion (10.77.0.5)"]


# Any spelling of a network that covers a host address is caught: host bits set, a /32 of
# the host, a supernet, 0.0.0.0/0, or the plain address.
@given(prefix=st.integers(min_value=0, max_value=32), host=st.sampled_from(["edge1", "app1"]))
def test_every_network_that_covers_a_host_is_refused(prefix: int, host: str) -> None:
    address = ipaddress.ip_address(HOSTVARS[host]["ansible_host"])
    network = f"{address}/{prefix}"  # host bits set on purpose: still that network
    assert any(entry.startswith(f"{host} ") for entry in lateral([network]))
    if prefix == 32:
        assert any(entry.startswith(f"{host} ") for entry in lateral([str(address)]))


@given(prefix=st.integers(min_value=25, max_value=32))
def test_networks_beside_the_hosts_are_accepted(prefix: int) -> None:
    # 10.77.0.128/25 and everything inside it: no inventory address there.
    assert lateral([f"10.77.0.200/{prefix}"]) == []
