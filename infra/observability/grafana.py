"""Grafana provisioning: datasource, dashboard provider, grafana.ini and the dashboards.

Dashboards are built with grafana-foundation-sdk (Grafana 11.6 schemas) so a typo in a
panel option is a Python error, not a silently empty panel. Every query uses the recording
rules and metric names of docs/metrics.md; tests run each one through promtool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as gp
from grafana_foundation_sdk.builders import stat as gs
from grafana_foundation_sdk.builders import timeseries as gt
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from infra.model.types import Platform
from infra.observability.rules import QUANTILES, RED_WINDOW, num, public_services
from infra.observability.settings import GRAFANA_ADMIN_PASSWORD_FILE, Settings

DATASOURCE_UID = "rampart-prometheus"  # fixed: dashboards refer to it by uid
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
DASHBOARDS_DIR = "/etc/grafana/dashboards"  # where the target mounts grafana/dashboards
# Grafana template variables and what promtool should see in their place.
TEMPLATE_STANDINS = {"$__rate_interval": "5m", "$service": ".*", "$instance": ".*"}


def _q(expr: str, legend: str = "", ref: str = "A") -> gp.Dataquery:
    return (
        gp.Dataquery()
        .expr(expr)
        .legend_format(legend or "__auto")
        .ref_id(ref)
        .datasource(DATASOURCE)
    )


def _ts(
    title: str,
    unit: str,
    *queries: gp.Dataquery,
    span: int = 12,
    desc: str = "",
    threshold: float | None = None,
) -> gt.Panel:
    panel = gt.Panel().title(title).unit(unit).span(span).height(8).datasource(DATASOURCE)
    if desc:
        panel = panel.description(desc)
    for q in queries:
        panel = panel.with_target(q)
    if threshold is not None:
        panel = panel.thresholds(
            gd.ThresholdsConfig()
            .mode(dm.ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    dm.Threshold(value=None, color="green"),
                    dm.Threshold(value=threshold, color="red"),
                ]
            )
        )
    return panel


def _stat(
    title: str, unit: str, query: gp.Dataquery, span: int = 6, threshold: float | None = None
) -> gs.Panel:
    panel = gs.Panel().title(title).unit(unit).span(span).height(5).datasource(DATASOURCE)
    panel = panel.with_target(query)
    if threshold is not None:
        panel = panel.thresholds(
            gd.ThresholdsConfig()
            .mode(dm.ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    dm.Threshold(value=None, color="green"),
                    dm.Threshold(value=threshold, color="red"),
                ]
            )
        )
    return panel


def _board(uid: str, title: str, description: str) -> gd.Dashboard:
    return (
        gd.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["rampart"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .readonly()
    )


def _service_var() -> gd.QueryVariable:
    return (
        gd.QueryVariable("service")
        .label("Service")
        .datasource(DATASOURCE)
        .query("label_values(service:http_requests:rate5m, service)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def overview(settings: Settings) -> gd.Dashboard:
    t = settings.thresholds
    s = 'service=~"$service"'
    w = RED_WINDOW
    latency = [
        _q(
            f"service:http_request_duration_seconds:{name}_rate{w}{{{s}}}",
            f"{{{{service}}}} {name}",
            ref=chr(ord("A") + i),
        )
        for i, (name, _) in enumerate(QUANTILES)
    ]
    return (
        _board(
            "rampart-overview",
            "Rampart / Platform overview",
            "RED per service (rate, errors, duration) and saturation against the owners' limits.",
        )
        .with_variable(_service_var())
        .with_row(gd.Row("Now"))
        .with_panel(_stat("Targets down", "none", _q("count(up == 0) or vector(0)"), threshold=1))
        .with_panel(
            _stat(
                "Critical alerts firing",
                "none",
                _q('count(ALERTS{alertstate="firing",severity="critical"}) or vector(0)'),
                threshold=1,
            )
        )
        .with_panel(
            _stat("Requests/s (all services)", "reqps", _q(f"sum(service:http_requests:rate{w})"))
        )
        .with_panel(
            _stat(
                "Error ratio (all services)",
                "percentunit",
                _q(
                    f"sum(service:http_request_errors:rate{w}) / sum(service:http_requests:rate{w})"
                ),
                threshold=t.error_ratio_critical,
            )
        )
        .with_row(gd.Row("RED per service"))
        .with_panel(
            _ts(
                "Request rate",
                "reqps",
                _q(f"service:http_requests:rate{w}{{{s}}}", "{{service}}"),
                span=8,
            )
        )
        .with_panel(
            _ts(
                "Error ratio (5xx)",
                "percentunit",
                _q(f"service:http_request_errors:ratio_rate{w}{{{s}}}", "{{service}}"),
                span=8,
                threshold=t.error_ratio_critical,
                desc=f"Alert ServiceHighErrorRate above {num(t.error_ratio_critical * 100)} %.",
            )
        )
        .with_panel(
            _ts(
                "Latency p50 / p95 / p99",
                "s",
                *latency,
                span=8,
                threshold=t.latency_p99_warning_seconds,
                desc=f"Alert ServiceHighLatency when p99 > {num(t.latency_p99_warning_seconds)} s.",
            )
        )
        .with_row(gd.Row("Saturation"))
        .with_panel(
            _ts(
                "Memory of limit",
                "percentunit",
                _q(
                    f"process_resident_memory_bytes{{{s}}} / on (job) group_left "
                    "job:memory_limit_bytes",
                    "{{service}} {{instance}}",
                ),
                span=8,
                threshold=t.memory_warning,
            )
        )
        .with_panel(
            _ts(
                "CPU of limit",
                "percentunit",
                _q(
                    f"rate(process_cpu_seconds_total{{{s}}}[$__rate_interval])"
                    " / on (job) group_left job:cpu_limit_cores",
                    "{{service}} {{instance}}",
                ),
                span=8,
                threshold=t.cpu_warning,
            )
        )
        .with_panel(
            _ts(
                "DB connection pool used",
                "percentunit",
                _q(
                    f'sum by (service) (db_client_connections_usage{{{s},state="used"}}) / '
                    f"sum by (service) (db_client_connections_max{{{s}}})",
                    "{{service}}",
                ),
                span=8,
                threshold=t.db_pool_warning,
            )
        )
    )


def hosts(settings: Settings) -> gd.Dashboard:
    t = settings.thresholds
    i = 'instance=~"$instance"'
    fs = f'{i},fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.lxcfs"'
    var = (
        gd.QueryVariable("instance")
        .label("Host")
        .datasource(DATASOURCE)
        .query("label_values(node_uname_info, instance)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    return (
        _board(
            "rampart-hosts",
            "Rampart / Hosts",
            "node_exporter on every host: CPU, memory, disk, network.",
        )
        .with_variable(var)
        .with_panel(_stat("Hosts up", "none", _q(f'sum(up{{job="node",{i}}})')))
        .with_panel(
            _stat(
                "Hosts down",
                "none",
                _q(f'count(up{{job="node",{i}}} == 0) or vector(0)'),
                threshold=1,
            )
        )
        .with_panel(
            _ts(
                "CPU busy",
                "percentunit",
                _q(
                    f'1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{{mode="idle",{i}}}'
                    "[$__rate_interval]))",
                    "{{instance}}",
                ),
                threshold=t.cpu_warning,
            )
        )
        .with_panel(
            _ts(
                "Memory used",
                "percentunit",
                _q(
                    f"1 - node_memory_MemAvailable_bytes{{{i}}}"
                    f" / node_memory_MemTotal_bytes{{{i}}}",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "Disk used",
                "percentunit",
                _q(
                    f"1 - node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}}",
                    "{{instance}} {{mountpoint}}",
                ),
                threshold=t.disk_warning,
            )
        )
        .with_panel(
            _ts(
                "Load (1 m) per core",
                "none",
                _q(
                    f"node_load1{{{i}}} / on (instance) count by (instance) "
                    f'(node_cpu_seconds_total{{mode="idle",{i}}})',
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "Network received",
                "Bps",
                _q(
                    f'rate(node_network_receive_bytes_total{{{i},device!="lo"}}[$__rate_interval])',
                    "{{instance}} {{device}}",
                ),
            )
        )
        .with_panel(
            _ts(
                "Network sent",
                "Bps",
                _q(
                    f'rate(node_network_transmit_bytes_total{{{i},device!="lo"}}[$__rate_interval])',
                    "{{instance}} {{device}}",
                ),
            )
        )
    )


def postgres_backups(settings: Settings) -> gd.Dashboard:
    t = settings.thresholds
    return (
        _board(
            "rampart-postgres",
            "Rampart / PostgreSQL and backups",
            "postgres_exporter, and the backup metrics node_exporter's textfile collector reads "
            "(docs/metrics.md).",
        )
        .with_row(gd.Row("PostgreSQL"))
        .with_panel(_stat("PostgreSQL up", "none", _q("min(pg_up) or vector(0)")))
        .with_panel(
            _stat(
                "Connections of max",
                "percentunit",
                _q(
                    "max(sum by (instance) (pg_stat_activity_count) / on (instance) "
                    "max by (instance) (pg_settings_max_connections))"
                ),
                threshold=t.db_pool_warning,
            )
        )
        .with_panel(
            _ts(
                "Connections by state",
                "none",
                _q("sum by (instance, state) (pg_stat_activity_count)", "{{instance}} {{state}}"),
            )
        )
        .with_panel(
            _ts(
                "Transactions/s",
                "ops",
                _q(
                    "sum by (instance) (rate(pg_stat_database_xact_commit[$__rate_interval]) + "
                    "rate(pg_stat_database_xact_rollback[$__rate_interval]))",
                    "{{instance}}",
                ),
            )
        )
        .with_panel(
            _ts("Database size", "bytes", _q("pg_database_size_bytes", "{{instance}} {{datname}}"))
        )
        .with_row(gd.Row("Backups"))
        .with_panel(
            _ts(
                "Age of last verified backup",
                "s",
                _q("time() - rampart_backup_last_success_timestamp_seconds", "{{backup}}"),
                threshold=t.backup_max_age,
                desc="Alert BackupTooOld above the line.",
            )
        )
        .with_panel(
            _ts(
                "Last attempt succeeded (1) / failed (0)",
                "none",
                _q("rampart_backup_last_attempt_success", "{{backup}}"),
            )
        )
        .with_panel(
            _ts("Backup duration", "s", _q("rampart_backup_last_duration_seconds", "{{backup}}"))
        )
        .with_panel(_ts("Backup size", "bytes", _q("rampart_backup_last_size_bytes", "{{backup}}")))
        .with_panel(
            _ts(
                "WAL archive lag",
                "s",
                _q("pgbackrest_wal_archive_lag_seconds", "{{stanza}}"),
                threshold=t.wal_archive_max_lag,
                span=24,
                desc="Age of the oldest WAL segment not yet archived: the data a disaster "
                "would lose right now.",
            )
        )
    )


def slos(platform: Platform, settings: Settings) -> gd.Dashboard:
    board = _board(
        "rampart-slo",
        "Rampart / SLOs",
        "Availability objectives of the public services: budget left and burn rates.",
    )
    for svc in public_services(platform):
        objective = settings.slo_objective(svc.name)
        budget = num(1 - objective)
        sel = f'service="{svc.name}"'
        ratio_30d = (
            f'sum(increase(http_requests_total{{{sel},code=~"5.."}}[30d])) / '
            f"sum(increase(http_requests_total{{{sel}}}[30d]))"
        )
        burn = [
            _q(
                f"slo:sli_error:ratio_rate{w}{{{sel}}} / {budget}",
                f"{w} window",
                ref=chr(ord("A") + n),
            )
            for n, w in enumerate(("5m", "1h", "6h", "1d", "3d"))
        ]
        board = (
            board.with_row(gd.Row(f"{svc.name} — objective {num(objective * 100)} %"))
            .with_panel(
                _stat("Availability (30 d)", "percentunit", _q(f"1 - ({ratio_30d})"), span=8)
            )
            .with_panel(
                _stat(
                    "Error budget left (30 d)",
                    "percentunit",
                    _q(f"1 - ({ratio_30d}) / {budget}"),
                    span=8,
                )
            )
            .with_panel(
                _stat(
                    "Burn rate (1 h)",
                    "none",
                    _q(f"slo:sli_error:ratio_rate1h{{{sel}}} / {budget}"),
                    span=8,
                    threshold=14.4,
                )
            )
            .with_panel(
                _ts(
                    "Burn rate by window (1 = budget lasts exactly 30 d)",
                    "none",
                    *burn,
                    span=24,
                    threshold=1,
                )
            )
        )
    return board


def dashboards(platform: Platform, settings: Settings) -> dict[str, str]:
    """{file name: dashboard JSON}."""
    boards = [overview(settings), hosts(settings), postgres_backups(settings)]
    if public_services(platform):
        boards.append(slos(platform, settings))
    out = {}
    for b in boards:
        model = b.build()
        out[f"{model.uid}.json"] = (
            json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        )
    return out


def dashboard_queries(dashboard_json: str) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every query in a dashboard, variables included."""
    doc = json.loads(dashboard_json)
    for var in doc.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, str) and query.startswith("label_values("):
            # label_values(<selector>, label) is Grafana syntax; its selector is PromQL.
            yield f"variable {var['name']}", query[len("label_values(") :].rsplit(",", 1)[0]
    for panel in doc.get("panels", []):
        for target in panel.get("targets", []) or []:
            if target.get("expr"):
                yield panel.get("title", "?"), target["expr"]


