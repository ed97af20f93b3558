"""Probe a running edge as a client meets it: one table of what each owners' requirement
expects and what the edge answered (issue 15, item 6; `make demo` prints it for edge1).

The command line is infra/cli/edge_probes.py (`python -m infra.cli.edge_probes`).

Every probe is one client action over the network (HTTP, a TLS handshake, a TCP connect) to
the edge at --address, with SNI and Host taken from the stack's routes and the certificate
verified against --ca. The figures (rate limits, HSTS, CORS origins) come from the stack's
model, the same one the edge's configuration was generated from. The probes that spend a
client budget (rate limit, login limit) run last, so they do not disturb the others; the
login probe leaves this client's login budget spent for the login period.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.edge import traefik
from infra.model.types import Exposure, Platform

TIMEOUT_S = 5.0
PROBE_PATH = "/rampart-probe?x=1"
ADMIN_USER = "admin"
UNKNOWN_SNI = "unknown.invalid"
TLS_LABELS = {ssl.TLSVersion.TLSv1: "TLS 1.0", ssl.TLSVersion.TLSv1_1: "TLS 1.1",
              ssl.TLSVersion.TLSv1_2: "TLS 1.2", ssl.TLSVersion.TLSv1_3: "TLS 1.3"}


@dataclass(frozen=True)
class Target:
    """Where the edge answers, and what this client holds."""

    address: str
    ca_file: Path
    https_port: int = traefik.WEBSECURE_PORT
    http_port: int = traefik.WEB_PORT
    password: str | None = None  # the admin user's, for the credentials probe
    admin_user: str = ADMIN_USER
    internal_port: int | None = None  # probe that it is closed to this client when set


@dataclass(frozen=True)
class Probe:
    name: str
    expected: str
    observed: str
    ok: bool


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Client:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.context = ssl.create_default_context(cafile=str(target.ca_file))

    def connect(self, host: str, *, tls: bool = True) -> http.client.HTTPConnection:
        """A connection to the edge's address presenting `host` as SNI."""
        t = self.target
        if not tls:
            return http.client.HTTPConnection(t.address, t.http_port, timeout=TIMEOUT_S)
        conn = http.client.HTTPSConnection(t.address, t.https_port, timeout=TIMEOUT_S,
                                           context=self.context)
        raw = socket.create_connection((t.address, t.https_port), TIMEOUT_S)
        conn.sock = self.context.wrap_socket(raw, server_hostname=host)
        return conn

    @staticmethod
    def send(conn: http.client.HTTPConnection, host: str, path: str, *, method: str = "GET",
             headers: dict[str, str] | None = None) -> Answer:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()})

    def request(self, host: str, path: str, *, tls: bool = True, method: str = "GET",
                headers: dict[str, str] | None = None) -> Answer:
        conn = self.connect(host, tls=tls)
        try:
            return self.send(conn, host, path, method=method, headers=headers)
        finally:
            conn.close()

    def handshake(self, host: str, version: ssl.TLSVersion | None = None) -> str:
        """The negotiated protocol, or raises ssl.SSLError / OSError."""
        context = self.context
        if version is not None:
            context = ssl.create_default_context(cafile=str(self.target.ca_file))
            # The client itself must be willing to offer old versions.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():  # offering TLS 1.0/1.1 is the point here
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = context.maximum_version = version
        t = self.target
        with socket.create_connection((t.address, t.https_port), TIMEOUT_S) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            return str(tls.version())


def _public_and_admin(platform: Platform) -> tuple[traefik.Router, traefik.Router | None]:
    routers = traefik.routers(platform)
    public = [r for r in routers if r.middlewares == traefik.PUBLIC_MIDDLEWARES]
    admin = [r for r in routers if r.service.exposure is Exposure.ADMIN and not r.internal]
    if not public:
        raise ValueError(f"{platform.source}: the edge routes no public service to probe")
    return public[0], (admin[0] if admin else None)


def _host(router: traefik.Router) -> str:
    route = router.service.route
    assert route is not None
    return route.host


def _attempt(name: str, expected: str, action: Callable[[], tuple[str, bool]]) -> Probe:
    try:
        observed, ok = action()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        observed, ok = f"{type(exc).__name__}: {exc}", False
    return Probe(name, expected, observed, ok)


