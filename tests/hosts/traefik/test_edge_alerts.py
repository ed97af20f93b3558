"""The edge alerts on real series (issue 15, 5): the lab Prometheus on mon1 scrapes Traefik's
internal entry point on edge1 (job traefik), the edge rules evaluate on what it scraped, and
errors driven through the edge (the gateway stand-in on app1 stopped: Traefik answers 502)
fire EdgeHighErrorRate in Prometheus and reach Alertmanager within its bound."""

from __future__ import annotations

import http.client
import math
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from cryptography import x509
from prometheus.support import api, get_json, role_vars, seconds
from testinfra.host import Host

from infra.model.types import Platform

from .support import CA_FILE, EDGE, INTERNAL_PORT, STANDIN_HOST, STATE

API = "api.erp.localhost"  # the dev stack's public API host (traefik_stack: dev in the lab)
GATEWAY_UNIT = "edge-standin@api-gateway"
SERVICE = "api-gateway@file"  # Traefik's name of the routed service (file provider)
DRIVE_RATE = 20  # requests/s from the controller: under the per-client average (100/s)
DRIVE_LIMIT_S = 120  # the test stops driving after this long whatever happened


class Edge:
    """HTTPS to edge1 from the controller, as a client meets it (SNI, lab CA)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.context = ssl.create_default_context(cafile=str(CA_FILE))
        self.conn: http.client.HTTPSConnection | None = None

    def get(self, path: str) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.address, 443, context=self.context,
                                                    timeout=10)
            sock = socket.create_connection((self.address, 443), timeout=10)
            self.conn.sock = self.context.wrap_socket(sock, server_hostname=API)
        try:
            self.conn.request("GET", path, headers={"Host": API})
            response = self.conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@pytest.fixture(scope="module")
def prometheus(hardened: Callable[[str], Host]) -> str:
    v = role_vars(hardened("mon1"))
    return f"http://{v['prometheus_listen_address']}:{v['prometheus_port']}"


@pytest.fixture(scope="module")
def alertmanager(hardened: Callable[[str], Host]) -> str:
    v = role_vars(hardened("mon1"))
    return f"http://{v['prometheus_listen_address']}:{v['prometheus_alertmanager_port']}"


@pytest.fixture(scope="module")
def edge(hardened: Callable[[str], Host]) -> Iterator[Edge]:
    client = Edge(str(hardened(EDGE).ansible.get_variables()["ansible_host"]))
    yield client
    client.close()


def _platform() -> Platform:
    from infra.cli.edge_config import platform_of

    return platform_of("dev")


def _rules(prometheus: str) -> dict[str, dict[str, Any]]:
    groups = api(f"{prometheus}/api/v1/rules?type=alert")["groups"]
    return {r["name"]: r for g in groups if g["name"] == "rampart-edge" for r in g["rules"]}


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    from urllib.parse import quote

    return api(f"{prometheus}/api/v1/query?query={quote(expr)}")["result"]


def _wait_for(condition: Callable[[], Any], timeout: float, step: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_prometheus_scrapes_traefik_on_the_edge(prometheus: str, edge: Edge) -> None:
    instance = f"{edge.address}:{INTERNAL_PORT}"

    def up() -> list[dict[str, Any]]:
        targets = api(f"{prometheus}/api/v1/targets?state=active")["activeTargets"]
        return [t for t in targets if t["labels"].get("job") == "traefik"
                and t["labels"].get("instance") == instance and t["health"] == "up"]

    found = _wait_for(up, 30)
    assert found, f"no healthy job=traefik target {instance} in Prometheus on mon1"
    assert found[0]["labels"]["service"] == "traefik", found[0]["labels"]


def test_edge_rules_are_loaded_and_evaluate_without_error(prometheus: str) -> None:
    rules = _rules(prometheus)
    assert set(rules) == {"EdgeHighErrorRate", "EdgeHighLatency", "CertificateExpiringSoon"}
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"


def test_certificate_expiry_is_read_from_the_served_certificate(prometheus: str) -> None:
    served = x509.load_pem_x509_certificate(
        (STATE / "traefik" / EDGE / "certs" / "edge.crt").read_bytes())
    not_after = served.not_valid_after_utc.timestamp()
    series = _query(prometheus, 'traefik_tls_certs_not_after{job="traefik"}')
    values = {s["metric"].get("cn"): float(s["value"][1]) for s in series}
    domain = API.split(".", 1)[1]
    assert values.get(domain) == pytest.approx(not_after, abs=1), values
    # The alert's own expression, on these series: silent at the configured threshold, and
    # it selects exactly this certificate once the threshold exceeds its remaining validity.
    expr = _rules(prometheus)["CertificateExpiringSoon"]["query"]
    assert not _query(prometheus, expr), f"{expr} fires on a fresh lab certificate"
    remaining = not_after - datetime.now(UTC).timestamp()
    left, _, _ = expr.rpartition("<")
    selected = _query(prometheus, f"{left}< {int(remaining + 86400)}")
    assert [s["metric"].get("cn") for s in selected] == [domain], selected


def test_latency_quantile_is_computed_from_real_series(prometheus: str, edge: Edge) -> None:
    config = yaml.safe_load(api(f"{prometheus}/api/v1/status/config")["yaml"])
    scrape = seconds(config["global"]["scrape_interval"])
    expr = _rules(prometheus)["EdgeHighLatency"]["query"]
    quantile, _, threshold = expr.rpartition(">")

    def p99() -> list[dict[str, Any]]:
        # rate() sees only what grew between two scrapes: requests keep coming while we wait
        # (a series first scraped after a burst has nothing to rate, and its quantile is NaN).
        for _ in range(DRIVE_RATE):
            assert edge.get("/orders") == 200
            time.sleep(1 / DRIVE_RATE)
        return [s for s in _query(prometheus, quantile)
                if s["metric"].get("exported_service") == SERVICE
                and math.isfinite(float(s["value"][1]))]

    # Two scrapes that both saw requests, a third for jitter, and the query's own delay.
    bound = min(max(30, 3 * scrape + 10), DRIVE_LIMIT_S)
    series = _wait_for(p99, bound, step=0)
    assert series, f"no finite p99 for {SERVICE} from {quantile} within {bound:.0f}s"
    value = float(series[0]["value"][1])
    assert 0 < value < float(threshold), f"edge p99 {value}s (threshold {threshold.strip()}s)"


def test_errors_through_the_edge_fire_edge_high_error_rate(
    prometheus: str, alertmanager: str, edge: Edge, hardened: Callable[[str], Host],
    readiness_measure: Callable[..., None],
) -> None:
    config = yaml.safe_load(api(f"{prometheus}/api/v1/status/config")["yaml"])
    scrape = seconds(config["global"]["scrape_interval"])
    evaluation = seconds(config["global"]["evaluation_interval"])
    rule = _rules(prometheus)["EdgeHighErrorRate"]
    # Errors become visible at the next scrape, the rule sees them at the next evaluation,
    # holds them `for`, then sends them on the next evaluation; two of each for jitter.
    bound = rule["duration"] + 2 * scrape + 2 * evaluation + 5
    standin = hardened(STANDIN_HOST)

    def ours(alert: dict[str, Any]) -> bool:
        return (alert["labels"].get("alertname") == "EdgeHighErrorRate"
                and alert["labels"].get("exported_service") == SERVICE)

    def firing(alerts: list[dict[str, Any]]) -> bool:  # Prometheus: not merely pending
        return any(ours(a) and a["state"] == "firing" for a in alerts)

    def received(alerts: list[dict[str, Any]]) -> bool:  # Alertmanager: active, not resolved
        now = datetime.now(UTC)
        return any(ours(a) and a["status"]["state"] == "active"
                   and datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00")) > now
                   for a in alerts)

    standin.run(f"systemctl stop {GATEWAY_UNIT}")
    try:
        start = time.monotonic()
        codes: dict[int, int] = {}
        fired_at = None
        while time.monotonic() - start < min(bound + 30, DRIVE_LIMIT_S):
            code = edge.get("/orders")
            codes[code] = codes.get(code, 0) + 1
            if sum(codes.values()) % DRIVE_RATE == 0 and firing(
                    api(f"{prometheus}/api/v1/alerts")["alerts"]):
                fired_at = time.monotonic() - start
                break
            time.sleep(1 / DRIVE_RATE)
        assert codes.get(502, 0) > 0, f"the stopped upstream gave no 502: {codes}"
        assert fired_at is not None, (
            f"EdgeHighErrorRate did not fire in Prometheus within {bound + 30:.0f}s "
            f"(answers {codes})")
        readiness_measure("edge_error_alert_seconds", round(fired_at, 1), unit="s",
                          target=f"<= {bound:.0f}")
        assert fired_at <= bound, f"fired after {fired_at:.1f}s, bound {bound:.0f}s"
        assert _wait_for(lambda: received(get_json(f"{alertmanager}/api/v2/alerts")),
                         2 * evaluation + 10), (
            "Prometheus fired EdgeHighErrorRate but Alertmanager holds no active such alert")
    finally:
        standin.run(f"systemctl start {GATEWAY_UNIT}")
    # Traefik sends to the server again once its health check passes (the catalog's interval).
    health = _platform().service("api-gateway").health
    assert health is not None
    back = health.interval_s + health.timeout_s + 10
    assert _wait_for(lambda: edge.get("/orders") == 200, back), (
        f"the edge does not reach the restarted gateway stand-in within {back}s")
