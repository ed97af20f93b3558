"""Traefik's own endpoints: ping and metrics on the internal entry point only."""

from __future__ import annotations

import http.client

import pytest

from infra.edge import traefik
from infra.model.types import Exposure

from . import harness as h

pytestmark = pytest.mark.integration

PING = "/ping"
METRICS = "/metrics"
METRIC = b"traefik_entrypoint_requests_total"


def _internal(edge: h.Edge, path: str, host: str | None = None) -> h.Response:
    conn = http.client.HTTPConnection(h.LOOPBACK, edge.internal_port,
                                      timeout=h.REQUEST_TIMEOUT_S)
    try:
        return h.send(conn, "GET", path, headers={"Host": host} if host else None)
    finally:
        conn.close()


def test_ping_and_metrics_answer_on_the_internal_entry_point(edge: h.Edge) -> None:
    assert edge.static["ping"]["entryPoint"] == traefik.METRICS
    ping = _internal(edge, PING)
    assert (ping.status, ping.body) == (200, b"OK"), f"{edge.name}: {ping}"
    metrics = _internal(edge, METRICS)
    assert metrics.status == 200 and METRIC in metrics.body, f"{edge.name}: {metrics.status}"
    # ... and nothing else: no router listens there.
    routed = _internal(edge, "/", host=edge.host("api-gateway"))
    assert routed.status == 404, f"{edge.name}: the internal entry point routed a request"


def test_ping_and_metrics_are_not_served_publicly(edge: h.Edge) -> None:
    admin_ok = h.inside(h.LOOPBACK, edge.platform.edge.admin_allowlist)
    for svc in traefik.routed_services(edge.platform):
        host = edge.host(svc.name)
        headers = edge.basic_auth() if admin_ok and svc.exposure is Exposure.ADMIN else {}
        for path in (PING, METRICS):
            where = f"{edge.name}: https://{host}{path}"
            got = edge.request("GET", host, path, headers=headers)
            if got.header(h.UPSTREAM_MARK):
                assert got.echo()["service"] == svc.name, where  # the service's own path
            else:
                assert got.status in (401, 403, 404), f"{where}: {got.status} from the edge"
            assert METRIC not in got.body and got.body != b"OK", f"{where}: Traefik's answer"
            plain = edge.request("GET", host, path, tls=False)
            assert plain.status in (301, 308), f"{where} over plain HTTP: {plain.status}"
