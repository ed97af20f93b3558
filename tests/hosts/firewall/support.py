"""What the firewall role should have loaded, computed from the inventory the play used."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import lab_support
from expected import FIREWALL
from lab_support import HOSTS, hostvars
from testinfra.host import Host

__all__ = ["HOSTS", "TABLE", "expected_services", "loaded_services", "role_vars"]
TABLE = FIREWALL["firewall_table"]

# "tcp dport 5432 ip saddr 10.77.0.12 accept" / "... ip saddr { a, b } accept" / no saddr.
SERVICE_RULE = re.compile(
    r"^(?P<proto>tcp|udp) dport (?P<port>\d+)"
    r"(?: ip6? saddr (?P<saddr>\{[^}]*\}|\S+))? accept"
)


def role_vars(host: Host) -> dict[str, Any]:
    """The firewall_* values of the play; a templated inventory value (the lab sums per-group
    service lists in group_vars/all) is evaluated by Ansible (lab_support.role_vars)."""
    return lab_support.role_vars(host, "firewall")


def expected_services(host: Host) -> set[tuple[str, int, frozenset[str]]]:
    """{(proto, port, sources)} the input chain must accept; sources empty = anywhere."""
    variables = host.ansible.get_variables()
    groups = variables["groups"]
    v = role_vars(host)
    expected = set()
    for svc in [*v["firewall_common_services"], *v["firewall_services"]]:
        sources: set[str] = set()
        anywhere = False
        for source in svc["sources"]:
            if source == "any":
                anywhere = True
            elif source in groups:
                for member in groups[source]:
                    address = hostvars(host, member).get("ansible_host", member)
                    sources.add(str(address))
            else:
                net = ipaddress.ip_network(source, strict=False)
                sources.add(str(net) if net.num_addresses > 1 else str(net.network_address))
        expected.add((svc.get("proto", "tcp"), int(svc["port"]),
                      frozenset() if anywhere else frozenset(sources)))
    return expected


def loaded_services(table: str, ssh_port: int) -> set[tuple[str, int, frozenset[str]]]:
    """Service accept rules of the loaded input chain (SSH excluded)."""
    chain = table.split("chain input {", 1)[1].split("chain forward {", 1)[0]
    found = set()
    for line in chain.splitlines():
        match = SERVICE_RULE.match(line.strip())
        if not match or int(match["port"]) == ssh_port:
            continue
        saddr = (match["saddr"] or "").strip("{} ")
        sources = frozenset(s.strip() for s in saddr.split(",") if s.strip())
        found.add((match["proto"], int(match["port"]), sources))
    return found
