"""firewall/validate: bad inventory input stops the play before any change on the host,
with a message naming the variable at fault."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from infra.lab.playbook import PlaybookRun

PLAYBOOK = "tests/hosts/firewall/bad_input.yml"
HOST = "db1"

CASES = {
    "empty-admin-cidrs": ({"firewall_ssh_admin_cidrs": []}, "firewall_ssh_admin_cidrs"),
    "malformed-admin-cidr": ({"firewall_ssh_admin_cidrs": ["10.77.0.0/33"]},
                             "firewall_ssh_admin_cidrs[0]"),
    # The whole lab subnet as the admin network: every host could SSH to every other.
    "admin-cidr-holds-hosts": ({"firewall_ssh_admin_cidrs": ["10.77.0.0/24"]},
                               "contains inventory hosts: edge1 (10.77.0.11)"),
    "port-out-of-range": (
        {"firewall_services": [{"name": "pg", "port": 70000, "proto": "tcp",
                                "sources": ["app"]}]},
        "firewall_services[0] (pg).port",
    ),
    "port-not-a-number": (
        {"firewall_services": [{"name": "pg", "port": "54x2", "proto": "tcp",
                                "sources": ["app"]}]},
        "firewall_services",
    ),
    "unknown-group": (
        {"firewall_services": [{"name": "pg", "port": 5432, "proto": "tcp",
                                "sources": ["appz"]}]},
        "firewall_services[0] (pg).sources: 'appz'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(
    converged: object, run_playbook: Callable[..., PlaybookRun], case: str
) -> None:
    extra, variable = CASES[case]
    run = run_playbook(PLAYBOOK, "--limit", HOST, "--extra-vars", json.dumps(extra))
    output = run.stdout + run.stderr
    assert run.returncode != 0, f"{case}: the play succeeded on {HOST} with {extra}"
    assert variable in output, f"{case}: failure does not name {variable}:\n{output[-2000:]}"
    recap = run.recap.get(HOST, {})
    assert recap.get("failed") == 1 and recap.get("changed") == 0, (
        f"{case}: {HOST} recap {recap}: the bad input was not caught before any change"
    )
