"""A configuration that would lock the admin out fails before any change, naming the
variable — both in the playbooks' preflight and in the role itself."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from testinfra.host import Host

from infra.lab.playbook import run_playbook

HOST = "db1"


def _checksum(host: Host) -> str:
    return host.check_output("sha256sum /etc/ssh/sshd_config /home/rampart/.ssh/authorized_keys")


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"ssh_hardening_admin_authorized_keys": []}, "ssh_hardening_admin_authorized_keys"),
        ({"ssh_hardening_admin_authorized_keys": ["not a key"]},
         "ssh_hardening_admin_authorized_keys"),
        ({"ssh_hardening_allow_groups": ["nobody-group"]}, "ssh_hardening_allow_groups"),
    ],
    ids=["empty-keys", "malformed-key", "admin-not-in-allowed-groups"],
)
def test_role_refuses_a_lockout_before_any_change(
    hardened: Callable[[str], Host], extra: dict, variable: str
) -> None:
    host = hardened(HOST)
    before = _checksum(host)
    # The role alone (no preflight): its own guard must catch it.
    run = run_playbook(
        "tests/hosts/ssh_hardening/handler_failure.yml", "--limit", HOST,
        "-e", json.dumps({**extra, "handler_test_host": HOST, "handler_test_fail": False}),
    )
    assert run.returncode != 0, f"{HOST}: the role accepted {extra}"
    assert variable in run.stdout, (
        f"{HOST}: failure does not name {variable}: {run.failure_summary()}"
    )
    assert run.recap.get(HOST, {}).get("changed", 0) == 0, f"{HOST}: changes were made: {run.recap}"
    assert _checksum(host) == before, f"{HOST}: sshd_config or authorized_keys changed"
