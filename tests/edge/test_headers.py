"""What every answer through the edge carries (security headers) and does not (who served it),
and CORS as a browser meets it."""

from __future__ import annotations

import http.client

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.integration

# Referrer policies that never send a full URL across origins (the owners: "referrer").
STRICT_REFERRER = {"no-referrer", "same-origin", "strict-origin",
                   "strict-origin-when-cross-origin"}


def _reachable(edge: h.Edge) -> list[tuple[str, str, str, dict[str, str]]]:
    """(router, host, path, headers) for every router this client gets through: public and
    login routers, and the admin routers when 127.0.0.1 is in the allowlist (with the
    password). Admin routers refuse outsiders before any header middleware runs."""
    out = []
    admin_ok = h.inside(h.LOOPBACK, edge.platform.edge.admin_allowlist)
    for r in traefik.routers(edge.platform):
        route = r.service.route
        assert route is not None
        admin = traefik.MW_ADMIN_AUTH in r.middlewares
        if admin and not admin_ok:
            continue
        if r.internal:
            path = "/api/overview"
        elif r.priority == traefik.LOGIN_PRIORITY:
            continue  # the login budget (5 per 15 min) belongs to the login tests
        else:
            health = r.service.health
            path = health.ready_path if health and health.ready_path else "/"
        out.append((r.name, route.host, path, edge.basic_auth() if admin else {}))
    assert out, f"{edge.name}: no router reachable from {h.LOOPBACK}"
    return out


def test_security_headers(edge: h.Edge) -> None:
    settings = edge.platform.edge
    for router, host, path, headers in _reachable(edge):
        got = edge.request("GET", host, path, headers=headers)
        where = f"{edge.name}: router '{router}' (https://{host}{path}, {got.status})"
        assert got.status == 200, where
        assert got.header("Strict-Transport-Security") == (
            f"max-age={settings.hsts_seconds}; includeSubDomains"), where
        assert got.header("X-Content-Type-Options") == "nosniff", where
        assert got.header("X-Frame-Options") == "DENY", where
        assert got.header("Referrer-Policy") in STRICT_REFERRER, where


def test_server_identity_is_removed(edge: h.Edge) -> None:
    # The stand-ins announce themselves, as real services do ...
    for upstream in edge.upstreams.values():
        host, port = upstream.server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), int(port), timeout=h.REQUEST_TIMEOUT_S)
        try:
            direct = h.send(conn, "GET", "/")
        finally:
            conn.close()
        assert direct.header("Server") and direct.header("X-Powered-By")
    # ... and the edge does not pass that on.
    for router, host, path, headers in _reachable(edge):
        got = edge.request("GET", host, path, headers=headers)
        where = f"{edge.name}: router '{router}' (https://{host}{path}, {got.status})"
        assert got.status == 200, where
        assert got.header("Server") is None, f"{where}: Server: {got.header('Server')}"
        assert got.header("X-Powered-By") is None, where


def _preflight(edge: h.Edge, origin: str) -> h.Response:
    return edge.request("OPTIONS", edge.host("api-gateway"), "/graphql", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})


def _no_wildcard_with_credentials(edge: h.Edge, got: h.Response) -> None:
    assert not (got.header("Access-Control-Allow-Origin") == "*"
                and got.header("Access-Control-Allow-Credentials") == "true"), (
        f"{edge.name}: credentials allowed for any origin")


def test_cors_preflight_allows_listed_origins(edge: h.Edge) -> None:
    origins = edge.platform.edge.cors_origins
    assert origins, f"{edge.name}: the stack lists no CORS origin"
    upstream = edge.upstreams["api-gateway"]
    before = len([r for r in upstream.records() if r["method"] == "OPTIONS"])
    for origin in origins:
        got = _preflight(edge, origin)
        where = f"{edge.name}: preflight from {origin} ({got.status})"
        assert 200 <= got.status < 300, where
        assert got.header("Access-Control-Allow-Origin") == origin, where
        assert got.header("Access-Control-Allow-Credentials") == "true", where
        methods = {m.strip() for m in (got.header("Access-Control-Allow-Methods") or "")
                   .split(",")}
        assert "POST" in methods, where
        _no_wildcard_with_credentials(edge, got)
        # A simple request from the origin: allowed, and caches keyed by Origin.
        simple = edge.request("GET", edge.host("api-gateway"), "/graphql",
                              headers={"Origin": origin})
        assert simple.header("Access-Control-Allow-Origin") == origin, where
        assert "Origin" in (simple.header("Vary") or ""), where
        _no_wildcard_with_credentials(edge, simple)
    # The edge answers preflights itself.
    assert len([r for r in upstream.records() if r["method"] == "OPTIONS"]) == before


def test_cors_refuses_other_origins(edge: h.Edge) -> None:
    listed = edge.platform.edge.cors_origins
    domain = edge.platform.edge.domain
    for origin in (f"https://evil.{domain}.example.net", "https://attacker.example",
                   f"http://{listed[0].split('://', 1)[1]}", "null"):
        assert origin not in listed
        for got in (_preflight(edge, origin),
                    edge.request("GET", edge.host("api-gateway"), "/graphql",
                                 headers={"Origin": origin})):
            where = f"{edge.name}: request from {origin} ({got.status})"
            assert got.header("Access-Control-Allow-Origin") is None, (
                f"{where}: Access-Control-Allow-Origin "
                f"{got.header('Access-Control-Allow-Origin')}")
            _no_wildcard_with_credentials(edge, got)


def test_aliases_of_a_header_never_reach_the_upstream(edge: h.Edge) -> None:
    """`X_Forwarded_For`, `X.Forwarded.For` read as X-Forwarded-For by CGI/PHP/WSGI-style
    backends: the edge drops such aliases (aliasHeadersStrategy) so a client cannot spoof a
    header Traefik manages; the real header still arrives."""
    spoofed = {"X_Forwarded_For": "203.0.113.7", "X.Forwarded.For": "203.0.113.8",
               "X~Real~Ip": "203.0.113.9"}
    got = edge.request("GET", edge.host("api-gateway"), "/graphql", headers=spoofed)
    assert got.status == 200, f"{edge.name}: {got.status}"
    received = {k.lower(): v for k, v in got.echo()["headers"]}
    for name in spoofed:
        assert name.lower() not in received, f"{edge.name}: {name} reached the upstream"
    assert "x-forwarded-for" in received  # Traefik's own, from the peer address
    assert "203.0.113" not in received["x-forwarded-for"]
