"""Alert thresholds and observability settings, validated.

Stack config arrives as two plain dicts (read by `infra/stack/__init__.py`, never here):
`rampart:alerts` (thresholds) and `rampart:observability` (where things are, who is told).
Every key has the platform owners' figure as its default (DESIGN §1); a value that cannot
be meant (a ratio above 1, a negative duration, a key we do not know) is an error naming
the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from infra import source_url
from infra.observability.errors import ConfigError

# ---------------------------------------------------------------------------------------
# THE threshold block. Each alert reads its figure from here and nowhere else.
# Ratios are fractions (0.05 = 5 %); durations are Prometheus durations ("15m", "7h").
# ---------------------------------------------------------------------------------------
DEFAULT_THRESHOLDS: dict[str, Any] = {
    # RED, per service (app metrics, docs/metrics.md)
    "error_ratio_critical": 0.05,  # owners: error rate > 5 % pages
    "latency_p99_warning_seconds": 1.0,  # owners: p99 > 1 s
    "availability_min": 0.99,  # owners: availability < 99 % ...
    "availability_window": "1h",  # ... over 1 h
    # Saturation
    "db_pool_warning": 0.80,  # owners: connection pool > 80 % warns
    "db_pool_critical": 0.90,  # ... > 90 % pages
    "memory_warning": 0.75,  # of the container memory limit
    "memory_critical": 0.85,
    "cpu_warning": 0.80,  # of the CPU limit (services) and of all cores (hosts)
    "disk_warning": 0.75,  # filesystem used
    "disk_critical": 0.85,
    "disk_for": "10m",  # above a disk threshold this long
    "cpu_window": "5m",  # hosts: CPU busy measured over this window ...
    "cpu_for": "15m",  # ... above cpu_warning this long
    "host_memory_warning": 0.90,  # hosts: RAM in use (not available to new work)
    "host_memory_critical": 0.95,
    "host_memory_for": "10m",
    # Reachability and certificates
    "target_down_for": "2m",  # scrape failing this long = down (4 missed 30 s scrapes)
    "host_down_for": "5m",  # a host's node_exporter unreachable this long pages
    "service_down_for": "1m",  # PostgreSQL, OpenBao (secrets) not running/unsealed this long
    "error_rate_for": "5m",  # the 5xx ratio above error_ratio_critical this long pages
    "latency_for": "10m",  # p99 above latency_p99_warning_seconds this long warns
    "certificate_min_validity": "14d",  # warn while there is still time to renew by hand
    # Backups (DESIGN §1: full backup every 6 h with one retry, RPO goal <= 15 min)
    "backup_max_age": "7h",  # one 6 h interval + 1 h for the retry and verification
    "wal_archive_max_lag": "15m",  # oldest WAL segment not yet archived: the RPO goal
    "wal_archive_for": "5m",  # ... above the lag this long
    "backup_failed_for": "5m",  # the last run failed (after its retry) this long
    # Time (node_exporter's timex collector and chrony's unit)
    "clock_offset_max_seconds": 0.05,  # |offset| above 50 ms warns (node-mixin's figure)
    "time_sync_for": "10m",  # clock unsynchronised or time sync stopped this long
    # Configuration drift (role drift, docs/metrics.md)
    "drift_for": "1m",  # a drift check failing this long warns
    "drift_max_age": "15m",  # no drift run for this long (3 runs of the 5 min timer) warns
    # SLO (multi-window, multi-burn-rate, per public service)
    "slo_objective": 0.999,  # availability objective, fraction of good requests
}

# Ratios must lie in [0, 1]; durations must be positive.
RATIO_KEYS = frozenset(
    {
        "error_ratio_critical",
        "availability_min",
        "db_pool_warning",
        "db_pool_critical",
        "memory_warning",
        "memory_critical",
        "cpu_warning",
        "disk_warning",
        "disk_critical",
        "host_memory_warning",
        "host_memory_critical",
        "slo_objective",
    }
)
DURATION_KEYS = frozenset(
    {
        "availability_window",
        "target_down_for",
        "error_rate_for",
        "latency_for",
        "certificate_min_validity",
        "backup_max_age",
        "wal_archive_max_lag",
        "disk_for",
        "cpu_window",
        "cpu_for",
        "host_memory_for",
        "host_down_for",
        "service_down_for",
        "wal_archive_for",
        "backup_failed_for",
        "time_sync_for",
        "drift_for",
        "drift_max_age",
    }
)
SECONDS_KEYS = frozenset({"latency_p99_warning_seconds", "clock_offset_max_seconds"})
# (warning, critical) pairs: a warning that fires after the critical one is a mistake.
ORDERED_PAIRS = (
    ("db_pool_warning", "db_pool_critical"),
    ("memory_warning", "memory_critical"),
    ("disk_warning", "disk_critical"),
    ("host_memory_warning", "host_memory_critical"),
)


def camel(key: str) -> str:
    """The stack-config spelling of a setting (Pulumi config keys are camelCase)."""
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _snake_keys(raw: Mapping[str, Any], known: set[str] | frozenset[str], where: str) -> dict:
    """Config keys (camelCase) to field names; an unknown key is an error naming it."""
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"expected a mapping of settings, got {type(raw).__name__}")
    by_camel = {camel(k): k for k in known}
    out = {}
    for key, value in raw.items():
        if key not in by_camel:
            raise ConfigError(
                f"{where}.{key}", f"unknown key (known: {', '.join(sorted(by_camel))})"
            )
        out[by_camel[key]] = value
    return out


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(key: str, value: Any) -> int:
    """Seconds from a Prometheus duration ("1h30m") or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like '15m', got {value!r}")
    if isinstance(value, int | float):
        seconds = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ConfigError(key, f"duration must be positive, got {value!r}")
        m = _DURATION.match(text)
        if not text or not m or not any(m.groups()):
            raise ConfigError(key, f"expected a duration like '15m' or '7h', got {value!r}")
        seconds = sum(int(n) * _UNIT_S[u] for n, u in zip(m.groups(), "dhms", strict=True) if n)
    else:
        raise ConfigError(key, f"expected a duration like '15m', got {type(value).__name__}")
    if seconds <= 0:
        raise ConfigError(key, f"duration must be positive, got {value!r}")
    if seconds != int(seconds):
        raise ConfigError(key, f"duration must be whole seconds, got {value!r}")
    return int(seconds)


