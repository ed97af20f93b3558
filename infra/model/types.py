"""The target-neutral platform model.

Everything a target needs to emit a hardened workload is decided here, once; targets only
translate these values into their own resource types. No Pulumi, no I/O in this package.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from infra.model.defaults import ADMIN_ALLOWLIST_MAX_SHARE, ADMIN_ALLOWLIST_MIN_PREFIX


class Exposure(enum.StrEnum):
    """Who may reach a service from outside the platform."""

    PUBLIC = "public"  # routed by the edge proxy to the internet (TLS, rate limits, headers)
    ADMIN = "admin"  # routed by the edge proxy, but only behind auth and an IP allowlist
    INTERNAL = "internal"  # never routed; reachable on the backend network only


class Group(enum.StrEnum):
    INFRA = "infra"
    CORE = "core"
    BUSINESS = "business"
    EDGE = "edge"
    PLATFORM = "platform"  # components Rampart adds: traefik, monitoring, exporters, backup


class Network(enum.StrEnum):
    EDGE = "edge"  # the edge proxy and what it routes to
    BACKEND = "backend"  # internal-only network (no route out); data stores live here only


class Condition(enum.StrEnum):
    """What a service waits for before it starts (`depends_on` in the catalog)."""

    STARTED = "started"  # the dependency's container is created (started) first
    COMPLETED = "completed"  # a one-shot job that ran to completion and exited 0


class SecretKind(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 - a kind name, not a password
    JWT_SIGNING_KEY = "jwt-signing-key"
    PEPPER = "pepper"
    API_KEY = "api-key"
    HTPASSWD = "htpasswd"
    TLS_KEY = "tls-key"


# Kinds a service verifies with (token signatures, the password-hash pepper): right after a
# rotation, values made with the previous version must still verify, so targets deliver the
# previous version next to the current one. The other kinds are credentials a service
# presents; an old one is useless to it, and a data store's password changes with its clients.
DUAL_VERSION_KINDS = frozenset({SecretKind.JWT_SIGNING_KEY, SecretKind.PEPPER})


@dataclass(frozen=True)
class Image:
    """An image pinned to an exact version, optionally to a digest."""

    repository: str  # e.g. "docker.io/library/postgres"
    tag: str  # exact version, e.g. "15.8-alpine3.20"
    digest: str | None = None  # "sha256:<64 hex>"

    @property
    def ref(self) -> str:
        """The one place an image reference is spelled (digest wins when present)."""
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


@dataclass(frozen=True)
class Resources:
    cpu_limit: float  # cores
    memory_limit: int  # bytes
    cpu_reservation: float
    memory_reservation: int


@dataclass(frozen=True)
class HealthCheck:
    """How the runtime decides the container is healthy.

    `command` is the exec-form probe (["CMD", ...]) for Docker; `path`/`port` describe the
    HTTP endpoint for targets that probe over HTTP (Kubernetes readiness)."""

    command: tuple[str, ...]
    interval_s: int
    timeout_s: int
    retries: int
    start_period_s: int
    ready_path: str | None = None
    live_path: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class LogPolicy:
    driver: str
    max_size: str  # docker notation, e.g. "10m"
    max_file: int


@dataclass(frozen=True)
class Security:
    read_only_root: bool
    writable_paths: tuple[str, ...]  # tmpfs/volume mounts when the root is read-only
    cap_drop: tuple[str, ...]
    cap_add: tuple[str, ...]
    no_new_privileges: bool
    user: str | None  # "uid:gid" when the image runs unprivileged; None = image default


@dataclass(frozen=True)
class SecretRef:
    """A secret a service needs, by name only. Values never enter the model."""

    name: str  # e.g. "POSTGRES_PASSWORD"
    kind: SecretKind
    file: str  # where the target mounts it in the container, e.g. /run/secrets/postgres_password
    # env var that tells the app where the file is (e.g. POSTGRES_PASSWORD_FILE)
    env: str | None = None
    shared_from: str | None = None  # owning service when several services use one secret

    @property
    def delivers_previous(self) -> bool:
        """True when targets also deliver the version before the last rotation."""
        return self.kind in DUAL_VERSION_KINDS


@dataclass(frozen=True)
class Volume:
    name: str
    path: str  # mount path in the container
    # Added by the catalog work: a bind mount of a host path (node-exporter reads /proc, /sys
    # and / of the host) instead of a named volume; None = named volume `name`.
    host_path: str | None = None
    read_only: bool = False  # mounted read-only (always true for host paths in the catalog)


@dataclass(frozen=True)
class Route:
    """An edge route for a public or admin service."""

    host: str  # e.g. "api.erp.example.com"
    path_prefix: str = "/"
    login_paths: tuple[str, ...] = ()  # get the strict login rate limit


@dataclass(frozen=True)
class Service:
    name: str  # DNS-1123 label
    group: Group
    image: Image
    port: int | None
    exposure: Exposure
    networks: tuple[Network, ...]
    depends_on: tuple[str, ...]
    stateful: bool
    health: HealthCheck | None
    resources: Resources
    security: Security
    logs: LogPolicy
    restart: str  # "unless-stopped"
    stop_grace_s: int
    environment: tuple[tuple[str, str], ...]  # non-secret settings only, sorted
    secrets: tuple[SecretRef, ...]
    volumes: tuple[Volume, ...]
    metrics_path: str | None
    metrics_port: int | None
    route: Route | None
    replicas: int = 1  # the fixed count, or the floor of a range
    # The ceiling when the catalog gives a range (`replicas: {min, max}`): a target that
    # scales autoscales within it (Kubernetes: a HorizontalPodAutoscaler); None = fixed.
    max_replicas: int | None = None
    # Replaces the image's entrypoint when non-empty; `command` holds its arguments.
    entrypoint: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    backup: str | None = None  # name of the backup job covering this stateful service
    labels: tuple[tuple[str, str], ...] = ()
    # A job that runs to completion when created or replaced (no health check, never
    # restarted): the reason the catalog gives (`one_shot: <reason>`); None for long-running
    # services.
    one_shot: str | None = None
    # The subset of `depends_on` this service waits for to have *completed successfully*
    # (one-shot jobs, `depends_on: {<job>: completed}`); the others only start first.
    completed_dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class EdgeSettings:
    """Edge (Traefik) settings; figures default to the owners' (DESIGN §1)."""

    domain: str
    tls_mode: str  # "acme" | "self-signed"
    acme_email: str | None
    acme_ca_server: str | None
    acme_challenge: str  # "tls-alpn" | "http"
    min_tls_version: str  # "VersionTLS12" | "VersionTLS13"
    rate_average: int  # req/s per client IP
    rate_burst: int
    login_rate_average: int  # requests ...
    login_rate_period_s: int  # ... per this period (5 per 900 s)
    login_rate_burst: int
    ip_strategy_depth: int  # proxies in front of Traefik (0 = use the peer address)
    cors_origins: tuple[str, ...]
    admin_allowlist: tuple[str, ...]  # CIDRs allowed on admin routers
    inflight_requests: int
    hsts_seconds: int
    # The bounds the admin allowlist was judged against (the policy pack judges with the same).
    admin_allowlist_min_prefix: int = ADMIN_ALLOWLIST_MIN_PREFIX
    admin_allowlist_max_share: float = ADMIN_ALLOWLIST_MAX_SHARE


@dataclass(frozen=True)
class Platform:
    name: str
    source: str  # the catalog file, for error messages and SARIF locations
    services: tuple[Service, ...]
    edge: EdgeSettings
    require_digests: bool = False
    # Every pin of the versions file by key, used by a service or not: a target may run an
    # image no catalog service names (the Kubernetes target's PostgreSQL operand).
    pins: tuple[tuple[str, Image], ...] = ()
    versions_source: str = "<versions>"

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)
