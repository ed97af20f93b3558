"""AIDE's database follows the converges, and nothing else: a converge's own changes are
taken into it (no drift for a deploy), a file changed by hand before the converge is not (the
aide check names it), and `-e drift_aide_accept_changes=true` takes the host as it is after a
review. On app1, through site.yml limited to the drift role (and the converge's start marker)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import host_metrics

HOST = "app1"
HAND_MADE = "/etc/rampart-aide-probe"  # appears by hand, outside any converge
MANAGED = "/etc/rampart-drift/config.json"  # the drift role writes it: a converge restores it
STATUS = "/var/lib/rampart-drift/status.json"


def _aide(host: Host) -> dict[str, object]:
    return json.loads(host.check_output(f"cat {STATUS}"))["aide"]


def _converge(run_playbook: Callable[..., PlaybookRun], *extra: str) -> str:
    """site.yml on HOST, the drift role only (-v); what its AIDE update said."""
    run = run_playbook("playbooks/site.yml", "--limit", HOST, "--tags", "drift", "-v", *extra)
    assert run.returncode == 0, run.failure_summary()
    said = [line for line in run.stdout.splitlines() if "aide-accept" in line]
    return said[-1][-600:] if said else "(no AIDE update in this run)"


def test_a_converge_takes_its_own_changes_into_aide_but_never_a_hand_made_one(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun]
) -> None:
    host = hardened(HOST)
    try:
        # Before the converge: a file appears by hand, and a managed file is edited (the
        # converge puts it back: written during the converge, so its change is sanctioned).
        host.check_output(f"echo hand-made > {HAND_MADE} && printf ' ' >> {MANAGED}")
        said = _converge(run_playbook)
        aide = _aide(host)
        assert not aide["ok"], (
            f"{HOST}: a hand-made file was taken into AIDE's database: {aide}; {said}")
        assert HAND_MADE in str(aide["detail"]), aide
        assert MANAGED not in str(aide["detail"]), (
            f"the file the converge restored is reported as drift: {aide}")
        assert host_metrics(host)["check:aide"] == 0
        # Reviewed: the hand-made file goes, and the host as it is becomes the database.
        host.check_output(f"rm -f {HAND_MADE}")
        _converge(run_playbook, "-e", "drift_aide_accept_changes=true")
        assert _aide(host)["ok"], _aide(host)
        # A converge whose only changes are its own keeps the aide check clean.
        host.check_output(f"printf ' ' >> {MANAGED}")
        _converge(run_playbook)
        aide = _aide(host)
        assert aide["ok"], f"{HOST}: the converge's own change is reported as drift: {aide}"
        assert host_metrics(host)["check:aide"] == 1
    finally:
        if host.file(HAND_MADE).exists or not _aide(host)["ok"]:
            host.run(f"rm -f {HAND_MADE}")
            _converge(run_playbook, "-e", "drift_aide_accept_changes=true")


def test_a_check_stopped_by_a_converge_leaves_no_failed_unit(
    hardened: Callable[[str], Host]
) -> None:
    # Every converge stops a running AIDE check before it updates the database; the check is
    # abandoned, and the host must not stay degraded (`systemctl --failed`) because of it.
    host = hardened(HOST)
    unit = "rampart-drift-aide.service"
    host.check_output(f"systemctl reset-failed {unit} || true")
    host.check_output(f"systemctl start --no-block {unit}")
    state = ""
    for _ in range(50):
        state = host.run(f"systemctl show -P ActiveState {unit}").stdout.strip()
        if state == "activating":
            break
        time.sleep(0.2)
    assert state == "activating", f"{HOST}: the AIDE check did not start ({state})"
    time.sleep(1)  # python and aide are running, not only forked
    host.check_output(f"systemctl stop {unit}")
    shown = host.check_output(f"systemctl show -p ActiveState -p Result {unit}")
    result = dict(line.split("=", 1) for line in shown.splitlines())
    assert result == {"ActiveState": "inactive", "Result": "success"}, (
        f"{HOST}: {unit} after a stop: {result}")
