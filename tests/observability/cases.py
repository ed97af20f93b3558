"""promtool unit-test cases for every alert, written against the owners' figures.

The numbers here are typed by hand from DESIGN §1 (5 % errors, p99 1 s, 80/90 % pool, ...),
not read from infra.observability: if a default drifts from the owners' figure, the
"fires" or "just below" case fails. `render_test_files` turns the cases into one promtool
test file per rule file (CONVENTIONS §14: "fires" and "does not fire yet" cases each).

Every alert case yields three checks:
  - fires:            at `fire_at` the alert fires with exactly `expect` (labels incl. severity)
  - does not fire yet: at `not_yet`, with the condition already true, nothing fires (`for`)
  - just below:       with `below` series, at `fire_at`, only `below_expect` fires
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

GIB = 1024**3


def s(metric: str, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{inner}}}"


# Label sets as relabelling puts them on scraped series (prometheus.yml).
AUTH = {"service": "auth", "tier": "core", "instance": "auth:3001", "job": "auth"}
NODE = {"service": "node-exporter", "tier": "host", "instance": "10.77.0.11:9100", "job": "node"}
PG = {
    "service": "postgres",
    "tier": "infra",
    "instance": "postgres-exporter:9187",
    "job": "postgres-exporter",
}
WORKFLOW = {"service": "workflow", "tier": "core", "instance": "workflow:3011", "job": "workflow"}
GATEWAY = {
    "service": "api-gateway",
    "tier": "edge",
    "instance": "api-gateway:4000",
    "job": "api-gateway",
}
TRAEFIK = {"service": "traefik", "tier": "platform", "instance": "traefik:8082", "job": "traefik"}


@dataclass(frozen=True)
class Case:
    alert: str
    rule_file: str  # stem of the rule file under test
    name: str
    fire: dict[str, str]  # series -> promtool values, 1 m interval
    below: dict[str, str]
    fire_at: str
    not_yet: str
    expect: tuple[dict[str, str], ...]  # every alert of this name firing at fire_at
    below_expect: tuple[dict[str, str], ...] = ()
    extra_rule_files: tuple[str, ...] = ("red",)


def _http(labels: dict[str, str], errors: float, ok: float, n: int) -> dict[str, str]:
    """Counters growing by `errors` 5xx and `ok` non-5xx requests per minute; a tenth of
    the `ok` ones are 404s, which are the client's doing and must not count as errors."""
    return {
        s("http_requests_total", **labels, code="500", method="GET"): f"0+{errors}x{n}",
        s("http_requests_total", **labels, code="200", method="GET"): f"0+{ok * 0.9:g}x{n}",
        s("http_requests_total", **labels, code="404", method="GET"): f"0+{ok * 0.1:g}x{n}",
    }


def _buckets(le_half: int, le_one: int, n: int = 30) -> dict[str, str]:
    """1000 requests per minute; `le_one` of them within 1 s."""
    counts = {"0.5": le_half, "1": le_one, "2.5": 1000, "+Inf": 1000}
    return {
        s("http_request_duration_seconds_bucket", **AUTH, le=le): f"0+{c}x{n}"
        for le, c in counts.items()
    }


def _sev(labels: dict[str, str], *severities: str, **extra: str) -> tuple[dict[str, str], ...]:
    return tuple({**labels, **extra, "severity": sev} for sev in severities)


SVC = {"service": "auth", "tier": "core"}
MEM = s("process_resident_memory_bytes", **AUTH)
CPU = s("process_cpu_seconds_total", **AUTH)


def _pool(used: int) -> dict[str, str]:
    return {
        s("db_client_connections_usage", **AUTH, state="used"): f"{used}x20",
        s("db_client_connections_usage", **AUTH, state="idle"): f"{100 - used}x20",
        s("db_client_connections_max", **AUTH): "100x20",
    }


def _pg(active: int) -> dict[str, str]:
    return {
        s("pg_stat_activity_count", **PG, datname="erp", state="active"): f"{active}x20",
        s("pg_stat_activity_count", **PG, datname="erp", state="idle"): "20x20",
        s("pg_settings_max_connections", **PG): "400x20",
    }


