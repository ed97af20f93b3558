"""A person changes a lab host's hardening by hand; the drift check reports it within its
interval, HostConfigurationDrift reaches Alertmanager within its bound, and re-running the
owning role and the drift role through site.yml (limited to the host) restores the host, the
metric and the alert. The host is restored in `finally`, whatever failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from lab_support import Monitoring, address, wait
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import ALERT, alert_rule, drift_alerts, host_metrics

RUN_SECONDS = 10  # one run of the checker (sshd -T, nft, apt-get -s), generous


@dataclass(frozen=True)
class Fault:
    check: str
    host: str
    inject: str  # shell, as root on the host
    tags: str  # the roles site.yml re-runs to restore it (and drift, which re-checks at once)
    after: str = "true"  # shell run after the restore, always (collateral of the fault)


FAULTS = [
    # An administrator allows root logins "for a minute" and reloads sshd.
    Fault("sshd", "app1",
          "sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/' /etc/ssh/sshd_config"
          " && systemctl reload ssh",
          "ssh_hardening,drift"),
    # Someone flushes the whole ruleset while debugging. db1 runs no Docker; fail2ban's own
    # table goes too, and fail2ban re-creates it when it restarts.
    Fault("nftables", "db1", "nft flush ruleset", "firewall,drift",
          after="systemctl restart fail2ban"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.check)
def test_hand_made_drift_alerts_and_site_yml_restores(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun],
    monitoring: Monitoring, interval: float, fault: Fault
) -> None:
    host = hardened(fault.host)
    instance = f"{address(host)}:9100"
    rule = alert_rule(monitoring.prometheus)
    assert rule is not None, f"{ALERT} is not loaded in the lab's Prometheus"
    for_ = float(rule["duration"])

    def state() -> float:
        return host_metrics(host)[f"check:{fault.check}"]

    assert state() == 1, f"{fault.host}: check {fault.check} is already 0 before the fault"
    assert not drift_alerts(monitoring.alertmanager, instance, fault.check), (
        f"{ALERT} for {instance} {fault.check} is active before the fault")

    detect_limit = interval + RUN_SECONDS
    alert_limit = detect_limit + monitoring.scrape + for_ + 2 * monitoring.evaluation
    restored: PlaybookRun | None = None
    try:
        host.check_output(fault.inject)
        start = time.monotonic()
        detected = wait(lambda: state() == 0, detect_limit)
        assert detected is not None, (
            f"{fault.host}: check {fault.check} still 1 {detect_limit:.0f} s after the fault")
        fired = wait(lambda: bool(drift_alerts(monitoring.alertmanager, instance, fault.check)),
                     alert_limit - (time.monotonic() - start))
        assert fired is not None, (
            f"{ALERT} for {instance} {fault.check} not in Alertmanager within "
            f"{alert_limit:.0f} s (interval {interval:.0f} + run {RUN_SECONDS} + scrape "
            f"{monitoring.scrape:.0f} + for {for_:.0f} + 2 x evaluation)")
        print(f"{fault.check} on {fault.host}: metric 0 after {detected:.1f} s, alert in "
              f"Alertmanager after {time.monotonic() - start:.1f} s (bound {alert_limit:.0f} s)")
        restored = run_playbook("playbooks/site.yml", "--limit", fault.host,
                                "--tags", fault.tags)
        assert restored.returncode == 0, f"site.yml did not restore {fault.host}: " \
            f"{restored.failure_summary()}"
    finally:
        if restored is None or restored.returncode != 0:
            run_playbook("playbooks/site.yml", "--limit", fault.host, "--tags", fault.tags)
        host.run(fault.after)

    back = wait(lambda: state() == 1, interval + RUN_SECONDS)
    assert back is not None, f"{fault.host}: check {fault.check} still 0 after site.yml"
    resolve_limit = interval + RUN_SECONDS + monitoring.scrape + 2 * monitoring.evaluation
    resolved = wait(lambda: not drift_alerts(monitoring.alertmanager, instance, fault.check),
                    resolve_limit)
    assert resolved is not None, (
        f"{ALERT} for {instance} {fault.check} still active "
        f"{resolve_limit:.0f} s after site.yml restored the host")
    print(f"{fault.check} on {fault.host}: site.yml took {restored.seconds if restored else 0:.0f}"
          f" s; alert resolved {resolved:.1f} s after it")