def format_duration(seconds: int) -> str:
    """The shortest Prometheus spelling of a duration ("7h", "1d", "90s" -> "1m30s")."""
    out = []
    for unit, size in _UNIT_S.items():
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(key, f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(key, f"expected a number, got {value!r}") from None


@dataclass(frozen=True)
class Thresholds:
    """Validated thresholds; durations in seconds."""

    error_ratio_critical: float
    latency_p99_warning_seconds: float
    availability_min: float
    availability_window: int
    db_pool_warning: float
    db_pool_critical: float
    memory_warning: float
    memory_critical: float
    cpu_warning: float
    disk_warning: float
    disk_critical: float
    disk_for: int
    cpu_window: int
    cpu_for: int
    host_memory_warning: float
    host_memory_critical: float
    host_memory_for: int
    target_down_for: int
    host_down_for: int
    service_down_for: int
    error_rate_for: int
    latency_for: int
    certificate_min_validity: int
    backup_max_age: int
    wal_archive_max_lag: int
    wal_archive_for: int
    backup_failed_for: int
    clock_offset_max_seconds: float
    time_sync_for: int
    drift_for: int
    drift_max_age: int
    slo_objective: float

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None = None) -> Thresholds:
        raw = _snake_keys(raw or {}, set(DEFAULT_THRESHOLDS), "alerts")
        values: dict[str, Any] = {}
        for key, default in DEFAULT_THRESHOLDS.items():
            value = raw.get(key, default)
            name = f"alerts.{camel(key)}"
            if key in DURATION_KEYS:
                values[key] = parse_duration(name, value)
            elif key in RATIO_KEYS:
                number = _number(name, value)
                if not 0 <= number <= 1:
                    raise ConfigError(name, f"ratio must be between 0 and 1, got {value!r}")
                values[key] = number
            else:  # SECONDS_KEYS
                number = _number(name, value)
                if number <= 0:
                    raise ConfigError(name, f"must be a positive number of seconds, got {value!r}")
                values[key] = number
        if values["slo_objective"] >= 1:
            # A 100 % objective has no error budget: every burn rate divides by zero.
            raise ConfigError("alerts.sloObjective", "objective must be below 1 (no budget)")
        for low, high in ORDERED_PAIRS:
            if values[low] >= values[high]:
                raise ConfigError(
                    f"alerts.{camel(low)}",
                    f"warning threshold {values[low]} must be below "
                    f"alerts.{camel(high)} ({values[high]})",
                )
        return cls(**values)