def _disk(avail_root: int) -> dict[str, str]:
    root = dict(NODE, device="/dev/sda1", fstype="ext4", mountpoint="/")
    tmp = dict(NODE, device="tmpfs", fstype="tmpfs", mountpoint="/dev/shm")  # noqa: S108
    return {
        s("node_filesystem_avail_bytes", **root): f"{avail_root}x20",
        s("node_filesystem_size_bytes", **root): "100x20",
        # a full tmpfs is not a disk: never alerts
        s("node_filesystem_avail_bytes", **tmp): "1x20",
        s("node_filesystem_size_bytes", **tmp): "100x20",
    }


def _idle(idle_per_min: float) -> dict[str, str]:
    return {
        s("node_cpu_seconds_total", **NODE, cpu=str(c), mode="idle"): f"0+{idle_per_min}x30"
        for c in (0, 1)
    }


PG_OUT = {k: v for k, v in PG.items() if k != "job"}  # summed by service, tier, instance
DISK_LABELS = dict(NODE, device="/dev/sda1", fstype="ext4", mountpoint="/")
BACKUP = dict(NODE, backup="postgres")
WAL = dict(NODE, stanza="main")
CERT = dict(TRAEFIK, cn="erp.example.com", sans="erp.example.com", serial="1")
# Traefik's own `service` label arrives renamed: the scrape job's relabelling sets `service`.
ROUTED = dict(TRAEFIK, exported_service="api-gateway@file")


def _edge(errors: float, ok: float, n: int = 30) -> dict[str, str]:
    """Traefik's per-service counters: `errors` 502s and `ok` non-5xx (a tenth 429s, the
    client's doing) per minute."""
    name = "traefik_service_requests_total"
    return {
        s(name, **ROUTED, code="502", method="GET", protocol="http"): f"0+{errors}x{n}",
        s(name, **ROUTED, code="200", method="GET", protocol="http"): f"0+{ok * 0.9:g}x{n}",
        s(name, **ROUTED, code="429", method="GET", protocol="http"): f"0+{ok * 0.1:g}x{n}",
    }


def _edge_buckets(le_one: int, n: int = 30) -> dict[str, str]:
    """1000 requests per minute through the edge (Traefik's default buckets above 0.1 s);
    980 within 0.3 s, `le_one` within 1.2 s."""
    counts = {"0.3": 980, "1.2": le_one, "5": 1000, "+Inf": 1000}
    name = "traefik_service_request_duration_seconds_bucket"
    return {s(name, **ROUTED, code="200", method="GET", protocol="http", le=le): f"0+{c}x{n}"
            for le, c in counts.items()}


EDGE_SVC = {"exported_service": "api-gateway@file"}
DAY = 86400


def _slo(errors_per_10k: float, n: int) -> dict[str, str]:
    return _http(GATEWAY, errors_per_10k, 10_000 - errors_per_10k, n)


def _burn(window: str, severity: str) -> tuple[dict[str, str], ...]:
    return (
        {
            "service": "api-gateway",
            "tier": "edge",
            "severity": severity,
            "long_window": window,
            "slo_objective": "0.999",
        },
    )


MON = dict(NODE, instance="10.77.0.14:9100")  # the secrets host's node_exporter
DB = dict(NODE, instance="10.77.0.13:9100")


def _mem(available: int) -> dict[str, str]:
    return {
        s("node_memory_MemAvailable_bytes", **NODE): f"{available}x20",
        s("node_memory_MemTotal_bytes", **NODE): "100x20",
    }


CHRONY = dict(NODE, name="chrony.service", state="active", type="forking")
POSTGRES_UNIT = dict(DB, name="postgresql@15-main.service", state="active", type="notify")
DRIFT = dict(NODE, check="sshd")


def _drift(ok: int, last_run: str, n: int = 40) -> dict[str, str]:
    return {
        s("rampart_drift_check_ok", **DRIFT): f"{ok}x{n}",
        s("rampart_drift_last_run_timestamp_seconds", **NODE): last_run,
    }


def _bao(up: int, sealed: int, initialized: int) -> dict[str, str]:
    return {
        s("rampart_openbao_up", **MON): f"{up}x20",
        s("rampart_openbao_sealed", **MON): f"{sealed}x20",
        s("rampart_openbao_initialized", **MON): f"{initialized}x20",
    }


