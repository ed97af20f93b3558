"""Handlers run even when a later task fails (force_handlers), so the running sshd never lags
the file — the failure mode of dev-sec's roles in containers. Changes one cipher on one
host, checks the live daemon with ssh-audit, and restores the role's defaults."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun, run_playbook

from .support import address, role_vars, ssh_audit

HOST = "mon1"
PLAYBOOK = "tests/hosts/ssh_hardening/handler_failure.yml"


def _apply(ciphers: list[str], fail: bool, force_handlers: bool) -> PlaybookRun:
    extra = {"handler_test_host": HOST, "handler_test_fail": fail, "ssh_hardening_ciphers": ciphers}
    previous = os.environ.get("ANSIBLE_FORCE_HANDLERS")
    os.environ["ANSIBLE_FORCE_HANDLERS"] = "True" if force_handlers else "False"
    try:
        return run_playbook(PLAYBOOK, "--limit", HOST, "-e", json.dumps(extra))
    finally:
        if previous is None:
            os.environ.pop("ANSIBLE_FORCE_HANDLERS", None)
        else:
            os.environ["ANSIBLE_FORCE_HANDLERS"] = previous


def _live_ciphers(host: Host) -> list[str]:
    return [a["algorithm"] for a in ssh_audit(address(host)).get("enc", [])]


@pytest.fixture
def host_restored(hardened: Callable[[str], Host]) -> Iterator[Host]:
    host = hardened(HOST)
    yield host
    restore = _apply(role_vars(host)["ssh_hardening_ciphers"], fail=False, force_handlers=True)
    assert restore.returncode == 0, f"{HOST}: restoring sshd failed: {restore.failure_summary()}"


def test_ansible_cfg_forces_handlers() -> None:
    with open("ansible.cfg", encoding="utf-8") as cfg:
        lines = [line.split("=", 1) for line in cfg if "=" in line]
    settings = {k.strip(): v.strip() for k, v in lines}
    assert settings.get("force_handlers", "").lower() == "true", "ansible.cfg: force_handlers"


def test_reload_runs_after_a_later_failure_and_would_not_without_force(
    host_restored: Host,
) -> None:
    host = host_restored
    configured = role_vars(host)["ssh_hardening_ciphers"]
    assert _live_ciphers(host) == configured, f"{HOST}: live ciphers differ before the test"

    # Without force_handlers the failure skips the reload: file and daemon disagree.
    fewer = [c for c in configured if c != "aes128-ctr"]
    stale = _apply(fewer, fail=True, force_handlers=False)
    assert stale.returncode != 0, f"{HOST}: the deliberate failure did not fail the play"
    assert "aes128-ctr" in _live_ciphers(host), (
        f"{HOST}: control run: sshd reloaded although handlers were not forced"
    )

    # With force_handlers (ansible.cfg) the same failure still reloads sshd.
    even_fewer = [c for c in fewer if c != "aes192-ctr"]
    forced = _apply(even_fewer, fail=True, force_handlers=True)
    assert forced.returncode != 0, f"{HOST}: the deliberate failure did not fail the play"
    assert "RUNNING HANDLER [ssh_hardening : Reload ssh]" in forced.stdout, (
        f"{HOST}: Reload ssh did not run: {forced.failure_summary()}"
    )
    live = _live_ciphers(host)
    assert live == even_fewer, f"{HOST}: live sshd offers {live}, file says {even_fewer}"
