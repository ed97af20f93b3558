"""Inventory checks that argument specs cannot express, run by playbooks/preflight.yml.

Each check returns human-readable problems that name the variable at fault; the preflight
play fails before any host is changed when the list is not empty. Pure functions, so the
unit tier tests them without Ansible (tests/unit/test_preflight.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

KEY_PATTERN = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com"
    r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=*( .*)?$"
)
# Variables holding one TCP/UDP port number, by role.
PORT_VARIABLES = ("ssh_hardening_port", "firewall_ssh_port", "node_exporter_port")
SERVICE_LISTS = ("firewall_common_services", "firewall_services")
PROTOCOLS = ("tcp", "udp")


def _is_port(value: Any) -> bool:
    # bool is an int subclass; `true` is not a port.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 1 <= value <= 65535
    if isinstance(value, str) and value.isdigit():
        return 1 <= int(value) <= 65535
    return False


def _is_network(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def admin_key_problems(variables: Mapping[str, Any]) -> list[str]:
    keys = variables.get("ssh_hardening_admin_authorized_keys")
    if keys is None:
        return ["ssh_hardening_admin_authorized_keys is not set: the admin would have no key"]
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        return ["ssh_hardening_admin_authorized_keys must be a list of public key lines"]
    keys = list(keys)
    if not keys:
        return ["ssh_hardening_admin_authorized_keys is empty: key-only SSH locks the admin out"]
    return [
        f"ssh_hardening_admin_authorized_keys[{index}] is not an OpenSSH public key line"
        for index, key in enumerate(keys)
        if not isinstance(key, str) or not KEY_PATTERN.match(key.strip())
    ]


def admin_cidr_problems(variables: Mapping[str, Any]) -> list[str]:
    cidrs = variables.get("firewall_ssh_admin_cidrs")
    if not cidrs:
        return ["firewall_ssh_admin_cidrs is empty: nobody could reach SSH through the firewall"]
    if isinstance(cidrs, str):
        return ["firewall_ssh_admin_cidrs must be a list of networks, not a string"]
    return [
        f"firewall_ssh_admin_cidrs[{index}] = {cidr!r} is not an IP network"
        for index, cidr in enumerate(cidrs)
        if not _is_network(cidr)
    ]


def port_problems(variables: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{name} = {variables[name]!r} is not a port number (1-65535)"
        for name in PORT_VARIABLES
        if name in variables and not _is_port(variables[name])
    ]
    if "fail2ban_sshd_port" in variables:
        # fail2ban accepts a comma-separated list of ports or service names.
        for part in str(variables["fail2ban_sshd_port"]).split(","):
            part = part.strip()
            if not (_is_port(part) or re.fullmatch(r"[a-z][a-z0-9-]*", part)):
                problems.append(
                    f"fail2ban_sshd_port = {variables['fail2ban_sshd_port']!r}: "
                    f"{part!r} is neither a port number nor a service name"
                )
    return problems


def service_problems(variables: Mapping[str, Any], groups: Iterable[str]) -> list[str]:
    known_groups = set(groups)
    problems: list[str] = []
    for list_name in SERVICE_LISTS:
        services = variables.get(list_name) or []
        if not isinstance(services, list):
            problems.append(f"{list_name} must be a list of services")
            continue
        for index, service in enumerate(services):
            where = f"{list_name}[{index}]"
            if not isinstance(service, Mapping):
                problems.append(f"{where} must be a mapping with name, port, proto, sources")
                continue
            where = f"{list_name}[{index}] ({service.get('name', '?')})"
            if not _is_port(service.get("port")):
                problems.append(f"{where}.port = {service.get('port')!r} is not a port (1-65535)")
            if service.get("proto", "tcp") not in PROTOCOLS:
                problems.append(f"{where}.proto = {service.get('proto')!r} is not tcp or udp")
            sources = service.get("sources")
            if not sources or isinstance(sources, str):
                problems.append(f"{where}.sources must be a non-empty list")
                continue
            for source in sources:
                if source == "any" or _is_network(source) or source in known_groups:
                    continue
                problems.append(
                    f"{where}.sources names {source!r}, which is neither `any`, an address, "
                    f"nor a host group of this inventory ({', '.join(sorted(known_groups))})"
                )
    return problems


def inventory_problems(variables: Mapping[str, Any], groups: Iterable[str]) -> list[str]:
    """Every problem found for one host's variables, each naming the variable at fault."""
    group_names = [name for name in groups if name not in ("all", "ungrouped")]
    return (
        admin_key_problems(variables)
        + admin_cidr_problems(variables)
        + port_problems(variables)
        + service_problems(variables, group_names)
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"rampart_inventory_problems": inventory_problems}
