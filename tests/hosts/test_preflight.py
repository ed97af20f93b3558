"""Bad inventory fails site.yml in the preflight play, before any change, naming the variable."""

from __future__ import annotations

import json

import pytest

from infra.lab.config import LabConfig
from infra.lab.playbook import run_playbook

CASES = {
    "missing-admin-key": ({"ssh_hardening_admin_authorized_keys": []},
                          "ssh_hardening_admin_authorized_keys"),
    "empty-admin-cidrs": ({"firewall_ssh_admin_cidrs": []}, "firewall_ssh_admin_cidrs"),
    "unknown-host-group": (
        {"firewall_services": [{"name": "pg", "port": 5432, "proto": "tcp",
                                "sources": ["no_such_group"]}]},
        "firewall_services[0] (pg).sources",
    ),
    "malformed-port": (
        {"firewall_services": [{"name": "pg", "port": 70000, "proto": "tcp", "sources": ["app"]}]},
        "firewall_services[0] (pg).port",
    ),
    "wrong-type": ({"ssh_hardening_port": "twenty-two"}, "ssh_hardening_port"),
    # Edge hosts (run against edge1): the traefik role's values, before any host changes.
    "edge-no-checksum": ({"traefik_sha256": ""}, "traefik_sha256"),
    "edge-short-checksum": ({"traefik_sha256": "ab" * 16}, "traefik_sha256"),
    "edge-no-upstreams": ({"traefik_upstreams": {}}, "traefik_upstreams"),
    "edge-wrong-type": ({"traefik_admin_allowlist": "10.0.0.0/8"}, "traefik_admin_allowlist"),
}
EDGE_CASES = {name for name in CASES if name.startswith("edge-")}


@pytest.mark.parametrize(("extra", "variable"), CASES.values(), ids=CASES.keys())
def test_bad_inventory_fails_before_any_change(lab: LabConfig, extra: dict, variable: str,
                                               request: pytest.FixtureRequest) -> None:
    host = "edge1" if request.node.callspec.id in EDGE_CASES else "db1"
    run = run_playbook("playbooks/site.yml", "--limit", host, "-e", json.dumps(extra))
    assert run.returncode != 0, f"site.yml accepted {extra}"
    assert variable in run.stdout, f"failure does not name {variable}: {run.failure_summary()}"
    started = [line for line in run.stdout.splitlines()
               if line.startswith("TASK [") and "Gathering Facts" not in line
               and not line.startswith(("TASK [Every role's variables", "TASK [Admin keys",
                                        "TASK [Edge hosts name"))]
    assert not started, f"tasks ran after a failed preflight: {started[:3]}"
    assert all(c.get("changed", 0) == 0 for c in run.recap.values()), f"changes: {run.recap}"
