"""Filters of the firewall role: check and resolve service sources.

IP arithmetic is done here rather than in Jinja because ansible-core has no
ipaddr filter and the role must not depend on a collection for it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

ANY = "any"
_RATE = re.compile(r"^[1-9][0-9]*/(second|minute|hour|day)$")


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        return None


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _host_address(host: str, hostvars: Mapping[str, Any]) -> str:
    """The address a group member is known by: firewall_host_address, else ansible_host."""
    hvars = hostvars[host]
    for key in ("firewall_host_address", "ansible_host"):
        value = hvars.get(key)
        if value:
            return str(value)
    return host


def network_errors(values: Any, varname: str) -> list[str]:
    """Messages for every entry of `values` that is not an address or CIDR."""
    if not isinstance(values, list):
        return [f"{varname} must be a list of CIDRs, got {type(values).__name__}"]
    return [
        f"{varname}[{i}] = {value!r} is not an IP address or CIDR"
        for i, value in enumerate(values)
        if _network(value) is None
    ]


def rate_errors(value: Any, varname: str) -> list[str]:
    if _RATE.match(str(value)):
        return []
    return [f"{varname} = {value!r} is not a rate like 10/minute"]


def service_errors(
    services: Any, varname: str, groups: Mapping[str, Any], hostvars: Mapping[str, Any]
) -> list[str]:
    """Messages for malformed service entries, naming the variable and entry."""
    if not isinstance(services, list):
        return [f"{varname} must be a list, got {type(services).__name__}"]
    errors: list[str] = []
    for i, svc in enumerate(services):
        where = f"{varname}[{i}]"
        if not isinstance(svc, Mapping):
            errors.append(f"{where} must be a mapping with name, port, proto, sources")
            continue
        where = f"{varname}[{i}] ({svc.get('name', '?')})"
        if not svc.get("name"):
            errors.append(f"{where}.name is missing")
        if _port(svc.get("port")) is None:
            errors.append(f"{where}.port = {svc.get('port')!r} is not a port number 1-65535")
        if str(svc.get("proto", "tcp")) not in ("tcp", "udp"):
            errors.append(f"{where}.proto = {svc.get('proto')!r} is not tcp or udp")
        sources = svc.get("sources")
        if not isinstance(sources, list) or not sources:
            errors.append(
                f"{where}.sources must be a non-empty list (use [any] for everywhere)"
            )
            continue
        for source in sources:
            text = str(source)
            if text == ANY or _network(text) is not None:
                continue
            if text not in groups:
                errors.append(
                    f"{where}.sources: {text!r} is neither an address/CIDR nor an "
                    "inventory group"
                )
                continue
            for host in groups[text]:
                address = _host_address(host, hostvars)
                if _network(address) is None:
                    errors.append(
                        f"{where}.sources: host {host} of group {text!r} has no IP "
                        f"address ({address!r}); set firewall_host_address for it"
                    )
    return errors


def _split(networks: Iterable[str]) -> dict[str, list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for value in networks:
        net = _network(value)
        if net is None:
            raise ValueError(f"not a network: {value!r}")
        text = str(net) if net.num_addresses > 1 else str(net.network_address)
        target = v4 if net.version == 4 else v6
        if text not in target:
            target.append(text)
    # Stable order keeps the rendered file (and so the task) unchanged between runs.
    return {"v4": sorted(v4, key=_sort_key), "v6": sorted(v6, key=_sort_key)}


def _sort_key(value: str) -> tuple[int, int]:
    net = ipaddress.ip_network(value, strict=False)
    return int(net.network_address), net.prefixlen


def split_families(networks: Iterable[str]) -> dict[str, list[str]]:
    """{'v4': [...], 'v6': [...]} from a list of addresses and CIDRs."""
    return _split(networks)


def resolve_services(
    services: list[Mapping[str, Any]], groups: Mapping[str, Any], hostvars: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Normalise service entries: port int, proto, any flag, v4/v6 source lists."""
    resolved = []
    for svc in services:
        sources = [str(s) for s in svc["sources"]]
        addresses: list[str] = []
        for source in sources:
            if source == ANY:
                continue
            if _network(source) is not None:
                addresses.append(source)
            else:
                addresses.extend(_host_address(h, hostvars) for h in groups[source])
        families = _split(addresses)
        resolved.append(
            {
                "name": str(svc["name"]),
                "port": _port(svc["port"]),
                "proto": str(svc.get("proto", "tcp")),
                "any": ANY in sources,
                "v4": families["v4"],
                "v6": families["v6"],
            }
        )
    return resolved


def address_in(address: Any, networks: Iterable[str]) -> bool:
    """True when `address` lies inside one of `networks`."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    return any(
        (net := _network(n)) is not None and net.version == ip.version and ip in net
        for n in networks
    )


def lateral_ssh_hosts(
    networks: Iterable[str], hostvars: Mapping[str, Any], hosts: Iterable[str],
    bastions: Iterable[str],
) -> list[str]:
    """Inventory hosts (other than the named bastions) whose address lies inside the SSH admin
    networks: each of them could open SSH to every other host — a foothold on one host becomes
    a foothold on all."""
    allowed = set(bastions)
    found = []
    for host in hosts:
        address = _host_address(host, hostvars)
        if host not in allowed and address_in(address, networks):
            found.append(f"{host} ({address})")
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "firewall_network_errors": network_errors,
            "firewall_rate_errors": rate_errors,
            "firewall_service_errors": service_errors,
            "firewall_resolve_services": resolve_services,
            "firewall_split_families": split_families,
            "firewall_address_in": address_in,
            "firewall_lateral_ssh_hosts": lateral_ssh_hosts,
        }
