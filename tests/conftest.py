"""Shared fixtures: the one Pulumi mocks fixture (the recording engine of
`infra.offline.engine`) and small hand-built platforms for tests that must not depend on
the ERP catalog."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

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
    Route,
    SecretKind,
    SecretRef,
    Security,
    Service,
    Volume,
)
from infra.offline import engine
from infra.offline.engine import Recording, run_program
from infra.offline.render import record_stack
from infra.secrets.provider import RenderSecretsProvider, SecretsProvider

pytest_plugins = ["infra.readiness.pytest_plugin"]

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3
MIB = 1024**2
TMP = "/tmp"  # noqa: S108 (a path inside the container, mounted as tmpfs)


def _service(name: str, group: Group, exposure: Exposure, networks: Sequence[Network],
             port: int, **changes: object) -> Service:
    base = Service(
        name=name, group=group,
        image=Image("docker.io/library/example", "1.2.3"),
        port=port, exposure=exposure, networks=tuple(networks), depends_on=(),
        stateful=False,
        health=HealthCheck(command=("CMD", "wget", "-q", "-O", "/dev/null",
                                    f"http://127.0.0.1:{port}/health/ready"),
                           interval_s=30, timeout_s=10, retries=3, start_period_s=60,
                           ready_path="/health/ready", live_path="/health/live", port=port),
        resources=Resources(cpu_limit=1.0, memory_limit=GIB, cpu_reservation=0.5,
                            memory_reservation=512 * MIB),
        security=Security(read_only_root=True, writable_paths=(TMP,), cap_drop=("ALL",),
                          cap_add=(), no_new_privileges=True, user="1000:1000"),
        logs=LogPolicy(driver="json-file", max_size="10m", max_file=3),
        restart="unless-stopped", stop_grace_s=30,
        environment=(("NODE_ENV", "production"),), secrets=(), volumes=(),
        metrics_path="/metrics", metrics_port=port, route=None,
        labels=(("rampart.service", name),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def small_platform(**edge_changes: object) -> Platform:
    """Six services that exercise every placement and exposure the target handles."""
    pg_secret = SecretRef("POSTGRES_PASSWORD", SecretKind.PASSWORD,
                          "/run/secrets/postgres_password", env="POSTGRES_PASSWORD_FILE")
    services = (
        _service("postgres", Group.INFRA, Exposure.INTERNAL, [Network.BACKEND], 5432,
                 stateful=True, secrets=(pg_secret,),
                 volumes=(Volume("data", "/var/lib/postgresql/data"),),
                 security=Security(read_only_root=True,
                                   writable_paths=(TMP, "/var/run/postgresql",
                                                   "/var/lib/postgresql/data"),
                                   cap_drop=("ALL",), cap_add=("CHOWN", "SETUID", "SETGID"),
                                   no_new_privileges=True, user=None),
                 resources=Resources(2.0, 2 * GIB, 1.0, GIB)),
        _service("redis", Group.INFRA, Exposure.INTERNAL, [Network.BACKEND], 6379,
                 stateful=True),
        _service("auth", Group.CORE, Exposure.INTERNAL, [Network.BACKEND], 3001,
                 depends_on=("postgres", "redis"),
                 secrets=(dataclasses.replace(pg_secret, shared_from="postgres"),
                          SecretRef("JWT_SECRET", SecretKind.JWT_SIGNING_KEY,
                                    "/run/secrets/jwt_secret", env="JWT_SECRET_FILE"))),
        _service("api-gateway", Group.EDGE, Exposure.PUBLIC, [Network.EDGE, Network.BACKEND],
                 4000, depends_on=("auth",),
                 route=Route(host="api.erp.test", login_paths=("/auth/login",))),
        _service("grafana", Group.PLATFORM, Exposure.ADMIN, [Network.EDGE, Network.BACKEND],
                 3000, route=Route(host="grafana.erp.test"),
                 security=Security(read_only_root=True, writable_paths=(TMP, "/var/lib/grafana"),
                                   cap_drop=("ALL",), cap_add=(), no_new_privileges=True,
                                   user="472:0"),
                 secrets=(SecretRef("GRAFANA_ADMIN_PASSWORD", SecretKind.PASSWORD,
                                    "/run/secrets/grafana_admin_password",
                                    env="GF_SECURITY_ADMIN_PASSWORD__FILE"),)),
        _service("traefik", Group.PLATFORM, Exposure.ADMIN, [Network.EDGE], 443,
                 route=Route(host="traefik.erp.test"), metrics_port=8082,
                 secrets=(SecretRef("TRAEFIK_ADMIN_HTPASSWD", SecretKind.HTPASSWD,
                                    "/run/secrets/traefik_admin_htpasswd"),)),
    )
    edge = EdgeSettings(
        domain="erp.test", tls_mode="self-signed", acme_email=None, acme_ca_server=None,
        acme_challenge="tls-alpn", min_tls_version="VersionTLS12", rate_average=100,
        rate_burst=50, login_rate_average=5, login_rate_period_s=900, login_rate_burst=5,
        ip_strategy_depth=0, cors_origins=("https://app.erp.test",),
        admin_allowlist=("10.0.0.0/8",), inflight_requests=100, hsts_seconds=31536000,
    )
    edge = dataclasses.replace(edge, **edge_changes)  # type: ignore[arg-type]
    return Platform(name="erp", source="tests/small-catalog.yaml", services=services,
                    edge=edge)


@pytest.fixture
def small() -> Platform:
    return small_platform()


@pytest.fixture
def small_acme() -> Platform:
    return small_platform(tls_mode="acme", acme_email="ops@erp.test",
                          acme_ca_server="https://acme-staging-v02.api.letsencrypt.org/directory")


@pytest.fixture
def record_platform() -> Callable[..., Recording]:
    """The shared Pulumi mocks fixture: deploy a `Platform` with the Docker target under the
    recording engine and return what was declared."""
    from infra.targets import docker

    def record(platform: Platform, secrets: SecretsProvider | None = None,
               stack: str = "test") -> Recording:
        provider = secrets or RenderSecretsProvider()
        return run_program(lambda: docker.deploy(platform, provider), stack=stack)

    return record


@functools.cache
def stack_platform(stack: str) -> Platform:
    """The model exactly as the program builds it for a committed stack."""
    from infra import program
    from infra import stack as config

    return program.platform_of(config.load(stack, ROOT))


@pytest.fixture(scope="session")
def dev_recording() -> Recording:
    """The real program (`__main__.py`) for the dev stack, rendered once per session."""
    return record_stack("dev", ROOT)


@pytest.fixture(scope="session")
def prod_recording() -> Recording:
    return record_stack("prod", ROOT)


@pytest.fixture(scope="session")
def dev_platform() -> Platform:
    return stack_platform("dev")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`dev_service`: one case per service of the ERP catalog, so every hardening expectation
    is reported per service."""
    if "dev_service" in metafunc.fixturenames:
        names = [s.name for s in stack_platform("dev").services]
        metafunc.parametrize("dev_service", names)
    if "dev_data_store" in metafunc.fixturenames:
        # Databases, caches, brokers: the catalog's infra group.
        names = [s.name for s in stack_platform("dev").services if s.group is Group.INFRA]
        metafunc.parametrize("dev_data_store", names)


@pytest.fixture
def recordings(monkeypatch: pytest.MonkeyPatch) -> list[Recording]:
    """Every recording the engine starts, to count the resources a failed run declared."""
    seen: list[Recording] = []

    class Captured(engine.Recording):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self)

    monkeypatch.setattr(engine, "Recording", Captured)
    return seen