# ---------------------------------------------------------------------------------------
# Where things are and who gets told (`rampart:observability`).
# ---------------------------------------------------------------------------------------
RECEIVER_KINDS = ("webhook", "email", "slack")
# Container paths; the deploy writes each secret file there from Vault (never a literal).
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
GRAFANA_ADMIN_PASSWORD_FILE = "/run/secrets/grafana_admin_password"  # noqa: S105 (a path)


@dataclass(frozen=True)
class Receiver:
    """One notification integration. Credentials are files the deploy fills from Vault."""

    name: str
    kind: str  # webhook | email | slack
    # webhook: url; email: to; slack: channel
    target: str
    # email only
    smarthost: str | None = None
    sender: str | None = None
    auth_username: str | None = None
    # Vault secret name whose value the deploy writes to the credential file
    # (webhook bearer token, SMTP password, Slack webhook URL). None = no credential.
    secret: str | None = None

    @property
    def credential_file(self) -> str | None:
        if self.secret is None:
            return None
        return f"{ALERTMANAGER_SECRETS_DIR}/{self.secret.lower()}"


@dataclass(frozen=True)
class Settings:
    """Validated `rampart:observability` settings."""

    thresholds: Thresholds
    node_targets: tuple[str, ...] = (
        "10.77.0.11:9100",
        "10.77.0.12:9100",
        "10.77.0.13:9100",
        "10.77.0.14:9100",
    )
    # Traefik's metrics entry points on bare edge hosts (host:port), scraped as job traefik
    # when scrape_services is false (the Docker target reaches it at traefik_metrics_address).
    edge_targets: tuple[str, ...] = ()
    runbook_base_url: str = field(default_factory=lambda: f"{source_url()}/runbooks")
    scrape_interval: int = 30
    evaluation_interval: int = 30
    # False on bare hosts (the `prometheus` role): catalog services have no address there,
    # so only Prometheus, Alertmanager and the node targets are scraped.
    scrape_services: bool = True
    prometheus_address: str = "localhost:9090"  # where Prometheus scrapes itself
    prometheus_url: str = "http://prometheus:9090"
    alertmanager_address: str = "alertmanager:9093"
    traefik_metrics_address: str = "traefik:8082"
    postgres_exporter_address: str = "postgres-exporter:9187"
    redis_exporter_address: str = "redis-exporter:9121"
    grafana_root_url: str = "https://grafana.erp.example.com/"
    slo_objectives: tuple[tuple[str, float], ...] = ()  # per-service overrides
    receivers: tuple[Receiver, ...] = ()
    route_critical: tuple[str, ...] = ()  # receiver names paged on critical
    route_warning: tuple[str, ...] = ()  # receiver names ticketed on warning

    def slo_objective(self, service: str) -> float:
        return dict(self.slo_objectives).get(service, self.thresholds.slo_objective)


