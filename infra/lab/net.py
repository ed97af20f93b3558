"""The lab network: one bridge with the gateway address, one netns + veth per host.

Everything here is created with `ip` and named from LabConfig. Nothing touches the machine's
firewall or sysctls: hosts reach each other over the bridge and the outside world only
through the apt proxy on the bridge address (no forwarding, no NAT).
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network, ip_interface
from pathlib import Path

from infra.lab.config import HostSpec, LabConfig
from infra.lab.errors import LabInputError
from infra.lab.sysutil import run


def _links() -> list[dict[str, object]]:
    return json.loads(run(["ip", "-json", "link", "show"], "list network links") or "[]")


def link_names() -> set[str]:
    return {str(link["ifname"]) for link in _links()}


def netns_names() -> set[str]:
    # `ip netns list` prints "name (id: N)"; the files under /run/netns are the same set.
    root = Path("/run/netns")
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def addresses_in(subnet: IPv4Network) -> dict[str, str]:
    """Machine interfaces holding an address inside `subnet`: {ifname: cidr}."""
    found = {}
    for link in json.loads(run(["ip", "-json", "-4", "addr", "show"], "list addresses") or "[]"):
        for addr in link.get("addr_info", []):
            net = ip_interface(f"{addr['local']}/{addr['prefixlen']}").network
            if net.overlaps(subnet):
                found[str(link["ifname"])] = f"{addr['local']}/{addr['prefixlen']}"
    return found


def ensure_bridge(lab: LabConfig) -> None:
    what = f"lab {lab.name}: bridge {lab.bridge}"
    # Another interface in the same subnet (e.g. another lab's bridge) would make the
    # machine's routing ambiguous and steal the proxy address: refuse before creating anything.
    clash = {i: a for i, a in addresses_in(lab.subnet).items() if i != lab.bridge}
    if clash:
        taken = ", ".join(f"{i} ({a})" for i, a in sorted(clash.items()))
        raise LabInputError(
            f"{what}: subnet {lab.subnet} is already used on this machine by {taken}"
        )
    if lab.bridge not in link_names():
        run(["ip", "link", "add", lab.bridge, "type", "bridge"], what)
    addrs = json.loads(run(["ip", "-json", "addr", "show", "dev", lab.bridge], what))
    have = {
        f"{a['local']}/{a['prefixlen']}"
        for link in addrs
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    }
    if lab.bridge_cidr not in have:
        run(["ip", "addr", "add", lab.bridge_cidr, "dev", lab.bridge], what)
    run(["ip", "link", "set", lab.bridge, "up"], what)


def ensure_host_net(lab: LabConfig, host: HostSpec) -> None:
    """netns `<lab>-<host>` with eth0 (peer of veth `<bridge>-<octet>` on the bridge)."""
    ns, veth = lab.netns(host), lab.veth(host)
    what = f"lab {lab.name}: host {host.name} network (netns {ns}, veth {veth})"
    if ns not in netns_names():
        run(["ip", "netns", "add", ns], what)
    if veth not in link_names():
        run(
            ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
            what,
        )
    run(["ip", "link", "set", veth, "master", lab.bridge, "up"], what)
    inside = ["ip", "-n", ns]
    run([*inside, "link", "set", "lo", "up"], what)
    addrs = run([*inside, "-4", "-o", "addr", "show", "dev", "eth0"], what)
    if lab.host_cidr(host) not in addrs:
        run([*inside, "addr", "add", lab.host_cidr(host), "dev", "eth0"], what)
    run([*inside, "link", "set", "eth0", "up"], what)
    routes = run([*inside, "-4", "route", "show", "default"], what)
    if str(lab.gateway) not in routes:
        run([*inside, "route", "replace", "default", "via", str(lab.gateway)], what)


def remove_host_net(lab: LabConfig, host: HostSpec) -> None:
    ns, veth = lab.netns(host), lab.veth(host)
    what = f"lab {lab.name}: removing host {host.name} network"
    if veth in link_names():
        # Deleting one end removes the pair.
        run(["ip", "link", "del", veth], what)
    if ns in netns_names():
        run(["ip", "netns", "del", ns], what)


def remove_bridge(lab: LabConfig) -> None:
    if lab.bridge in link_names():
        run(["ip", "link", "del", lab.bridge], f"lab {lab.name}: removing bridge {lab.bridge}")


def lab_veths(lab: LabConfig) -> list[str]:
    return sorted(n for n in link_names() if n.startswith(lab.veth_prefix))


def lab_netns(lab: LabConfig) -> list[str]:
    # Exact names: a prefix would also match another lab's (rampart- vs rampart-t-).
    return sorted(set(netns_names()) & {lab.netns(h) for h in lab.hosts})
