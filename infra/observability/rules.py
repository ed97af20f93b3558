"""Recording and alerting rules, as target-neutral data.

`rule_files(platform, settings)` returns RuleFile objects; `render_rule_file` turns one into
Prometheus rule-file YAML. The Kubernetes target can turn the same objects into
PrometheusRule resources (a RuleFile maps to one PrometheusRule, its groups map 1:1).

Metric names the rules rely on are the contract in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.types import Exposure, Platform, Service
from infra.observability.settings import Settings, format_duration, parse_duration

# Labels every series carries (prometheus.yml puts them there); rules aggregate by them.
SERVICE_LABELS = "service, tier"
# Application HTTP metrics (docs/metrics.md).
REQUESTS = "http_requests_total"
DURATION_BUCKETS = "http_request_duration_seconds_bucket"
ERROR_CODES = 'code=~"5.."'  # server-side failures; 4xx are the client's doing
RED_WINDOW = "5m"
EDGE_JOB = "traefik"  # the scrape job of Traefik's metrics entry point (prometheus.py)
QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))

# Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, ch. 5, table 5-8).
# (long window, short window, burn-rate factor, severity, for)
BURN_WINDOWS = (
    ("1h", "5m", 14.4, "critical", "2m"),  # 2 % of a 30-day budget in 1 h: page
    ("6h", "30m", 6.0, "warning", "15m"),  # 5 % in 6 h: ticket
    ("1d", "2h", 3.0, "warning", "1h"),  # 10 % in 1 d: ticket
    ("3d", "6h", 1.0, "warning", "3h"),  # 10 % in 3 d: ticket
)

# Filesystems that are not disks (node_exporter reports them too). A tmpfs that holds data
# (/tmp, a scratch mount) counts: when it fills, writers fail as on a full disk; the
# kernel's and the runtime's own (/run, /dev, /sys, /proc) do not.
PSEUDO_FS = (
    'fstype!~"ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.lxcfs",'
    'mountpoint!~"/(run|dev|sys|proc)($|/.*)"'
)
# Units node_exporter's systemd collector reports (role node_exporter).
POSTGRES_UNIT = 'name=~"postgresql@.+[.]service"'
TIME_SYNC_UNIT = 'name="chrony.service"'



@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertRule:
    alert: str
    expr: str
    for_: str
    severity: str  # "critical" pages, "warning" becomes a ticket
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]


@dataclass(frozen=True)
class RuleFile:
    name: str  # file stem: rules/<name>.rules.yml
    groups: tuple[RuleGroup, ...]

    @property
    def path(self) -> str:
        return f"rules/{self.name}.rules.yml"

    def alerts(self) -> list[AlertRule]:
        return [r for g in self.groups for r in g.rules if isinstance(r, AlertRule)]


def num(value: float) -> str:
    """A float as PromQL spells it, without binary noise (14.4 * 0.001 -> 0.0144)."""
    text = repr(round(value, 10))
    return text[:-2] if text.endswith(".0") else text


def pct(value: float) -> str:
    return f"{num(value * 100)} %"


def runbook_url(settings: Settings, alert: str) -> str:
    """THE place a runbook link is spelled."""
    return f"{settings.runbook_base_url.rstrip('/')}/{alert}.md"


def app_services(platform: Platform) -> list[Service]:
    """Services whose own process exposes metrics (apps, not exporters' subjects)."""
    return [s for s in platform.services if s.metrics_path]


def public_services(platform: Platform) -> list[Service]:
    return [s for s in platform.services if s.exposure == Exposure.PUBLIC]


# --------------------------------------------------------------------------------- RED
def red_rules(platform: Platform, settings: Settings) -> RuleFile:
    t = settings.thresholds
    windows = sorted({RED_WINDOW, format_duration(t.availability_window)}, key=_seconds)
    rules: list[RecordingRule] = []
    for w in windows:
        rules += [
            RecordingRule(
                f"service:http_requests:rate{w}",
                f"sum by ({SERVICE_LABELS}) (rate({REQUESTS}[{w}]))",
            ),
            RecordingRule(
                f"service:http_request_errors:rate{w}",
                # A service that never answered 5xx has no 5xx series: `or ... * 0` makes
                # its error rate 0 instead of absent (rules in a group run in order, so
                # the request rate above is already recorded for this evaluation).
                f"sum by ({SERVICE_LABELS}) (rate({REQUESTS}{{{ERROR_CODES}}}[{w}])) "
                f"or service:http_requests:rate{w} * 0",
            ),
            RecordingRule(
                f"service:http_request_errors:ratio_rate{w}",
                f"service:http_request_errors:rate{w} / service:http_requests:rate{w}",
            ),
        ]
    for name, q in QUANTILES:
        rules.append(
            RecordingRule(
                f"service:http_request_duration_seconds:{name}_rate{RED_WINDOW}",
                f"histogram_quantile({q}, sum by ({SERVICE_LABELS}, le) "
                f"(rate({DURATION_BUCKETS}[{RED_WINDOW}])))",
            )
        )
    # Limits come from the model (the same figures the targets enforce), so "memory of
    # limit" means the same thing on Docker and Kubernetes without cAdvisor relabelling.
    # Keyed by scrape job (= the container whose process metrics we read): an exporter's
    # series carry its data store's `service` label but its own job and its own limit, and
    # node_exporter on bare hosts (job "node") has no container limit at all.
    limits: list[RecordingRule] = []
    for svc in app_services(platform):
        lbl = (("job", svc.name),)
        limits.append(
            RecordingRule("job:memory_limit_bytes", f"vector({svc.resources.memory_limit})", lbl)
        )
        limits.append(
            RecordingRule("job:cpu_limit_cores", f"vector({num(svc.resources.cpu_limit)})", lbl)
        )
    groups = [RuleGroup("rampart-red", tuple(rules))]
    if limits:
        groups.append(RuleGroup("rampart-limits", tuple(limits)))
    return RuleFile("red", tuple(groups))


def _seconds(duration: str) -> int:
    return parse_duration("window", duration)


# ---------------------------------------------------------------------------- services
def service_alerts(settings: Settings) -> RuleFile:
    t = settings.thresholds
    down_for = format_duration(t.service_down_for)
    avail_w = format_duration(t.availability_window)
    rules = (
        AlertRule(
            "ServiceHighErrorRate",
            f"service:http_request_errors:ratio_rate{RED_WINDOW} > {num(t.error_ratio_critical)}",
            format_duration(t.error_rate_for),
            "critical",
            "{{ $labels.service }} fails {{ $value | humanizePercentage }} of requests",
            "More than " + pct(t.error_ratio_critical) + " of {{ $labels.service }}'s HTTP "
            "requests answered 5xx over the last 5 minutes.",
        ),
        AlertRule(
            "ServiceHighLatency",
            f"service:http_request_duration_seconds:p99_rate{RED_WINDOW} > "
            f"{num(t.latency_p99_warning_seconds)}",
            format_duration(t.latency_for),
            "warning",
            "{{ $labels.service }} p99 latency is {{ $value | humanizeDuration }}",
            "The 99th percentile of {{ $labels.service }}'s request duration has been above "
            f"{num(t.latency_p99_warning_seconds)} s for {format_duration(t.latency_for)}.",
        ),
        AlertRule(
            "ServiceAvailabilityLow",
            f"(1 - service:http_request_errors:ratio_rate{avail_w}) < {num(t.availability_min)}",
            "5m",
            "warning",
            "{{ $labels.service }} availability is {{ $value | humanizePercentage }} over "
            + avail_w,
            "Fewer than " + pct(t.availability_min) + " of {{ $labels.service }}'s requests "
            f"succeeded over the last {avail_w}.",
        ),
        *_split(
            "ServiceMemoryHigh",
            "process_resident_memory_bytes / on (job) group_left job:memory_limit_bytes",
            t.memory_warning,
            t.memory_critical,
            "5m",
            "{{ $labels.service }} ({{ $labels.instance }}) uses {{ $value | humanizePercentage }} "
            "of its memory limit",
            "Resident memory of {{ $labels.service }} on {{ $labels.instance }} is above {pct} "
            "of the container limit; at 100 % the runtime kills it.",
        ),
        AlertRule(
            "ServiceCpuHigh",
            "rate(process_cpu_seconds_total[5m]) / on (job) group_left "
            f"job:cpu_limit_cores > {num(t.cpu_warning)}",
            "15m",
            "warning",
            "{{ $labels.service }} ({{ $labels.instance }}) uses {{ $value | humanizePercentage }} "
            "of its CPU limit",
            "{{ $labels.service }} on {{ $labels.instance }} has used more than "
            + pct(t.cpu_warning)
            + " of its CPU limit for 15 minutes; it is being throttled or is about to be.",
        ),
        *_split(
            "DatabasePoolSaturation",
            'sum by (service, tier, instance) (db_client_connections_usage{state="used"}) / '
            "sum by (service, tier, instance) (db_client_connections_max)",
            t.db_pool_warning,
            t.db_pool_critical,
            "5m",
            "{{ $labels.service }} uses {{ $value | humanizePercentage }} of its DB pool",
            "{{ $labels.service }} on {{ $labels.instance }} holds more than {pct} of its "
            "database connection pool; when it is exhausted requests queue and time out.",
        ),
        AlertRule(
            "TargetDown",
            "up == 0",
            format_duration(t.target_down_for),
            "warning",
            "{{ $labels.job }} target {{ $labels.instance }} is down",
            "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}, "
            "service {{ $labels.service }}) for " + format_duration(t.target_down_for) + ".",
        ),
        *secrets_alerts(settings),
        # Bare hosts have no postgres_exporter: the cluster's unit, as systemd reports it.
        AlertRule(
            "DatabaseDown",
            # postgres_exporter (Docker), the unit on bare hosts, CloudNativePG's collector
            f"pg_up == 0 or node_systemd_unit_state{{{POSTGRES_UNIT},state=\"active\"}} == 0 "
            "or cnpg_collector_up == 0",
            down_for,
            "critical",
            "PostgreSQL on {{ $labels.instance }} is down",
            "PostgreSQL on {{ $labels.instance }} has not been running (or its exporter cannot "
            "connect) for " + down_for + ": every service that writes fails, and no WAL is "
            "archived.",
        ),
    )
    return RuleFile("services", (RuleGroup("rampart-services", rules),))


def secrets_alerts(settings: Settings) -> tuple[AlertRule, ...]:
    """The secrets backend (OpenBao/Vault) as its host's health check sees it (role openbao
    writes rampart_openbao_* for node_exporter): nothing can read a secret while it is down
    or sealed, so deploys and rotations stop and restarting services cannot start."""
    down_for = format_duration(settings.thresholds.service_down_for)
    return (
        AlertRule(
            "SecretsBackendDown",
            "rampart_openbao_up == 0",
            down_for,
            "critical",
            "The secrets backend on {{ $labels.instance }} does not answer",
            "OpenBao's health endpoint on {{ $labels.instance }} has not answered for "
            + down_for + " (stopped, crashed or unreachable): no secret can be read.",
        ),
        AlertRule(
            "SecretsBackendSealed",
            # A server never initialised is sealed too, but that is a setup step pending,
            # not an outage: it never served a secret.
            "rampart_openbao_sealed == 1 and rampart_openbao_initialized == 1",
            down_for,
            "critical",
            "The secrets backend on {{ $labels.instance }} is sealed",
            "OpenBao on {{ $labels.instance }} has been sealed for " + down_for + ": it runs "
            "but serves no secret until key holders unseal it.",
        ),
    )


def _split(
    alert: str,
    ratio_expr: str,
    warning: float,
    critical: float,
    for_: str,
    summary: str,
    description: str,
) -> tuple[AlertRule, AlertRule]:
    """One alert name at two severities; Alertmanager inhibits the warning while the
    critical one fires (same alertname and labels)."""
    return tuple(  # type: ignore[return-value]
        AlertRule(
            alert,
            f"{ratio_expr} > {num(level)}",
            for_,
            severity,
            summary,
            description.replace("{pct}", pct(level)),
        )
        for severity, level in (("warning", warning), ("critical", critical))
    )


# ------------------------------------------------------------------------------- hosts
def host_alerts(settings: Settings) -> RuleFile:
    t = settings.thresholds
    cpu_window, cpu_for = format_duration(t.cpu_window), format_duration(t.cpu_for)
    sync_for = format_duration(t.time_sync_for)
    rules = (
        AlertRule(
            "HostDown",
            'up{job="node"} == 0',
            format_duration(t.host_down_for),
            "critical",
            "Host {{ $labels.instance }} is down or unreachable",
            "node_exporter on {{ $labels.instance }} has not answered for "
            + format_duration(t.host_down_for)
            + " (TargetDown warned earlier): the host is off, cut off from the network, or "
            "its exporter is stopped; nothing on it is monitored.",
        ),
        AlertRule(
            "HostCpuHigh",
            "1 - avg without (cpu, mode) "
            f'(rate(node_cpu_seconds_total{{mode="idle"}}[{cpu_window}])) > {num(t.cpu_warning)}',
            cpu_for,
            "warning",
            "Host {{ $labels.instance }} CPU is {{ $value | humanizePercentage }} busy",
            "All cores of {{ $labels.instance }} together have been more than "
            + pct(t.cpu_warning)
            + f" busy for {cpu_for}.",
        ),
        *_split(
            "HostMemoryHigh",
            "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
            t.host_memory_warning,
            t.host_memory_critical,
            format_duration(t.host_memory_for),
            "Host {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory",
            "More than {pct} of {{ $labels.instance }}'s memory is in use (not available to "
            "new work) for " + format_duration(t.host_memory_for) + "; the OOM killer is next.",
        ),
        *_split(
            "HostDiskFilling",
            f"1 - node_filesystem_avail_bytes{{{PSEUDO_FS}}} / "
            f"node_filesystem_size_bytes{{{PSEUDO_FS}}}",
            t.disk_warning,
            t.disk_critical,
            format_duration(t.disk_for),
            "{{ $labels.mountpoint }} on {{ $labels.instance }} is "
            "{{ $value | humanizePercentage }} "
            "full",
            "Filesystem {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} "
            "is more than {pct} full.",
        ),
        AlertRule(
            "HostClockSkew",
            f"abs(node_timex_offset_seconds) > {num(t.clock_offset_max_seconds)}",
            sync_for,
            "warning",
            "Clock of {{ $labels.instance }} is {{ $value | humanizeDuration }} off",
            "The kernel clock of {{ $labels.instance }} has been more than "
            f"{num(t.clock_offset_max_seconds)} s from its time source for {sync_for}: "
            "TLS, Kerberos-style tokens, TOTP and log ordering break first.",
        ),
        AlertRule(
            "HostClockNotSynchronising",
            "node_timex_sync_status == 0",
            sync_for,
            "warning",
            "Clock of {{ $labels.instance }} is not synchronised",
            f"The kernel of {{{{ $labels.instance }}}} has reported its clock unsynchronised "
            f"for {sync_for}: no time source is reachable or usable, and the clock drifts.",
        ),
        AlertRule(
            "TimeSyncStopped",
            f"node_systemd_unit_state{{{TIME_SYNC_UNIT},state=\"active\"}} == 0",
            sync_for,
            "warning",
            "Time synchronisation is stopped on {{ $labels.instance }}",
            f"chrony on {{{{ $labels.instance }}}} has not been running for {sync_for}: "
            "nothing keeps the clock on time from now on.",
        ),
        AlertRule(
            "HostConfigurationDrift",
            "rampart_drift_check_ok == 0 or "
            f"time() - rampart_drift_last_run_timestamp_seconds > {t.drift_max_age}",
            format_duration(t.drift_for),
            "warning",
            "{{ $labels.instance }} drifted from its hardening ({{ $labels.check }})",
            "The drift check {{ $labels.check }} on {{ $labels.instance }} found the host "
            "different from what the last converge left (a check label: which one), or the "
            "checks have not run for more than " + format_duration(t.drift_max_age)
            + " (no check label).",
        ),
    )
    return RuleFile("hosts", (RuleGroup("rampart-hosts", rules),))


# ------------------------------------------------------------------------- data stores
PGBACKREST = "pgbackrest"  # the backup job's series (rampart_backup_*, pgbackrest_*)
CNPG = "cnpg"  # CloudNativePG's exporter (cnpg_collector_*), the Kubernetes target's
def data_alerts(platform: Platform, settings: Settings,
                backups: str = PGBACKREST) -> RuleFile:
    """PostgreSQL and backup alerts. `backups` names where the backup figures come from: the
    pgBackRest job's textfile series (VMs, Docker) or CloudNativePG's exporter (Kubernetes);
    the alerts keep their names, runbooks and thresholds either way."""
    t = settings.thresholds
    backup_jobs = sorted({s.backup for s in platform.services if s.backup})
    too_old = f"time() - rampart_backup_last_success_timestamp_seconds > {t.backup_max_age}"
    # A job that never reported is older than any threshold: name each job the model
    # declares so a backup that never ran alerts too (absent() keeps the backup label).
    for job in backup_jobs:
        too_old += f' or absent(rampart_backup_last_success_timestamp_seconds{{backup="{job}"}})'
    max_age = format_duration(t.backup_max_age)
    lag = format_duration(t.wal_archive_max_lag)
    rules = (
        *_split(
            "PostgresConnectionsSaturation",
            "sum by (service, tier, instance) (pg_stat_activity_count) / on (service, tier, "
            "instance) max by (service, tier, instance) (pg_settings_max_connections)",
            t.db_pool_warning,
            t.db_pool_critical,
            "5m",
            "PostgreSQL {{ $labels.instance }} uses {{ $value | humanizePercentage }} of "
            "max_connections",
            "Server connections on {{ $labels.instance }} exceed {pct} of max_connections; "
            "at 100 % new connections are refused.",
        ),
        AlertRule(
            "BackupTooOld",
            too_old if backups == PGBACKREST else
            f"time() - cnpg_collector_last_available_backup_timestamp > {t.backup_max_age}",
            "5m",
            "critical",
            "No successful backup of {{ $labels.backup }} for more than " + max_age,
            "The last verified backup of {{ $labels.backup }} is older than "
            + max_age
            + " (or none was ever recorded). The recovery point is slipping.",
        ),
        AlertRule(
            "BackupFailed",
            "rampart_backup_last_attempt_success == 0" if backups == PGBACKREST else
            # a failure newer than the last backup that worked
            "cnpg_collector_last_failed_backup_timestamp > "
            "cnpg_collector_last_available_backup_timestamp",
            format_duration(t.backup_failed_for),
            "critical",
            "Backup {{ $labels.backup }} failed after its retry",
            "The last scheduled backup of {{ $labels.backup }} failed (or failed verification) "
            "after its retry.",
        ),
        AlertRule(
            "WalArchivingLagging",
            f"pgbackrest_wal_archive_lag_seconds > {t.wal_archive_max_lag}"
            if backups == PGBACKREST else
            # segments ready but not archived, for longer than the lag allowed
            'cnpg_collector_pg_wal_archive_status{value="ready"} > 0',
            format_duration(t.wal_archive_for) if backups == PGBACKREST else lag,
            "critical",
            "WAL archiving of stanza {{ $labels.stanza }} is "
            "{{ $value | humanizeDuration }} behind" if backups == PGBACKREST else
            "WAL archiving of {{ $labels.service }} is more than " + lag + " behind",
            "The oldest WAL segment of stanza {{ $labels.stanza }} waiting for the archive is "
            "older than " + lag + "; a disaster now would lose more than the RPO goal."
            if backups == PGBACKREST else
            "WAL segments of {{ $labels.service }} have waited for the archive for more than "
            + lag + "; a disaster now would lose more than the RPO goal.",
        ),
    )
    return RuleFile("data", (RuleGroup("rampart-data", rules),))


# ------------------------------------------------------------------------------- edge
def edge_alerts(settings: Settings) -> RuleFile:
    """Traefik's own series (its metrics entry point, job `traefik`): what clients meet at
    the edge, whatever the upstream reports. Traefik's `service` label (the routed service,
    e.g. `api-gateway@file`) arrives as `exported_service`: the scrape job sets `service`."""
    t = settings.thresholds
    days = num(t.certificate_min_validity / 86400)
    by = "exported_service"
    requests = f"traefik_service_requests_total{{job=\"{EDGE_JOB}\"}}"
    errors = f"traefik_service_requests_total{{job=\"{EDGE_JOB}\",{ERROR_CODES}}}"
    buckets = f"traefik_service_request_duration_seconds_bucket{{job=\"{EDGE_JOB}\"}}"
    rules = (
        AlertRule(
            "EdgeHighErrorRate",
            f"sum by ({by}) (rate({errors}[{RED_WINDOW}])) / "
            f"sum by ({by}) (rate({requests}[{RED_WINDOW}])) > {num(t.error_ratio_critical)}",
            format_duration(t.error_rate_for),
            "critical",
            "The edge answers {{ $value | humanizePercentage }} 5xx for "
            "{{ $labels.exported_service }}",
            "More than " + pct(t.error_ratio_critical) + " of the requests Traefik routed to "
            "{{ $labels.exported_service }} answered 5xx over the last 5 minutes (502/504: the "
            "upstream is down or too slow; clients see these errors).",
        ),
        AlertRule(
            "EdgeHighLatency",
            f"histogram_quantile(0.99, sum by ({by}, le) (rate({buckets}[{RED_WINDOW}]))) > "
            f"{num(t.latency_p99_warning_seconds)}",
            format_duration(t.latency_for),
            "warning",
            "Edge p99 latency for {{ $labels.exported_service }} is "
            "{{ $value | humanizeDuration }}",
            "The 99th percentile of the request duration Traefik measured for "
            "{{ $labels.exported_service }} has been above "
            f"{num(t.latency_p99_warning_seconds)} s for {format_duration(t.latency_for)}.",
        ),
        AlertRule(
            "CertificateExpiringSoon",
            f"traefik_tls_certs_not_after - time() < {t.certificate_min_validity}",
            "10m",
            "warning",
            "Certificate {{ $labels.cn }} expires in {{ $value | humanizeDuration }}",
            "The TLS certificate for {{ $labels.cn }} (SANs {{ $labels.sans }}) served by "
            f"Traefik expires within {days} days and has not been renewed.",
        ),
    )
    return RuleFile("edge", (RuleGroup("rampart-edge", rules),))


# -------------------------------------------------------------------------------- SLO
def slo_rules(platform: Platform, settings: Settings) -> RuleFile | None:
    services = public_services(platform)
    if not services:
        return None
    windows = sorted({w for long, short, *_ in BURN_WINDOWS for w in (long, short)}, key=_seconds)
    regex = "|".join(s.name for s in services)
    sel = f'service=~"{regex}"'
    records = tuple(
        RecordingRule(
            f"slo:sli_error:ratio_rate{w}",
            f"(sum by ({SERVICE_LABELS}) (rate({REQUESTS}{{{sel},{ERROR_CODES}}}[{w}])) "
            f"or sum by ({SERVICE_LABELS}) (rate({REQUESTS}{{{sel}}}[{w}])) * 0) / "
            f"sum by ({SERVICE_LABELS}) (rate({REQUESTS}{{{sel}}}[{w}]))",
        )
        for w in windows
    )
    alerts: list[AlertRule] = []
    for svc in services:
        objective = settings.slo_objective(svc.name)
        budget = 1 - objective
        for long, short, factor, severity, for_ in BURN_WINDOWS:
            bound = num(factor * budget)
            alerts.append(
                AlertRule(
                    "ErrorBudgetBurn",
                    f'slo:sli_error:ratio_rate{long}{{service="{svc.name}"}} > {bound} and '
                    f'slo:sli_error:ratio_rate{short}{{service="{svc.name}"}} > {bound}',
                    for_,
                    severity,
                    "{{ $labels.service }} burns its error budget " + num(factor) + "x too fast",
                    f"{svc.name} ({pct(objective)} objective) has failed more than "
                    f"{pct(factor * budget)} of requests over both the last {long} and {short}: "
                    f"at this rate the 30-day error budget is gone in "
                    f"{num(round(30 / factor, 1))} days.",
                    labels=(("long_window", long), ("slo_objective", num(objective))),
                )
            )
    return RuleFile(
        "slo",
        (RuleGroup("rampart-slo-sli", records), RuleGroup("rampart-slo-alerts", tuple(alerts))),
    )


def rule_files(platform: Platform, settings: Settings,
               backups: str = PGBACKREST) -> list[RuleFile]:
    files = [
        red_rules(platform, settings),
        service_alerts(settings),
        host_alerts(settings),
        data_alerts(platform, settings, backups),
        edge_alerts(settings),
    ]
    slo = slo_rules(platform, settings)
    if slo:
        files.append(slo)
    return files


def alert_names(files: list[RuleFile]) -> list[str]:
    return sorted({a.alert for f in files for a in f.alerts()})


def rule_file_document(rule_file: RuleFile, settings: Settings) -> dict:
    """The Prometheus rule-file structure (also the `spec` of a PrometheusRule)."""
    groups = []
    for group in rule_file.groups:
        rules: list[dict] = []
        for rule in group.rules:
            if isinstance(rule, RecordingRule):
                entry: dict = {"record": rule.record, "expr": rule.expr}
                if rule.labels:
                    entry["labels"] = dict(rule.labels)
            else:
                entry = {
                    "alert": rule.alert,
                    "expr": rule.expr,
                    "for": rule.for_,
                    "labels": {"severity": rule.severity, **dict(rule.labels)},
                    "annotations": {
                        "summary": rule.summary,
                        "description": rule.description,
                        "runbook_url": runbook_url(settings, rule.alert),
                    },
                }
            rules.append(entry)
        doc: dict = {"name": group.name, "interval": format_duration(settings.evaluation_interval)}
        doc["rules"] = rules
        groups.append(doc)
    return {"groups": groups}