CASES: tuple[Case, ...] = (
    Case(
        "ServiceHighErrorRate",
        "services",
        "6 % vs 5 %",
        fire=_http(AUTH, 6, 94, 30),
        below=_http(AUTH, 4.9, 95.1, 30),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(SVC, "critical"),
    ),
    Case(
        "ServiceHighLatency",
        "services",
        "p99 1.14 s vs 1 s",
        fire=_buckets(900, 989),
        below=_buckets(900, 991),
        fire_at="15m",
        not_yet="9m",
        expect=_sev(SVC, "warning"),
    ),
    Case(
        "ServiceAvailabilityLow",
        "services",
        "98 % vs 99 % over 1 h",
        fire=_http(AUTH, 2, 98, 90),
        below=_http(AUTH, 0.9, 99.1, 90),
        fire_at="65m",
        not_yet="4m",
        expect=_sev(SVC, "warning"),
    ),
    Case(
        "ServiceMemoryHigh",
        "services",
        "warning: 80 % vs 75 % of 1 GiB",
        fire={MEM: f"{int(0.80 * GIB)}x20"},
        below={MEM: f"{int(0.74 * GIB)}x20"},
        fire_at="10m",
        not_yet="4m",
        expect=_sev(AUTH, "warning"),
    ),
    Case(
        "ServiceMemoryHigh",
        "services",
        "critical: 90 % vs 85 % of 1 GiB",
        fire={MEM: f"{int(0.90 * GIB)}x20"},
        below={MEM: f"{int(0.84 * GIB)}x20"},
        fire_at="10m",
        not_yet="4m",
        expect=_sev(AUTH, "warning", "critical"),
        below_expect=_sev(AUTH, "warning"),
    ),
    Case(
        "ServiceCpuHigh",
        "services",
        "85 % vs 80 % of 1 core",
        fire={CPU: "0+51x40"},
        below={CPU: "0+47.4x40"},
        fire_at="20m",
        not_yet="14m",
        expect=_sev(AUTH, "warning"),
    ),
    Case(
        "DatabasePoolSaturation",
        "services",
        "warning: 81 % vs 80 %",
        fire=_pool(81),
        below=_pool(79),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(SVC | {"instance": "auth:3001"}, "warning"),
    ),
    Case(
        "DatabasePoolSaturation",
        "services",
        "critical: 91 % vs 90 %",
        fire=_pool(91),
        below=_pool(89),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(SVC | {"instance": "auth:3001"}, "warning", "critical"),
        below_expect=_sev(SVC | {"instance": "auth:3001"}, "warning"),
    ),
    Case(
        "TargetDown",
        "services",
        "down for 2 m",
        fire={s("up", **NODE): "1 1 0 0 0 0 0 0 0 0"},
        below={s("up", **NODE): "1x10"},
        fire_at="6m",
        not_yet="3m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "DatabaseDown",
        "services",
        "the cluster's unit inactive for 1 m",
        fire={s("node_systemd_unit_state", **POSTGRES_UNIT): "0x20"},
        below={s("node_systemd_unit_state", **POSTGRES_UNIT): "1x20"},
        fire_at="5m",
        not_yet="30s",
        expect=_sev(POSTGRES_UNIT, "critical"),
    ),
    Case(
        "SecretsBackendDown",
        "services",
        "health endpoint silent for 1 m",
        fire=_bao(0, 0, 1),
        below=_bao(1, 0, 1),
        fire_at="5m",
        not_yet="30s",
        expect=_sev(MON, "critical"),
    ),
    Case(
        "SecretsBackendSealed",
        "services",
        "sealed for 1 m (a server never initialised is not an outage)",
        fire=_bao(1, 1, 1),
        below=_bao(1, 1, 0),
        fire_at="5m",
        not_yet="30s",
        expect=_sev(MON, "critical"),
    ),
    Case(
        "HostDown",
        "hosts",
        "node_exporter unreachable for 5 m",
        fire={s("up", **NODE): "1 1 0 0 0 0 0 0 0 0 0 0"},
        below={s("up", **NODE): "1x12"},
        fire_at="8m",
        not_yet="6m",
        expect=_sev(NODE, "critical"),
    ),
    Case(
        "HostMemoryHigh",
        "hosts",
        "warning: 92 % vs 90 % in use",
        fire=_mem(8),
        below=_mem(11),
        fire_at="15m",
        not_yet="8m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "HostMemoryHigh",
        "hosts",
        "critical: 96 % vs 95 % in use",
        fire=_mem(4),
        below=_mem(6),
        fire_at="15m",
        not_yet="8m",
        expect=_sev(NODE, "warning", "critical"),
        below_expect=_sev(NODE, "warning"),
    ),
    Case(
        "HostClockSkew",
        "hosts",
        "60 ms behind vs 50 ms",
        fire={s("node_timex_offset_seconds", **NODE): "-0.06x20"},
        below={s("node_timex_offset_seconds", **NODE): "-0.049x20"},
        fire_at="15m",
        not_yet="8m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "HostClockNotSynchronising",
        "hosts",
        "unsynchronised for 10 m",
        fire={s("node_timex_sync_status", **NODE): "0x20"},
        below={s("node_timex_sync_status", **NODE): "1x20"},
        fire_at="15m",
        not_yet="8m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "TimeSyncStopped",
        "hosts",
        "chrony inactive for 10 m",
        fire={s("node_systemd_unit_state", **CHRONY): "0x20"},
        below={s("node_systemd_unit_state", **CHRONY): "1x20"},
        fire_at="15m",
        not_yet="8m",
        expect=_sev(CHRONY, "warning"),
    ),
    Case(
        "HostConfigurationDrift",
        "hosts",
        "a check failing for 1 m",
        # the last run is always now: only the failing check alerts
        fire=_drift(0, "0+60x40"),
        below=_drift(1, "0+60x40"),
        fire_at="5m",
        not_yet="30s",
        expect=_sev(DRIFT, "warning"),
    ),
    Case(
        "HostConfigurationDrift",
        "hosts",
        "no run for 20 m vs 15 m",
        fire=_drift(1, "0x40"),
        below=_drift(1, "300x40"),  # 15 m old exactly at fire_at
        fire_at="20m",
        not_yet="16m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "HostCpuHigh",
        "hosts",
        "81 % vs 80 % busy",
        fire=_idle(60 * 0.19),
        below=_idle(60 * 0.21),
        fire_at="20m",
        not_yet="14m",
        expect=_sev(NODE, "warning"),
    ),
    Case(
        "HostDiskFilling",
        "hosts",
        "warning: 76 % vs 75 %",
        fire=_disk(24),
        below=_disk(26),
        fire_at="15m",
        not_yet="8m",
        expect=_sev(DISK_LABELS, "warning"),
    ),
    Case(
        "HostDiskFilling",
        "hosts",
        "critical: 86 % vs 85 %",
        fire=_disk(14),
        below=_disk(16),
        fire_at="15m",
        not_yet="8m",
        expect=_sev(DISK_LABELS, "warning", "critical"),
        below_expect=_sev(DISK_LABELS, "warning"),
    ),
    Case(
        "PostgresConnectionsSaturation",
        "data",
        "warning: 82.5 % vs 80 % of 400",
        fire=_pg(310),
        below=_pg(296),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(PG_OUT, "warning"),
    ),
    Case(
        "PostgresConnectionsSaturation",
        "data",
        "critical: 92.5 % vs 90 % of 400",
        fire=_pg(350),
        below=_pg(336),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(PG_OUT, "warning", "critical"),
        below_expect=_sev(PG_OUT, "warning"),
    ),
    Case(
        "BackupTooOld",
        "data",
        "7 h 10 m vs 7 h",
        fire={s("rampart_backup_last_success_timestamp_seconds", **BACKUP): "0x440"},
        below={s("rampart_backup_last_success_timestamp_seconds", **BACKUP): "700x440"},
        fire_at="7h10m",
        not_yet="7h3m",
        expect=_sev(BACKUP, "critical"),
    ),
    Case(
        "BackupTooOld",
        "data",
        "never reported",
        fire={s("up", **NODE): "1x20"},
        below={s("rampart_backup_last_success_timestamp_seconds", **BACKUP): "0x20"},
        fire_at="10m",
        not_yet="4m",
        expect=({"backup": "postgres", "severity": "critical"},),
    ),
    Case(
        "BackupFailed",
        "data",
        "last attempt failed",
        fire={s("rampart_backup_last_attempt_success", **BACKUP): "0x20"},
        below={s("rampart_backup_last_attempt_success", **BACKUP): "1x20"},
        fire_at="10m",
        not_yet="4m",
        expect=_sev(BACKUP, "critical"),
    ),
    Case(
        "WalArchivingLagging",
        "data",
        "16 m vs 15 m",
        fire={s("pgbackrest_wal_archive_lag_seconds", **WAL): "960x20"},
        below={s("pgbackrest_wal_archive_lag_seconds", **WAL): "899x20"},
        fire_at="10m",
        not_yet="4m",
        expect=_sev(WAL, "critical"),
    ),
    Case(
        "EdgeHighErrorRate",
        "edge",
        "6 % 502 vs 5 %",
        fire=_edge(6, 94),
        below=_edge(4.9, 95.1),
        fire_at="10m",
        not_yet="4m",
        expect=_sev(EDGE_SVC, "critical"),
        extra_rule_files=(),
    ),
    Case(
        "EdgeHighLatency",
        "edge",
        # The 990th request: 985 within 1.2 s puts it at 1.2 + 5/15 x 3.8 = 2.47 s;
        # all 1000 within 1.2 s at 0.3 + 10/20 x 0.9 = 0.75 s.
        "p99 2.47 s vs 0.75 s",
        fire=_edge_buckets(985),
        below=_edge_buckets(999),
        fire_at="15m",
        not_yet="9m",
        expect=_sev(EDGE_SVC, "warning"),
        extra_rule_files=(),
    ),
    Case(
        "CertificateExpiringSoon",
        "edge",
        "13 d vs 14 d",
        fire={s("traefik_tls_certs_not_after", **CERT): f"{13 * DAY}x20"},
        below={s("traefik_tls_certs_not_after", **CERT): f"{14 * DAY + 3600}x20"},
        fire_at="15m",
        not_yet="9m",
        expect=_sev(CERT, "warning"),
    ),
    Case(
        "ErrorBudgetBurn",
        "slo",
        "page: 2 % vs 14.4 x 0.1 % over 1 h and 5 m",
        fire=_slo(200, 20),
        below=_slo(140, 20),
        fire_at="10m",
        not_yet="2m",
        expect=_burn("1h", "critical"),
    ),
    Case(
        "ErrorBudgetBurn",
        "slo",
        "ticket: 0.8 % vs 6 x 0.1 % over 6 h and 30 m",
        fire=_slo(80, 30),
        below=_slo(59, 30),
        fire_at="20m",
        not_yet="14m",
        expect=_burn("6h", "warning"),
    ),
    Case(
        "ErrorBudgetBurn",
        "slo",
        "ticket: 0.4 % vs 3 x 0.1 % over 1 d and 2 h",
        fire=_slo(40, 70),
        below=_slo(29, 70),
        fire_at="65m",
        not_yet="55m",
        expect=_burn("1d", "warning"),
    ),
    Case(
        "ErrorBudgetBurn",
        "slo",
        "ticket: 0.15 % vs 1 x 0.1 % over 3 d and 6 h",
        fire=_slo(15, 200),
        below=_slo(9.9, 200),
        fire_at="3h5m",
        not_yet="2h55m",
        expect=_burn("3d", "warning"),
    ),
)


