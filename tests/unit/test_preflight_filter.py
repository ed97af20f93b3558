"""The inventory checks of playbooks/preflight.yml (filter plugin), without Ansible."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# The plugin file as Ansible loads it (by path; filter_plugins is not a package).
PLUGIN = ROOT / "playbooks/filter_plugins/rampart_preflight.py"
preflight: Any = SimpleNamespace(**runpy.run_path(str(PLUGIN)))

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk0bV0q6mQ4y0d3qNqkq3fGm6E2Yx5b8dA7G1oJ7r2x lab"
GROUPS = ["all", "ungrouped", "edge", "app", "db", "monitoring", "docker_hosts"]


def good() -> dict[str, Any]:
    return {
        "ssh_hardening_admin_authorized_keys": [KEY],
        "firewall_ssh_admin_cidrs": ["10.77.0.0/24"],
        "ssh_hardening_port": 22,
        "firewall_ssh_port": 22,
        "node_exporter_port": 9100,
        "fail2ban_sshd_port": "22",
        "firewall_common_services": [
            {"name": "node-exporter", "port": 9100, "proto": "tcp", "sources": ["monitoring"]}
        ],
        "firewall_services": [
            {"name": "https", "port": 443, "proto": "tcp", "sources": ["any"]},
            {"name": "pg", "port": "5432", "proto": "tcp", "sources": ["app", "192.0.2.7"]},
        ],
    }


def test_a_good_inventory_has_no_problems() -> None:
    assert preflight.inventory_problems(good(), GROUPS) == []


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"ssh_hardening_admin_authorized_keys": []}, "ssh_hardening_admin_authorized_keys"),
        ({"ssh_hardening_admin_authorized_keys": None}, "ssh_hardening_admin_authorized_keys"),
        ({"ssh_hardening_admin_authorized_keys": KEY}, "ssh_hardening_admin_authorized_keys"),
        ({"ssh_hardening_admin_authorized_keys": ["ssh-ed25519"]},
         "ssh_hardening_admin_authorized_keys[0]"),
        ({"firewall_ssh_admin_cidrs": []}, "firewall_ssh_admin_cidrs"),
        ({"firewall_ssh_admin_cidrs": ["10.77.0.0/33"]}, "firewall_ssh_admin_cidrs[0]"),
        ({"firewall_ssh_admin_cidrs": "10.0.0.0/8"}, "firewall_ssh_admin_cidrs"),
        ({"ssh_hardening_port": 0}, "ssh_hardening_port"),
        ({"firewall_ssh_port": 65536}, "firewall_ssh_port"),
        ({"node_exporter_port": True}, "node_exporter_port"),
        ({"node_exporter_port": "91OO"}, "node_exporter_port"),
        ({"fail2ban_sshd_port": "22,ss h"}, "fail2ban_sshd_port"),
    ],
)
def test_each_problem_names_its_variable(change: dict[str, Any], variable: str) -> None:
    problems = preflight.inventory_problems({**good(), **change}, GROUPS)
    assert problems, f"{change} was accepted"
    assert any(p.startswith(variable) for p in problems), problems


@pytest.mark.parametrize(
    ("service", "fragment"),
    [
        ({"name": "pg", "port": 5432, "proto": "tcp", "sources": ["dbs"]},
         "firewall_services[0] (pg).sources names 'dbs'"),
        ({"name": "pg", "port": 70000, "proto": "tcp", "sources": ["app"]},
         "firewall_services[0] (pg).port = 70000"),
        ({"name": "pg", "port": "5432/tcp", "proto": "tcp", "sources": ["app"]},
         "firewall_services[0] (pg).port"),
        ({"name": "pg", "port": 5432, "proto": "sctp", "sources": ["app"]},
         "firewall_services[0] (pg).proto"),
        ({"name": "pg", "port": 5432, "proto": "tcp", "sources": []},
         "firewall_services[0] (pg).sources must be a non-empty list"),
        ({"name": "pg", "port": 5432, "proto": "tcp", "sources": "app"},
         "firewall_services[0] (pg).sources must be a non-empty list"),
    ],
)
def test_service_problems_name_the_entry(service: dict[str, Any], fragment: str) -> None:
    problems = preflight.inventory_problems({**good(), "firewall_services": [service]}, GROUPS)
    assert any(fragment in p for p in problems), problems


def test_all_and_ungrouped_are_not_valid_sources() -> None:
    service = {"name": "x", "port": 1, "proto": "tcp", "sources": ["ungrouped"]}
    problems = preflight.inventory_problems({**good(), "firewall_services": [service]}, GROUPS)
    assert problems, "the implicit group `ungrouped` was accepted as a source"


def test_filter_is_registered_under_its_name() -> None:
    filters = preflight.FilterModule().filters()
    assert filters["rampart_inventory_problems"] is preflight.inventory_problems