_SIMPLE_STR = (
    "runbook_base_url",
    "prometheus_address",
    "prometheus_url",
    "alertmanager_address",
    "traefik_metrics_address",
    "postgres_exporter_address",
    "redis_exporter_address",
    "grafana_root_url",
)
_KNOWN = set(_SIMPLE_STR) | {
    "node_targets",
    "edge_targets",
    "scrape_interval",
    "evaluation_interval",
    "scrape_services",
    "slo_objectives",
    "receivers",
    "routes",
}
def _targets(name: str, targets: Any) -> tuple[str, ...]:
    if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
        raise ConfigError(name, "expected a list of host:port")
    for index, t in enumerate(targets):
        _host_port(f"{name}[{index}]", t)
    return tuple(targets)


_HOSTPORT = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def _receiver(index: int, raw: Any) -> Receiver:
    where = f"observability.receivers[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError(
            where, "expected a mapping with name and one of " + "/".join(RECEIVER_KINDS)
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name", f"expected a lower-case name, got {name!r}")
    kinds = [k for k in RECEIVER_KINDS if k in raw]
    if len(kinds) != 1:
        raise ConfigError(where, f"exactly one of {', '.join(RECEIVER_KINDS)} is required")
    kind = kinds[0]
    spec = raw[kind]
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}.{kind}", "expected a mapping")
    allowed = {
        "webhook": {"url", "secret"},
        "email": {"to", "from", "smarthost", "authUsername", "secret"},
        "slack": {"channel", "secret"},
    }[kind]
    for key in spec:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{kind}.{key}", f"unknown key (known: {', '.join(sorted(allowed))})"
            )
    for key in spec:
        if any(word in key for word in ("password", "token")) or key in ("api_url",):
            raise ConfigError(f"{where}.{kind}.{key}", "credentials come from Vault via 'secret'")
    target_key = {"webhook": "url", "email": "to", "slack": "channel"}[kind]
    target = spec.get(target_key)
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{where}.{kind}.{target_key}", "is required")
    if kind == "webhook" and not target.startswith("https://") and not target.startswith("http://"):
        raise ConfigError(f"{where}.webhook.url", f"expected an http(s) URL, got {target!r}")
    secret = spec.get("secret")
    if kind == "slack" and not secret:
        # The Slack webhook URL *is* the credential; it must come from Vault.
        raise ConfigError(f"{where}.slack.secret", "Slack needs the Vault secret holding its URL")
    if kind == "email":
        for key in ("from", "smarthost"):
            if not spec.get(key):
                raise ConfigError(f"{where}.email.{key}", "is required")
        if not _HOSTPORT.match(str(spec["smarthost"])):
            raise ConfigError(f"{where}.email.smarthost", "expected host:port")
    if secret is not None and (
        not isinstance(secret, str) or not re.match(r"^[A-Z][A-Z0-9_]*$", secret)
    ):
        raise ConfigError(
            f"{where}.{kind}.secret",
            f"expected a secret name like SLACK_WEBHOOK_URL, got {secret!r}",
        )
    return Receiver(
        name=name,
        kind=kind,
        target=target,
        smarthost=spec.get("smarthost"),
        sender=spec.get("from"),
        auth_username=spec.get("authUsername"),
        secret=secret,
    )


def _refuse_literal_secrets(alerts: Any, observability: Any) -> None:
    """Before anything reads (and could quote back) a value: a credential anywhere in the two
    blocks — a password in a webhook URL's userinfo, a token in its path — is refused naming
    the field. A receiver names the Vault secret that holds its credential ('secret'), never
    the value (docs/observability.md). The one detector (infra/secrets/literals.py) judges."""
    from infra.model import secret_scan

    found = secret_scan.settings_findings(
        {"alerts": alerts or {}, "observability": observability or {}}, skip=frozenset())
    if found:
        raise ConfigError(found[0].where, f"secret declared with a literal value "
                                          f"({found[0].why}); secrets come only from Vault: "
                                          "a receiver names the Vault secret holding its "
                                          "credential ('secret'), never the value")