@dataclass
class ExprCase:
    """A promql_expr_test for a recording rule file."""

    rule_file: str
    name: str
    series: dict[str, str]
    eval_time: str
    checks: list[tuple[str, list[tuple[dict[str, str], float]]]] = field(default_factory=list)


EXPR_CASES = (
    ExprCase(
        "red",
        "RED and limits per service",
        {
            **_http(AUTH, 6, 94, 20),
            **_buckets(900, 989, 20),
            # a service that never failed: error ratio 0, not absent
            s("http_requests_total", **WORKFLOW, code="200", method="GET"): "0+60x20",
        },
        "10m",
        [
            (
                "service:http_request_errors:ratio_rate5m",
                [(SVC, 0.06), ({"service": "workflow", "tier": "core"}, 0.0)],
            ),
            ('service:http_requests:rate5m{service="auth"}', [(SVC, 100 / 60)]),
            # 98.9 % within 1 s, the rest within 2.5 s: p99 interpolates to 1 + 1.5 * 1/11
            ("service:http_request_duration_seconds:p99_rate5m", [(SVC, 1 + 1.5 / 11)]),
            ('job:memory_limit_bytes{job="auth"}', [({"job": "auth"}, GIB)]),
            ('job:cpu_limit_cores{job="finance"}', [({"job": "finance"}, 0.5)]),
        ],
    ),
)


