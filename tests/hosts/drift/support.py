"""Helpers of the drift host tests: the metrics a host's drift checker writes, the same
series in the monitoring host's Prometheus, and HostConfigurationDrift in its Alertmanager,
all read as an operator would (the file on the host; the HTTP APIs from the controller)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from lab_support import MONITOR
from testinfra.host import Host

__all__ = ["ALERT", "CHECKS", "METRICS_FILE", "MONITOR", "host_metrics", "span_seconds"]
CHECKS = ("sshd", "nftables", "sysctl", "auditd", "aide", "upgrades")
METRICS_FILE = "/var/lib/prometheus/node-exporter/rampart_drift.prom"
ALERT = "HostConfigurationDrift"
_SAMPLE = re.compile(r'^(?P<name>\w+)(?:\{check="(?P<check>\w+)"\})? (?P<value>\S+)$')
_SPAN = re.compile(r"^(\d+)(s|min|m|h)?$")


def span_seconds(span: str) -> float:
    """A systemd time span as the lab writes it ("30s", "5min", "1h") in seconds."""
    match = _SPAN.match(str(span).strip())
    if not match:
        raise ValueError(f"not a simple systemd time span: {span!r}")
    return int(match.group(1)) * {None: 1, "s": 1, "min": 60, "m": 60, "h": 3600}[match.group(2)]


def host_metrics(host: Host) -> dict[str, float]:
    """{"check:sshd": 1.0, ..., "rampart_drift_last_run_timestamp_seconds": ...} from the file."""
    out: dict[str, float] = {}
    for line in host.check_output(f"cat {METRICS_FILE}").splitlines():
        match = _SAMPLE.match(line)
        if match:
            key = f"check:{match['check']}" if match["check"] else match["name"]
            out[key] = float(match["value"])
    return out




def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (lab URL)
        return json.load(response)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    body = get_json(f"{prometheus}/api/v1/query?query={urllib.parse.quote(expr)}")
    assert body.get("status") == "success", body
    return list(body["data"]["result"])


def drift_alerts(alertmanager: str, instance: str, check: str) -> list[dict[str, Any]]:
    """Active (not resolved) HostConfigurationDrift alerts of one host and check."""
    now = datetime.now(UTC)
    return [
        a for a in get_json(f"{alertmanager}/api/v2/alerts")
        if a["labels"].get("alertname") == ALERT
        and a["labels"].get("instance") == instance
        and a["labels"].get("check") == check
        and datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) > now
    ]


def alert_rule(prometheus: str) -> dict[str, Any] | None:
    rules = [r for g in get_json(f"{prometheus}/api/v1/rules?type=alert")["data"]["groups"]
             for r in g["rules"] if r["name"] == ALERT]
    return rules[0] if rules else None
