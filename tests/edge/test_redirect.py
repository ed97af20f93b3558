"""Plain HTTP: every request on the `web` entry point is sent to HTTPS, nothing is served."""

from __future__ import annotations

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.integration

PROBE_PATH = "/redirect-probe/a?b=c"


def _location(edge: h.Edge, host: str) -> str:
    port = "" if edge.websecure_port == traefik.WEBSECURE_PORT else f":{edge.websecure_port}"
    return f"https://{host}{port}{PROBE_PATH}"


def test_http_is_redirected_to_https(edge: h.Edge) -> None:
    for svc in traefik.routed_services(edge.platform):
        host = edge.host(svc.name)
        got = edge.request("GET", host, PROBE_PATH, tls=False)
        assert got.status in (301, 308), f"{edge.name}: GET http://{host}: {got.status}"
        assert got.header("Location") == _location(edge, host), f"{edge.name}: {host}"
        # A permanent redirect that keeps the method: a POST must not turn into a GET.
        posted = edge.request("POST", host, PROBE_PATH, tls=False, body=b"x=1")
        assert posted.status == 308, f"{edge.name}: POST http://{host}: {posted.status}"
        assert posted.header("Location") == _location(edge, host), f"{edge.name}: {host}"
    for name, upstream in edge.upstreams.items():
        assert not upstream.requests_to(PROBE_PATH), (
            f"{edge.name}: plain HTTP reached the upstream of '{name}'")
