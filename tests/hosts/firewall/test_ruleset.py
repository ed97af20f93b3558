"""firewall/ruleset: the loaded nft table, read back with `nft list table`."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, TABLE, expected_services, loaded_services, role_vars


def _table(host: Host) -> str:
    result = host.run(f"nft list table inet {TABLE}")
    assert result.rc == 0, f"{host.backend.host}: table inet {TABLE} not loaded: {result.stderr}"
    return result.stdout


def _chain(table: str, name: str) -> list[str]:
    body = table.split(f"chain {name} {{", 1)[1].split("\n\t}", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip()]


@pytest.mark.parametrize("chain", ["input", "forward"])
@pytest.mark.parametrize("name", HOSTS)
def test_chain_drops_by_default(hardened: Callable[[str], Host], name: str, chain: str) -> None:
    rules = _chain(_table(hardened(name)), chain)
    assert rules[0] == f"type filter hook {chain} priority filter; policy drop;", (
        f"{name}: chain {chain} does not default to drop: {rules[0]}"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_established_invalid_and_loopback_come_first(
    hardened: Callable[[str], Host], name: str
) -> None:
    rules = _chain(_table(hardened(name)), "input")
    assert rules[1:4] == [
        "ct state established,related accept",
        "ct state invalid drop",
        'iif "lo" accept',
    ], f"{name}: input chain does not start with established/invalid/loopback: {rules[1:4]}"


@pytest.mark.parametrize("name", HOSTS)
def test_icmp_is_rate_limited_but_neighbour_discovery_is_not(
    hardened: Callable[[str], Host], name: str
) -> None:
    rules = _chain(_table(hardened(name)), "input")
    nd = [r for r in rules if "nd-neighbor-solicit" in r]
    assert nd and "limit rate" not in nd[0] and nd[0].endswith("accept"), (
        f"{name}: IPv6 neighbour discovery is not accepted unconditionally: {nd}"
    )
    for family in ("icmp", "icmpv6"):
        echo = [r for r in rules if r.startswith(f"{family} type") and "echo-request" in r]
        assert echo and "limit rate" in echo[0], f"{name}: {family} echo not rate limited: {echo}"


@pytest.mark.parametrize("name", HOSTS)
def test_ssh_only_from_admin_networks_with_a_per_source_rate_limit(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    table = _table(host)
    v = role_vars(host)
    port = int(v["firewall_ssh_port"])
    admin_set = table.split("set ssh_admin_v4 {", 1)[1].split("}", 1)[0]
    for cidr in v["firewall_ssh_admin_cidrs"]:
        assert cidr in admin_set, f"{name}: admin network {cidr} missing from ssh_admin_v4"
    rules = _chain(table, "input")
    ssh = [r for r in rules if re.search(rf"\bdport {port}\b", r)]
    meter = f"tcp dport {port} ip saddr @ssh_admin_v4 ct state new update @ssh_meter_v4 "
    assert any(r.startswith(meter) and "limit rate over" in r and " drop" in r for r in ssh), (
        f"{name}: no per-source SSH rate limit: {ssh}"
    )
    accepts = [r for r in ssh if r.endswith("accept") or 'accept comment "ssh"' in r]
    assert accepts and all("saddr @ssh_admin_v" in r for r in accepts), (
        f"{name}: SSH accepted from outside the admin sets: {accepts}"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_service_ports_are_exactly_those_of_the_inventory(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    loaded = loaded_services(_table(host), int(role_vars(host)["firewall_ssh_port"]))
    expected = expected_services(host)
    assert loaded == expected, (
        f"{name}: open ports differ from inventory; unexpected {sorted(loaded - expected)}, "
        f"missing {sorted(expected - loaded)}"
    )
