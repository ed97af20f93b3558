"""When node_exporter on one lab host stops, TargetDown reaches Alertmanager within its `for`
plus two scrape intervals, and resolves once the exporter runs again. Intervals and `for` are
read from the live Prometheus (the lab's short ones: inventories/lab/group_vars/monitoring)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from lab_support import Monitoring, wait
from testinfra.host import Host

from .support import api, get_json, seconds

VICTIM = "app1"
EXPORTER = "prometheus-node-exporter"


def _target_down_rule(monitoring: Monitoring) -> dict[str, Any]:
    rules = [r for g in api(f"{monitoring.prometheus}/api/v1/rules?type=alert")["groups"]
             for r in g["rules"] if r["name"] == "TargetDown"]
    assert len(rules) == 1, f"expected one TargetDown rule loaded, got {len(rules)}"
    return rules[0]


def _alerts_for(monitoring: Monitoring, instance: str) -> list[dict[str, Any]]:
    """TargetDown alerts for `instance` that Alertmanager holds and that are not resolved
    (Prometheus resolves an alert by sending it again with an end time in the past)."""
    now = datetime.now(UTC)
    return [
        alert for alert in get_json(f"{monitoring.alertmanager}/api/v2/alerts")
        if alert["labels"].get("alertname") == "TargetDown"
        and alert["labels"].get("instance") == instance
        and datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00")) > now
    ]




def test_target_down_reaches_alertmanager_and_resolves(
    monitoring: Monitoring, hardened: Callable[[str], Host]
) -> None:
    victim = hardened(VICTIM)
    instance = f"{victim.ansible.get_variables()['ansible_host']}:9100"
    config = yaml.safe_load(api(f"{monitoring.prometheus}/api/v1/status/config")["yaml"])
    scrape = seconds(config["global"]["scrape_interval"])
    evaluation = seconds(config["global"]["evaluation_interval"])
    rule = _target_down_rule(monitoring)
    for_ = float(rule["duration"])
    assert rule["labels"].get("severity") and rule["annotations"].get("runbook_url"), rule

    # Start from a clean state: the exporter up and no TargetDown for it.
    assert victim.service(EXPORTER).is_running, f"{VICTIM}: {EXPORTER} is not running"
    assert wait(lambda: not _alerts_for(monitoring, instance), 2 * scrape + 2 * evaluation) \
        is not None, f"TargetDown for {instance} is active before the exporter was stopped"

    fire_limit = for_ + 2 * scrape
    try:
        victim.check_output(f"systemctl stop {EXPORTER}")
        fired = wait(lambda: bool(_alerts_for(monitoring, instance)), fire_limit)
        assert fired is not None, (
            f"TargetDown for {instance} did not reach Alertmanager within {fire_limit:.0f} s "
            f"(for {for_:.0f} s + 2 x scrape interval {scrape:.0f} s) of stopping {EXPORTER} "
            f"on {VICTIM}"
        )
        alert = _alerts_for(monitoring, instance)[0]
        assert alert["labels"].get("severity") == rule["labels"]["severity"], alert["labels"]
        assert alert["labels"].get("job") == "node", alert["labels"]
        assert alert["annotations"].get("runbook_url", "").endswith("/TargetDown.md"), alert
        print(f"TargetDown reached Alertmanager {fired:.1f} s after the stop "
              f"(limit {fire_limit:.0f} s)")
    finally:
        victim.run(f"systemctl start {EXPORTER}")

    assert victim.service(EXPORTER).is_running, f"{VICTIM}: {EXPORTER} did not start again"
    resolve_limit = 2 * scrape + 2 * evaluation
    resolved = wait(lambda: not _alerts_for(monitoring, instance), resolve_limit)
    assert resolved is not None, (
        f"TargetDown for {instance} still active in Alertmanager {resolve_limit:.0f} s after "
        f"{EXPORTER} started again on {VICTIM}"
    )
    print(f"TargetDown resolved {resolved:.1f} s after the restart (limit {resolve_limit:.0f} s)")