def _host_port(key: str, value: str) -> None:
    """`host:port`, named in the error, never quoted when it carries user info."""
    if "@" in value:
        raise ConfigError(key, "expected host:port without user info (user:password@): "
                               "scrape credentials come from Vault, never from the stack file")
    if not _HOSTPORT.match(value):
        raise ConfigError(key, f"expected host:port, got {value!r}")


def load_settings(
    alerts: Mapping[str, Any] | None = None, observability: Mapping[str, Any] | None = None
) -> Settings:
    """Validate both config dicts; the only way Settings are built from config."""
    _refuse_literal_secrets(alerts, observability)
    thresholds = Thresholds.from_config(alerts)
    raw = _snake_keys(observability or {}, _KNOWN, "observability")
    kwargs: dict[str, Any] = {"thresholds": thresholds}
    for key in _SIMPLE_STR:
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key]:
                raise ConfigError(
                    f"observability.{camel(key)}", f"expected a non-empty string, got {raw[key]!r}"
                )
            kwargs[key] = raw[key]
    for key in (
        "prometheus_address",
        "alertmanager_address",
        "traefik_metrics_address",
        "postgres_exporter_address",
        "redis_exporter_address",
    ):
        if key in kwargs:
            _host_port(f"observability.{camel(key)}", kwargs[key])
    for key in ("node_targets", "edge_targets"):
        if key in raw:
            kwargs[key] = _targets(f"observability.{camel(key)}", raw[key])
    for key in ("scrape_interval", "evaluation_interval"):
        if key in raw:
            kwargs[key] = parse_duration(f"observability.{camel(key)}", raw[key])
    if "scrape_services" in raw:
        if not isinstance(raw["scrape_services"], bool):
            raise ConfigError(
                "observability.scrapeServices",
                f"expected true or false, got {raw['scrape_services']!r}",
            )
        kwargs["scrape_services"] = raw["scrape_services"]
    if "slo_objectives" in raw:
        objectives = raw["slo_objectives"]
        if not isinstance(objectives, Mapping):
            raise ConfigError(
                "observability.sloObjectives", "expected a mapping service: objective"
            )
        checked = []
        for svc, value in sorted(objectives.items()):
            key = f"observability.sloObjectives.{svc}"
            number = _number(key, value)
            if not 0 < number < 1:
                raise ConfigError(
                    key, f"objective must be between 0 and 1 (exclusive), got {value!r}"
                )
            checked.append((str(svc), number))
        kwargs["slo_objectives"] = tuple(checked)
    receivers = tuple(_receiver(i, r) for i, r in enumerate(raw.get("receivers") or ()))
    names = [r.name for r in receivers]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError("observability.receivers", f"receiver name {name!r} is used twice")
    kwargs["receivers"] = receivers
    routes = raw.get("routes") or {}
    if not isinstance(routes, Mapping):
        raise ConfigError("observability.routes", "expected a mapping severity: [receiver, ...]")
    for severity, targets in routes.items():
        key = f"observability.routes.{severity}"
        if severity not in ("critical", "warning"):
            raise ConfigError(key, "routes exist for 'critical' and 'warning' only")
        if isinstance(targets, str):
            targets = [targets]
        for target in targets:
            if target not in names:
                raise ConfigError(key, f"no receiver named {target!r}")
        kwargs[f"route_{severity}"] = tuple(targets)
    settings = Settings(**kwargs)
    for svc, _ in settings.slo_objectives:
        if not _NAME.match(svc):
            raise ConfigError(f"observability.sloObjectives.{svc}", "not a service name")
    return settings


__all__ = [
    "DEFAULT_THRESHOLDS",
    "Receiver",
    "Settings",
    "Thresholds",
    "format_duration",
    "load_settings",
    "parse_duration",
]

# Keep dataclass fields and the defaults block in step (a new threshold needs both).
assert {f.name for f in fields(Thresholds)} == set(DEFAULT_THRESHOLDS)
