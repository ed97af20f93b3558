"""Per-client limits as a client meets them: the general rate limit, the login limit and the
in-flight limit. Every figure comes from the platform (the stack's settings); each test sends
from its own loopback address, so no test spends another's budget."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.integration

# Requests Traefik may let through beyond the token bucket: it admits a request whose token
# arrives within half a token interval (a reservation, 5 ms at 100 req/s), and a request in
# flight when the bucket empties. Small against the burst (50): a limit looser than the
# configured one by even a few requests per burst shows.
BUCKET_SLACK = 2


@dataclass
class Burst:
    ok: int
    refused: int
    elapsed_s: float
    refusal: h.Response | None


def _burst(edge: h.Edge, source: str, *, limit: int, workers: int = 4) -> Burst:
    """GET the public route from `source` as fast as `workers` keep-alive connections go, until
    the first refusal (or `limit` requests); count the answers."""
    host = edge.host("api-gateway")
    lock = threading.Lock()
    stop = threading.Event()
    counts = {"ok": 0, "refused": 0, "sent": 0, "other": 0}
    refusal: list[h.Response] = []

    def worker() -> None:
        conn = edge.connection(host, source=source)
        try:
            while not stop.is_set():
                with lock:
                    if counts["sent"] >= limit:
                        return
                    counts["sent"] += 1
                got = h.send(conn, "GET", "/rate-probe")
                with lock:
                    if got.status == 200:
                        counts["ok"] += 1
                    elif got.status == 429:
                        counts["refused"] += 1
                        refusal.append(got)
                        stop.set()
                    else:
                        counts["other"] += 1
                        stop.set()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(h.REQUEST_TIMEOUT_S * 3)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads), "a burst worker hung"
    assert counts["other"] == 0, f"{edge.name}: unexpected answers during the burst: {counts}"
    return Burst(counts["ok"], counts["refused"], elapsed, refusal[0] if refusal else None)


def _exhaust(edge: h.Edge, source: str) -> Burst:
    settings = edge.platform.edge
    # Enough requests to outrun the refill for several seconds on a slow machine.
    burst = _burst(edge, source, limit=settings.rate_burst + 5 * settings.rate_average)
    assert burst.refused, (
        f"{edge.name}: {burst.ok} requests from {source} in {burst.elapsed_s:.2f}s, none "
        f"refused (limit {settings.rate_average}/s, burst {settings.rate_burst})")
    return burst


def test_rate_limit_refuses_after_the_burst(edge: h.Edge) -> None:
    settings = edge.platform.edge
    burst = _exhaust(edge, "127.0.0.10")
    allowed = settings.rate_burst + settings.rate_average * burst.elapsed_s + BUCKET_SLACK
    assert settings.rate_burst <= burst.ok <= allowed, (
        f"{edge.name}: {burst.ok} requests passed in {burst.elapsed_s:.3f}s; the bucket allows "
        f"{settings.rate_burst} at once + {settings.rate_average}/s (at most {allowed:.0f})")
    assert burst.refusal is not None and burst.refusal.header("Retry-After"), (
        f"{edge.name}: the refusal is not the rate limiter's")
    assert burst.refusal.header("Strict-Transport-Security"), "refusals carry HSTS too"


def test_rate_limit_is_per_client_ip(edge: h.Edge) -> None:
    _exhaust(edge, "127.0.0.11")
    other = edge.request("GET", edge.host("api-gateway"), "/rate-probe", source="127.0.0.12")
    assert other.status == 200, (
        f"{edge.name}: a second client was refused ({other.status}) while the first was limited")


def test_rate_limit_recovers_after_the_period(edge: h.Edge) -> None:
    settings = edge.platform.edge
    middleware = edge.dynamic["http"]["middlewares"][traefik.MW_RATE]["rateLimit"]
    assert middleware["period"] == "1s", middleware  # the model's figure is per second
    _exhaust(edge, "127.0.0.13")
    time.sleep(1.0)  # one period: the bucket refills `average` tokens, up to `burst`
    refilled = min(settings.rate_burst, settings.rate_average)
    conn = edge.connection(edge.host("api-gateway"), source="127.0.0.13")
    try:
        statuses = [h.send(conn, "GET", "/rate-probe").status for _ in range(refilled)]
    finally:
        conn.close()
    assert statuses == [200] * refilled, (
        f"{edge.name}: after one period, {statuses.count(200)} of {refilled} passed")


def _login_paths(edge: h.Edge) -> tuple[str, ...]:
    route = edge.platform.service("api-gateway").route
    assert route is not None and route.login_paths, f"{edge.name}: no login paths"
    return route.login_paths


def _spend_login_budget(edge: h.Edge, source: str) -> None:
    """The configured attempts pass, alternating between the login paths (one budget for all
    of them); the next one is refused with the wait the period implies."""
    settings = edge.platform.edge
    paths = _login_paths(edge)
    host = edge.host("api-gateway")
    upstream = edge.upstreams["api-gateway"]
    start = time.monotonic()
    for attempt in range(settings.login_rate_burst):
        path = paths[attempt % len(paths)]
        got = edge.request("POST", host, path, source=source, body=b"user=a&password=b")
        assert got.status == 200, f"{edge.name}: login attempt {attempt + 1} refused"
    refill_s = settings.login_rate_period_s / settings.login_rate_average
    for path in paths:
        got = edge.request("POST", host, path, source=source, body=b"user=a&password=b")
        assert got.status == 429, (
            f"{edge.name}: attempt {settings.login_rate_burst + 1} on {path} answered "
            f"{got.status} (limit {settings.login_rate_average} per "
            f"{settings.login_rate_period_s}s, burst {settings.login_rate_burst})")
        retry = int(got.header("Retry-After") or 0)
        assert abs(retry - refill_s) <= 1, (
            f"{edge.name}: Retry-After {retry}s, the login limit refills every {refill_s:.0f}s")
    # All within one refill interval: the refusal is the limit, not a slow test.
    assert time.monotonic() - start < refill_s
    reached = [r for r in upstream.records() if r["path"] in paths
               and dict(r["headers"]).get("X-Forwarded-For") == source]
    assert len(reached) == settings.login_rate_burst, f"{edge.name}: {len(reached)} reached"


def test_login_limit_refuses_the_next_attempt(edge: h.Edge) -> None:
    _spend_login_budget(edge, "127.0.0.20")


def test_login_limit_leaves_other_routes_alone(edge: h.Edge) -> None:
    _spend_login_budget(edge, "127.0.0.21")
    got = edge.request("POST", edge.host("api-gateway"), "/graphql", source="127.0.0.21")
    assert got.status == 200, f"{edge.name}: /graphql refused ({got.status}) after login limit"


def test_inflight_limit(edge: h.Edge) -> None:
    settings = edge.platform.edge
    amount = settings.inflight_requests
    source = "127.0.0.30"
    host = edge.host("api-gateway")
    upstream = edge.upstreams["api-gateway"]
    upstream.release.clear()
    statuses: list[int] = []
    lock = threading.Lock()
    # Paced under the rate limit (the burst at once, then slower than the average), so every
    # held request passes the rate limiter and only the in-flight limit can refuse.
    spacing = 1.5 / settings.rate_average
    start = time.monotonic()

    def hold(i: int) -> None:
        time.sleep(max(0, i - settings.rate_burst + 1) * spacing)
        conn = edge.connection(host, source=source)
        try:
            status = h.send(conn, "GET", h.SLOW_PATH).status
        finally:
            conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(amount)]
    try:
        for t in threads:
            t.start()
        deadline = start + h.REQUEST_TIMEOUT_S + amount * spacing
        while upstream.held < amount and time.monotonic() < deadline and not statuses:
            time.sleep(0.05)
        assert upstream.held == amount, (
            f"{edge.name}: {upstream.held} of {amount} requests held open; answered early: "
            f"{statuses}")
        time.sleep(2 / settings.rate_average)  # a rate token is available again
        extra = edge.request("GET", host, "/inflight-probe", source=source)
        assert extra.status == 429, (
            f"{edge.name}: request {amount + 1} in flight answered {extra.status}")
        assert extra.header("Retry-After") is None, "refused by the rate limiter, not in-flight"
        assert not upstream.requests_to("/inflight-probe")
        # Another client is not affected.
        assert edge.request("GET", host, "/inflight-probe", source="127.0.0.31").status == 200
    finally:
        upstream.release.set()
        for t in threads:
            t.join(h.REQUEST_TIMEOUT_S)
    assert statuses == [200] * amount, f"{edge.name}: held requests answered {set(statuses)}"
    after = edge.request("GET", host, "/inflight-probe", source=source)
    assert after.status == 200, f"{edge.name}: still refused ({after.status}) after release"
