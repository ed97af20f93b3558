"""A small platform built straight from the model types, for observability tests.

It has one of each kind the generator treats differently: an app with metrics in each
tier, a public edge service (gets SLO rules), data stores with exporters and a backup job,
and a service without metrics. Tests that need the real catalog use infra.model instead.
"""

from __future__ import annotations

from infra.model.types import (
    EdgeSettings,
    Exposure,
    Group,
    Image,
    LogPolicy,
    Network,
    Platform,
    Resources,
    Security,
    Service,
)

GIB = 1024**3


def service(
    name: str,
    group: Group,
    port: int | None,
    *,
    exposure: Exposure = Exposure.INTERNAL,
    metrics: bool = True,
    stateful: bool = False,
    backup: str | None = None,
    memory: int = GIB,
    cpu: float = 1.0,
) -> Service:
    return Service(
        name=name,
        group=group,
        image=Image(f"registry.example.com/erp/{name}", "1.0.0"),
        port=port,
        exposure=exposure,
        networks=(Network.BACKEND,),
        depends_on=(),
        stateful=stateful,
        health=None,
        resources=Resources(cpu, memory, cpu / 2, memory // 2),
        security=Security(
            True,
            ("/tmp",),  # noqa: S108 (a tmpfs mount, not a temp file)
            ("ALL",),
            (),
            True,
            "1000:1000",
        ),
        logs=LogPolicy("json-file", "10m", 3),
        restart="unless-stopped",
        stop_grace_s=30,
        environment=(),
        secrets=(),
        volumes=(),
        metrics_path="/metrics" if metrics else None,
        metrics_port=port if metrics else None,
        route=None,
        backup=backup,
    )


def sample_platform(public: tuple[str, ...] = ("api-gateway",)) -> Platform:
    services = (
        service(
            "postgres",
            Group.INFRA,
            5432,
            metrics=False,
            stateful=True,
            backup="postgres",
            memory=2 * GIB,
        ),
        service("redis", Group.INFRA, 6379, metrics=False, stateful=True),
        service("kafka", Group.INFRA, 9093, metrics=False, stateful=True),
        service("auth", Group.CORE, 3001),
        service("workflow", Group.CORE, 3011),
        service("finance", Group.BUSINESS, 3014, cpu=0.5, memory=512 * 1024**2),
        service(
            "api-gateway",
            Group.EDGE,
            4000,
            exposure=Exposure.PUBLIC if "api-gateway" in public else Exposure.INTERNAL,
        ),
    )
    edge = EdgeSettings(
        domain="erp.example.com",
        tls_mode="self-signed",
        acme_email=None,
        acme_ca_server=None,
        acme_challenge="tls-alpn",
        min_tls_version="VersionTLS12",
        rate_average=100,
        rate_burst=50,
        login_rate_average=5,
        login_rate_period_s=900,
        login_rate_burst=5,
        ip_strategy_depth=0,
        cors_origins=("https://app.erp.example.com",),
        admin_allowlist=("10.0.0.0/8",),
        inflight_requests=100,
        hsts_seconds=31536000,
    )
    return Platform(
        name="erp", source="tests/observability/sample.py", services=services, edge=edge
    )
