"""Prometheus and Alertmanager as a drill sees them: the live timing settings the bound is
computed from, the alerts Alertmanager holds (API v2), and instant queries.

Addresses come from the Ansible inventory the `prometheus` role was applied with (its
monitoring group's first host), as `rampart demo` reads them (infra/observability/live.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from infra.drills.errors import DrillInputError, DrillUnavailableError
from infra.observability.live import LiveError, monitoring_host
from infra.observability.settings import parse_duration

# Alertmanager's own default when the route names none.
DEFAULT_GROUP_WAIT_S = 30


@dataclass(frozen=True)
class Endpoints:
    prometheus: str
    alertmanager: str


def endpoints(inventory: Path) -> Endpoints:
    """Prometheus and Alertmanager of the inventory's monitoring host."""
    try:
        host = monitoring_host(inventory)
    except LiveError as exc:
        raise DrillInputError(str(exc)) from None
    return Endpoints(host.url("prometheus_port"), host.url("prometheus_alertmanager_port"))


def get_json(url: str, timeout: float = 5.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http)
            return json.load(response)
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise DrillUnavailableError(f"{url}: {getattr(exc, 'reason', exc)}") from None


@dataclass(frozen=True)
class Timing:
    """The live figures a bound is made of, in seconds."""

    scrape_interval: float
    scrape_timeout: float
    # Alertmanager's group_wait: the top route's, and its child routes' by severity.
    default_group_wait: float
    severity_group_wait: Mapping[str, float]
    # (alertname, severity) -> (for, evaluation interval of its group)
    rules: Mapping[tuple[str, str], tuple[float, float]]
    # (alertname, severity) -> the rule's expression (drills read their thresholds there)
    exprs: Mapping[tuple[str, str], str]

    def group_wait(self, severity: str) -> float:
        return self.severity_group_wait.get(severity, self.default_group_wait)

    def expr(self, alert: str, severity: str) -> str:
        self.rule(alert, severity)
        return self.exprs[(alert, severity)]

    def rule(self, alert: str, severity: str) -> tuple[float, float]:
        try:
            return self.rules[(alert, severity)]
        except KeyError:
            raise DrillUnavailableError(
                f"Prometheus has no alerting rule {alert} (severity {severity}) loaded: "
                "converge the monitoring host (playbooks/site.yml)"
            ) from None


class Monitor:
    """One Prometheus and its Alertmanager."""

    def __init__(self, where: Endpoints, timeout: float = 5.0) -> None:
        self.where = where
        self.timeout = timeout

    def _prom(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = get_json(f"{self.where.prometheus}{path}{query}", self.timeout)
        if body.get("status") != "success":
            raise DrillUnavailableError(f"Prometheus {path}: {body.get('error', body)}")
        return body["data"]

    def timing(self) -> Timing:
        config = yaml.safe_load(self._prom("/api/v1/status/config")["yaml"])
        glob = config.get("global", {})
        scrape = parse_duration("scrape_interval", glob.get("scrape_interval", "1m"))
        timeout = parse_duration("scrape_timeout", glob.get("scrape_timeout", "10s"))
        rules: dict[tuple[str, str], tuple[float, float]] = {}
        exprs: dict[tuple[str, str], str] = {}
        for group in self._prom("/api/v1/rules", type="alert")["groups"]:
            for rule in group["rules"]:
                key = (rule["name"], rule.get("labels", {}).get("severity", ""))
                rules[key] = (float(rule.get("duration", 0)), float(group["interval"]))
                exprs[key] = rule["query"]
        status = get_json(f"{self.where.alertmanager}/api/v2/status", self.timeout)
        route = yaml.safe_load(status["config"]["original"]).get("route", {})
        default, by_severity = route_group_waits(route)
        return Timing(scrape, timeout, default, by_severity, rules, exprs)

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """Alerts named `name` Alertmanager holds now (firing: active, silenced or
        inhibited; a resolved alert is not listed)."""
        flt = urllib.parse.urlencode({"filter": f'alertname="{name}"'})
        body = get_json(f"{self.where.alertmanager}/api/v2/alerts?{flt}", self.timeout)
        now = datetime.now(UTC)
        return [a for a in body if a.get("status", {}).get("state") in ("active", "suppressed")
                and not _ended(a.get("endsAt", ""), now)]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self._prom("/api/v1/query", query=expr)["result"])


def _ended(ends_at: str, now: datetime) -> bool:
    """Whether Prometheus resolved the alert (it sends it again with an end in the past);
    Alertmanager drops it from the list soon after, this does not wait for that."""
    try:
        end = datetime.fromisoformat(ends_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    return end <= now


def route_group_waits(route: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """group_wait of the top route and of each first-level route matching one severity
    (what the generated alertmanager.yml has: one route per severity)."""
    top = route.get("group_wait")
    default = float(parse_duration("group_wait", top)) if top else float(DEFAULT_GROUP_WAIT_S)
    by_severity: dict[str, float] = {}
    for child in route.get("routes", []) or []:
        severities = [m.split("=", 1)[1].strip('"') for m in child.get("matchers", [])
                      if m.replace(" ", "").startswith("severity=")]
        severities += [v for k, v in (child.get("match") or {}).items() if k == "severity"]
        wait = child.get("group_wait")
        for severity in severities:
            by_severity.setdefault(
                severity, float(parse_duration("group_wait", wait)) if wait else default)
    return default, by_severity


def matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())
