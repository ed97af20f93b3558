"""firewall/ruleset repairs hand-made changes: a person flushes the ruleset, opens a port or
empties a chain on a host; the drift check reports `check="nftables"` 0; the firewall role
alone (site.yml --limit <host> --tags firewall), with its file unchanged, loads the table
again, so the loaded table is the one the file defines and the check is back to 1; and a
second run changes nothing. The host is restored in `finally`, whatever failed."""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from drift.support import host_metrics
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import TABLE, role_vars

HOST = "db1"  # no Docker: only our table and fail2ban's are in its ruleset
DRIFT_UNIT = "rampart-drift.service"
FILTERS = Path(__file__).resolve().parents[3] / "roles/firewall/filter_plugins/firewall_ruleset.py"


def _filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("firewall_ruleset", FILTERS)
    assert spec and spec.loader, f"cannot load {FILTERS}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Fault:
    name: str
    inject: str  # shell, as root on the host; must leave SSH from the controller working
    after: str = "true"  # shell run after the restore, always (collateral of the fault)


FAULTS = [
    # Everything gone while debugging; fail2ban's table goes too and comes back on restart.
    Fault("ruleset-flushed", "nft flush ruleset", after="systemctl restart fail2ban"),
    # The table is still there (the old role only checked that it exists): a port opened
    # "for a minute" in front of the policy.
    Fault("port-opened",
          f"nft insert rule inet {TABLE} input tcp dport 31337 accept comment handmade"),
    # A chain emptied: still a table, still a chain, none of its rules.
    Fault("chain-flushed", f"nft flush chain inet {TABLE} forward"),
]


def _drift_nftables(host: Host) -> float:
    """check="nftables" as the drift checker writes it, after a run started now."""
    host.check_output(f"systemctl start {DRIFT_UNIT}")
    return host_metrics(host)["check:nftables"]


def _digests(host: Host) -> tuple[str, str]:
    """(loaded table, the table the ruleset file defines) as the role compares them."""
    filters = _filters()
    path = role_vars(host)["firewall_config_path"]
    loaded = host.run(f"nft -s -j list table inet {TABLE}")
    assert loaded.rc == 0, f"{HOST}: table inet {TABLE} is not loaded: {loaded.stderr}"
    script = '"$0" -f "$1" && exec "$0" -s -j list table inet "$2"'
    expected = host.check_output(
        f"unshare --net sh -c {shlex.quote(script)} nft {shlex.quote(path)} {TABLE}")
    return (filters.table_digest(loaded.stdout, "the loaded table"),
            filters.table_digest(expected, path))


def _firewall_run(run_playbook: Callable[..., PlaybookRun]) -> PlaybookRun:
    return run_playbook("playbooks/site.yml", "--limit", HOST, "--tags", "firewall")


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_firewall_role_restores_a_hand_made_change(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun], fault: Fault
) -> None:
    host = hardened(HOST)
    path = role_vars(host)["firewall_config_path"]
    file_before = host.check_output(f"sha256sum {path}")
    assert _drift_nftables(host) == 1, f"{HOST}: check nftables is already 0 before the fault"
    restored: PlaybookRun | None = None
    try:
        host.check_output(fault.inject)
        assert _drift_nftables(host) == 0, (
            f"{HOST}: the drift check did not notice '{fault.inject}'")
        restored = _firewall_run(run_playbook)
        assert restored.returncode == 0, (
            f"the firewall role failed on {HOST}: {restored.failure_summary()}")
    finally:
        if restored is None or restored.returncode != 0:
            _firewall_run(run_playbook)
        host.run(fault.after)

    assert restored.changed_hosts.get(HOST, 0) > 0, (
        f"{HOST}: the firewall role reported no change after '{fault.inject}'")
    assert host.check_output(f"sha256sum {path}") == file_before, (
        f"{HOST}: {path} changed; the repair must come from the loaded table, not the file")
    loaded, expected = _digests(host)
    assert loaded == expected, f"{HOST}: table inet {TABLE} still differs from {path}"
    assert _drift_nftables(host) == 1, (
        f"{HOST}: check nftables still 0 after the firewall role ran")
    again = _firewall_run(run_playbook)
    assert again.returncode == 0, f"second firewall run failed: {again.failure_summary()}"
    changed = [ln for ln in again.stdout.splitlines() if ln.startswith("changed:")]
    assert not again.changed_hosts, (
        f"{HOST}: a second firewall run on a repaired host changed something: {changed}")
    print(f"{fault.name} on {HOST}: the firewall role restored it in {restored.seconds:.0f} s "
          f"({restored.changed_hosts[HOST]} changed); second run {again.seconds:.0f} s, "
          "no change")