def run(platform: Platform, target: Target) -> list[Probe]:
    """Every probe, in an order where the budget-spending ones come last."""
    edge = platform.edge
    client = Client(target)
    public, admin = _public_and_admin(platform)
    host = _host(public)
    probes: list[Probe] = []
    add = probes.append
    port = "" if target.https_port == traefik.WEBSECURE_PORT else f":{target.https_port}"

    def redirect() -> tuple[str, bool]:
        got = client.request(host, PROBE_PATH, tls=False)
        location = got.get("Location") or ""
        want = f"https://{host}{port}{PROBE_PATH}"
        return f"{got.status} -> {location}", got.status in (301, 308) and location == want
    add(_attempt("HTTP redirected to HTTPS", f"301/308 -> https://{host}{port}{PROBE_PATH}",
                 redirect))

    minimum = ssl.TLSVersion.TLSv1_3 if edge.min_tls_version == "VersionTLS13" \
        else ssl.TLSVersion.TLSv1_2
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2,
                    ssl.TLSVersion.TLSv1_3):
        label = TLS_LABELS[version]
        accept = version >= minimum

        def hello(version: ssl.TLSVersion = version, accept: bool = accept) -> tuple[str, bool]:
            try:
                negotiated = client.handshake(host, version)
            except ssl.SSLError as exc:
                return f"refused ({exc.reason})", not accept
            return f"accepted ({negotiated})", accept
        add(_attempt(f"{label} {'accepted' if accept else 'refused'}",
                     "handshake completes" if accept else "handshake refused", hello))

    def sni() -> tuple[str, bool]:
        try:
            negotiated = client.handshake(UNKNOWN_SNI)
        except ssl.SSLError as exc:
            return f"refused ({exc.reason})", True
        return f"accepted ({negotiated})", False
    add(_attempt("Unknown SNI refused (sniStrict)", f"no handshake for {UNKNOWN_SNI}", sni))

    try:
        answer = client.request(host, PROBE_PATH)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        answer = Answer(0, {})
        add(Probe("HTTPS answer", "an answer", f"{type(exc).__name__}: {exc}", False))
    hsts = answer.get("Strict-Transport-Security") or ""
    add(Probe("HSTS", f"max-age={edge.hsts_seconds}; includeSubDomains", hsts or "absent",
              f"max-age={edge.hsts_seconds}" in hsts and "includesubdomains" in hsts.lower()))
    for name, header, want in (("nosniff", "X-Content-Type-Options", "nosniff"),
                               ("Frame deny", "X-Frame-Options", "DENY")):
        got_value = answer.get(header) or "absent"
        add(Probe(name, f"{header}: {want}", got_value, got_value.upper() == want.upper()))
    referrer = answer.get("Referrer-Policy") or "absent"
    add(Probe("Referrer policy", "Referrer-Policy set", referrer, referrer != "absent"))
    server = answer.get("Server")
    add(Probe("Server header removed", "no Server header", server or "absent", server is None))

    if edge.cors_origins:
        origin = edge.cors_origins[0]
        outsider = "https://attacker.example"

        def preflight(origin: str) -> Answer:
            return client.request(host, "/graphql", method="OPTIONS", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST"})

        def listed() -> tuple[str, bool]:
            got = preflight(origin)
            allowed = got.get("Access-Control-Allow-Origin")
            return (f"{got.status}, allow-origin {allowed}",
                    200 <= got.status < 300 and allowed == origin)
        add(_attempt("CORS preflight, listed origin", f"2xx, allow-origin {origin}", listed))

        def unlisted() -> tuple[str, bool]:
            got = preflight(outsider)
            allowed = got.get("Access-Control-Allow-Origin")
            return f"{got.status}, allow-origin {allowed or 'absent'}", allowed is None
        add(_attempt("CORS preflight, other origin", "no allow-origin", unlisted))

    if admin is not None:
        admin_host = _host(admin)
        add(_attempt("Admin route without credentials", "401", lambda: (
            str(status := client.request(admin_host, "/").status), status == 401)))
        if target.password is not None:
            token = base64.b64encode(f"{target.admin_user}:{target.password}".encode()).decode()
            health = admin.service.health
            path = health.ready_path if health and health.ready_path else "/"
            add(_attempt("Admin route with credentials", "2xx", lambda: (
                str(status := client.request(admin_host, path, headers={
                    "Authorization": f"Basic {token}"}).status), 200 <= status < 300)))

    if target.internal_port is not None:
        internal = target.internal_port

        def closed() -> tuple[str, bool]:
            try:
                with socket.create_connection((target.address, internal), 2):
                    return "connected", False
            except TimeoutError:
                return "filtered (no answer)", True
            except ConnectionRefusedError:
                return "refused", True
        add(_attempt(f"Metrics/ping port {internal} closed to this client",
                     "refused or filtered", closed))

    add(_attempt("Rate limit", f"429 within {edge.rate_burst}+{edge.rate_average}/s",
                 lambda: _spend(client, host, "/", edge.rate_burst + 2 * edge.rate_average)))
    login = public.service.route.login_paths if public.service.route else ()
    if login:
        attempts = edge.login_rate_burst + 1
        add(_attempt("Login limit", f"attempt {attempts} within "
                     f"{edge.login_rate_period_s // 60} min refused (429)",
                     lambda: _spend(client, host, login[0], attempts, method="POST")))
    return probes


def _spend(client: Client, host: str, path: str, most: int, *,
           method: str = "GET") -> tuple[str, bool]:
    """Requests in quick succession on one kept-alive connection (as a busy client sends
    them) until the first 429, at most `most`."""
    start = time.monotonic()
    conn = client.connect(host)
    try:
        for n in range(1, most + 1):
            if Client.send(conn, host, path, method=method).status == 429:
                return f"429 at request {n} ({time.monotonic() - start:.1f}s)", True
    finally:
        conn.close()
    return f"no 429 in {most} requests ({time.monotonic() - start:.1f}s)", False


def table(probes: Sequence[Probe]) -> object:
    from rich.table import Table

    out = Table(title="Edge probes (as a client meets the edge)", title_justify="left")
    for column in ("probe", "expected", "observed", "result"):
        out.add_column(column)
    for p in probes:
        out.add_row(p.name, p.expected, p.observed, "[green]ok[/]" if p.ok else "[red]FAILED[/]")
    return out
