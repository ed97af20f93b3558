"""After site.yml every host's drift checker has run, finds nothing drifted, and its series
reach the monitoring host's Prometheus (the alert rule reads them there).

AIDE's verdict is left out of "nothing drifted" here: by the time these tests run, the host
tier has changed files by hand and repaired them through harden.yml (tests/hosts/common,
firewall, ...), which AIDE rightly reports until a reviewed accept. What AIDE's database takes
from a converge, and what it refuses, is tested on its own in test_aide.py."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from lab_support import HOSTS, Monitoring, address, wait
from testinfra.host import Host

from .support import CHECKS, host_metrics, query

# Every check but AIDE's (see the module's docstring).
STATE_CHECKS = tuple(c for c in CHECKS if c != "aide")


@pytest.mark.parametrize("name", HOSTS)
def test_every_check_reads_ok_after_site_yml(
    hardened: Callable[[str], Host], interval: float, name: str
) -> None:
    host = hardened(name)
    metrics = host_metrics(host)
    missing = [c for c in CHECKS if f"check:{c}" not in metrics]
    assert not missing, f"{name}: no rampart_drift_check_ok for {missing}"
    drifted = [c for c in STATE_CHECKS if metrics[f"check:{c}"] != 1]
    assert not drifted, (
        f"{name}: drift reported right after site.yml for {drifted}: "
        f"{host.check_output('cat /var/lib/rampart-drift/status.json')}"
    )
    age = time.time() - metrics["rampart_drift_last_run_timestamp_seconds"]
    # The timer runs every `interval` (plus the run itself, a few seconds).
    assert age < 2 * interval + 15, f"{name}: the drift checks last ran {age:.0f} s ago"
    assert metrics["rampart_drift_pending_upgrades"] >= 0, metrics


def test_prometheus_has_every_hosts_drift_series(
    hardened: Callable[[str], Host], monitoring: Monitoring
) -> None:
    instances = {f"{address(hardened(n))}:9100" for n in HOSTS}
    expected = {(i, c) for i in instances for c in CHECKS}

    def seen() -> set[tuple[str, str]]:
        return {(r["metric"]["instance"], r["metric"]["check"])
                for r in query(monitoring.prometheus, "rampart_drift_check_ok")}

    assert wait(lambda: expected <= seen(), 3 * monitoring.scrape) is not None, (
        f"Prometheus lacks drift series for {sorted(expected - seen())}")
    drifted = query(monitoring.prometheus, 'rampart_drift_check_ok{check!="aide"} == 0')
    assert not drifted, f"Prometheus sees drift after site.yml: {[r['metric'] for r in drifted]}"
    pending = query(monitoring.prometheus, "rampart_drift_pending_upgrades")
    assert {r["metric"]["instance"] for r in pending} == instances
