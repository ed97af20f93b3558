"""Admin routes (Traefik's dashboard, Grafana, Prometheus, Alertmanager): the allowlist first,
the limits, then basic auth, for every admin router the edge generates."""

from __future__ import annotations

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.integration


def _admin_routes(edge: h.Edge) -> list[tuple[traefik.Router, str, str]]:
    out = []
    for r in traefik.routers(edge.platform):
        if traefik.MW_ADMIN_AUTH not in r.middlewares:
            continue
        # allowlist before anything that answers; the limits before the password check
        chain = list(r.middlewares)
        assert chain.index(traefik.MW_ADMIN_ALLOW) == 1, r  # after the response headers
        assert chain.index(traefik.MW_RATE) < chain.index(traefik.MW_ADMIN_AUTH), r
        route, health = r.service.route, r.service.health
        assert route is not None
        path = ("/api/overview" if r.internal
                else health.ready_path if health and health.ready_path else "/")
        out.append((r, route.host, path))
    names = {r.name for r, _, _ in out}
    assert traefik.SERVICE in names and len(names) > 1, f"{edge.name}: admin routers {names}"
    return out


def test_admin_routes_require_credentials(dev_edge: h.Edge) -> None:
    edge = dev_edge
    assert edge.platform.edge.admin_allowlist == h.DEV_ADMIN_ALLOWLIST
    assert h.inside(h.LOOPBACK, edge.platform.edge.admin_allowlist)
    for r, host, path in _admin_routes(edge):
        where = f"{edge.name}: router '{r.name}' (https://{host}{path})"
        anonymous = edge.request("GET", host, path)
        assert anonymous.status == 401, f"{where}: {anonymous.status} without credentials"
        # the refusal carries the security headers too
        assert anonymous.header("Strict-Transport-Security"), where
        assert anonymous.header("X-Content-Type-Options") == "nosniff", where
        assert (anonymous.header("WWW-Authenticate") or "").startswith("Basic "), where
        wrong = edge.request("GET", host, path, headers=edge.basic_auth("not-the-password"))
        assert wrong.status == 401, f"{where}: {wrong.status} with a wrong password"
        good = edge.request("GET", host, path, headers=edge.basic_auth())
        assert good.status == 200, f"{where}: {good.status} with the password"
        if r.internal:
            assert b"routers" in good.body, f"{where}: not Traefik's API: {good.body[:200]!r}"
            continue
        echo = good.echo()
        assert echo["service"] == r.service.name, where
        # The password stops at the edge (removeHeader).
        assert "authorization" not in {k.lower() for k, _ in echo["headers"]}, where


@pytest.mark.parametrize("with_password", [True, False], ids=["password", "anonymous"])
def test_admin_routes_refuse_clients_outside_the_allowlist(edge: h.Edge,
                                                          with_password: bool) -> None:
    allowlist = edge.platform.edge.admin_allowlist
    client = h.outside(allowlist, start=1)
    seen = {name: len(u.records()) for name, u in edge.upstreams.items()}
    for r, host, path in _admin_routes(edge):
        headers = edge.basic_auth() if with_password else {}
        got = edge.request("GET", host, path, source=client, headers=headers)
        # 403, never 401: outsiders are refused before they are asked for a password.
        assert got.status == 403, (
            f"{edge.name}: router '{r.name}' answered {got.status} to {client} (allowlist "
            f"{', '.join(allowlist)})")
    assert {name: len(u.records()) for name, u in edge.upstreams.items()} == seen, (
        f"{edge.name}: a request from outside the allowlist reached an upstream")