def datasource_provisioning(settings: Settings) -> dict:
    return {
        "apiVersion": 1,
        "deleteDatasources": [],
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": settings.prometheus_url,
                "isDefault": True,
                "editable": False,
                "jsonData": {"timeInterval": f"{settings.scrape_interval}s", "httpMethod": "POST"},
            }
        ],
    }


def dashboard_provisioning() -> dict:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "rampart",
                "folder": "Rampart",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,  # the code is the source; UI edits would be lost
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_DIR},
            }
        ],
    }


def grafana_ini(settings: Settings) -> str:
    """grafana.ini: no anonymous access, no sign-up, admin password from a file (Vault)."""
    sections = {
        "server": {"root_url": settings.grafana_root_url, "enforce_domain": "false"},
        "security": {
            "admin_user": "admin",
            # Grafana's file provider: the deploy writes this file from Vault
            # (GRAFANA_ADMIN_PASSWORD). Same effect as GF_SECURITY_ADMIN_PASSWORD__FILE.
            "admin_password": f"$__file{{{GRAFANA_ADMIN_PASSWORD_FILE}}}",
            "disable_initial_admin_creation": "false",
            "cookie_secure": "true",  # served only through Traefik over HTTPS
            "cookie_samesite": "strict",
            "disable_gravatar": "true",
            "strict_transport_security": "true",
            "content_security_policy": "true",
        },
        "auth": {"disable_login_form": "false"},
        "auth.anonymous": {"enabled": "false"},
        "auth.basic": {"enabled": "true"},
        "users": {"allow_sign_up": "false", "allow_org_create": "false"},
        "snapshots": {"external_enabled": "false"},
        "analytics": {
            "reporting_enabled": "false",
            "check_for_updates": "false",
            "check_for_plugin_updates": "false",
        },
        "dashboards": {"default_home_dashboard_path": f"{DASHBOARDS_DIR}/rampart-overview.json"},
        "log": {"mode": "console"},
    }
    lines = ["; Generated by `rampart observability build`; edit infra/observability/grafana.py."]
    for name, values in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
