"""What the firewall role should have loaded, computed from the inventory the play used."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/firewall/defaults/main.yml").read_text())
HOSTS = ["edge1", "app1", "db1", "mon1"]
TABLE = DEFAULTS["firewall_table"]

# "tcp dport 5432 ip saddr 10.77.0.12 accept" / "... ip saddr { a, b } accept" / no saddr.
SERVICE_RULE = re.compile(
    r"^(?P<proto>tcp|udp) dport (?P<port>\d+)"
    r"(?: ip6? saddr (?P<saddr>\{[^}]*\}|\S+))? accept"
)


def role_vars(host: Host) -> dict[str, Any]:
    """The firewall_* values the play used: defaults, then inventory; a templated inventory
    value (the lab sums per-group service lists in group_vars/all) is evaluated by Ansible."""
    inventory = host.ansible.get_variables()
    merged = {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("firewall_")}}
    for key, value in merged.items():
        if isinstance(value, str) and "{{" in value:
            merged[key] = host.ansible("debug", f"var={key}", check=False)[key]
    return merged


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
                    address = _hostvars(host, member).get("ansible_host", member)
                    sources.add(str(address))
            else:
                net = ipaddress.ip_network(source, strict=False)
                sources.add(str(net) if net.num_addresses > 1 else str(net.network_address))
        expected.add((svc.get("proto", "tcp"), int(svc["port"]),
                      frozenset() if anywhere else frozenset(sources)))
    return expected


def _hostvars(host: Host, name: str) -> dict[str, Any]:
    """Inventory variables of another host (testinfra's runner holds the whole inventory)."""
    runner = host.backend.ansible_runner  # type: ignore[attr-defined]
    return dict(runner.get_variables(name))


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