def _series(series: dict[str, str]) -> list[dict[str, str]]:
    return [{"series": k, "values": v} for k, v in sorted(series.items())]


def _alerts(alert: str, expect: tuple[dict[str, str], ...], runbooks: str) -> list[dict]:
    return [
        {
            "exp_labels": dict(sorted(a.items())),
            "exp_annotations": {"runbook_url": f"{runbooks}/{alert}.md"},
        }
        for a in expect
    ]


def rules_for_unit_tests(rule_file_yaml: str) -> str:
    """The rule file as promtool unit tests see it: summary and description dropped.

    promtool compares annotations exactly, and those two interpolate `$value` through
    humanize functions; expecting their rendered text would test Go's number formatting,
    not our thresholds. Their templates are checked by `promtool check rules` on the real
    files, and their presence by the unit tests. runbook_url stays and is asserted."""
    doc = yaml.safe_load(rule_file_yaml)
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "annotations" in rule:
                rule["annotations"] = {"runbook_url": rule["annotations"]["runbook_url"]}
    return yaml.safe_dump(doc, sort_keys=False, width=10_000)


def render_test_files(runbooks: str, cases=CASES, expr_cases=EXPR_CASES) -> dict[str, str]:
    """{rule file stem: promtool test YAML}, to be written next to the rule files.
    `runbooks` is the runbook base URL the rules were generated with."""
    tests: dict[str, list[dict]] = {}
    deps: dict[str, set[str]] = {}
    for c in cases:
        deps.setdefault(c.rule_file, set()).update(c.extra_rule_files)
        tests.setdefault(c.rule_file, []).extend(
            [
                {
                    "name": f"{c.alert} {c.name}: fires, and does not fire yet before its for",
                    "interval": "1m",
                    "input_series": _series(c.fire),
                    "alert_rule_test": [
                        {"eval_time": c.not_yet, "alertname": c.alert, "exp_alerts": []},
                        {
                            "eval_time": c.fire_at,
                            "alertname": c.alert,
                            "exp_alerts": _alerts(c.alert, c.expect, runbooks),
                        },
                    ],
                },
                {
                    "name": f"{c.alert} {c.name}: silent just below the threshold",
                    "interval": "1m",
                    "input_series": _series(c.below),
                    "alert_rule_test": [
                        {
                            "eval_time": c.fire_at,
                            "alertname": c.alert,
                            "exp_alerts": _alerts(c.alert, c.below_expect, runbooks),
                        },
                    ],
                },
            ]
        )
    for e in expr_cases:
        tests.setdefault(e.rule_file, []).append(
            {
                "name": e.name,
                "interval": "1m",
                "input_series": _series(e.series),
                # promtool 2.42 compares floats exactly: compare at 4 decimals (round() drops
                # the metric name, hence the bare label sets).
                "promql_expr_test": [
                    {
                        "expr": f"round({expr}, 0.0001)",
                        "eval_time": e.eval_time,
                        "exp_samples": [
                            {"labels": s("", **lbl), "value": round(v, 4)} for lbl, v in samples
                        ],
                    }
                    for expr, samples in e.checks
                ],
            }
        )
    out = {}
    for stem, body in sorted(tests.items()):
        files = sorted({stem, *deps.get(stem, ())} - {None})
        doc = {
            "rule_files": [f"{f}.rules.yml" for f in files],
            "evaluation_interval": "1m",
            "tests": body,
        }
        out[stem] = yaml.safe_dump(doc, sort_keys=False, width=10_000)
    return out
