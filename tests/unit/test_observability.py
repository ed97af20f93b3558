"""Structure of the generated observability files (no tools needed; promtool runs in
tests/integration/test_observability_tools.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from observability.cases import CASES, EXPR_CASES
from observability.sample import sample_platform

from infra.model import DEFAULT_CATALOG, build_platform
from infra.model.types import Exposure
from infra.observability import alert_names, build_files, load_settings, rule_files
from infra.observability.alertmanager import secret_files
from infra.observability.grafana import DATASOURCE_UID, dashboard_queries
from infra.observability.prometheus import scrape_targets
from infra.observability.rules import AlertRule, edge_alerts, runbook_url

pytestmark = pytest.mark.unit

CATALOG = build_platform(DEFAULT_CATALOG)
DEFAULTS = load_settings()
FILES = build_files(CATALOG, DEFAULTS)
RULES = rule_files(CATALOG, DEFAULTS)
ALERTS = [(f.name, a) for f in RULES for a in f.alerts()]


def _y(path: str) -> dict:
    return yaml.safe_load(FILES[path])


def test_output_is_deterministic_and_complete() -> None:
    again = build_files(build_platform(DEFAULT_CATALOG), load_settings())
    assert again == FILES, "two builds from the same inputs differ"
    for path in (
        "prometheus/prometheus.yml",
        "alertmanager/alertmanager.yml",
        "grafana/grafana.ini",
        "grafana/provisioning/datasources/rampart.yaml",
        "grafana/provisioning/dashboards/rampart.yaml",
        "grafana/dashboards/rampart-overview.json",
        "grafana/dashboards/rampart-hosts.json",
        "grafana/dashboards/rampart-postgres.json",
        "grafana/dashboards/rampart-slo.json",
    ):
        assert path in FILES, f"{path} not generated"
    for rf in RULES:
        assert f"prometheus/{rf.path}" in FILES
        assert rf.path in _y("prometheus/prometheus.yml")["rule_files"], f"{rf.path} not loaded"


@pytest.mark.parametrize(
    "rule_file,alert", ALERTS, ids=[f"{a.alert}-{a.severity}" for _, a in ALERTS]
)
def test_alert_has_severity_and_annotations(rule_file: str, alert: AlertRule) -> None:
    doc = _y(f"prometheus/rules/{rule_file}.rules.yml")
    entries = [
        r
        for g in doc["groups"]
        for r in g["rules"]
        if r.get("alert") == alert.alert
        and r["labels"]["severity"] == alert.severity
        and r["expr"] == alert.expr
    ]
    assert len(entries) == 1, f"{alert.alert}: not rendered exactly once in {rule_file}"
    entry = entries[0]
    assert entry["labels"]["severity"] in ("critical", "warning")
    for key in ("summary", "description", "runbook_url"):
        assert entry["annotations"].get(key), f"{alert.alert}: annotation {key} empty"
    assert entry["annotations"]["runbook_url"] == runbook_url(DEFAULTS, alert.alert)
    assert re.fullmatch(r"\d+[smhd](\d+[smhd])*", entry["for"]), (
        f"{alert.alert}: for {entry['for']}"
    )


def test_runbook_base_url_comes_from_config() -> None:
    s = load_settings(None, {"runbookBaseUrl": "https://wiki.example.com/rb/"})
    doc = yaml.safe_load(build_files(CATALOG, s)["prometheus/rules/data.rules.yml"])
    urls = {r["annotations"]["runbook_url"] for g in doc["groups"] for r in g["rules"]}
    assert urls == {
        f"https://wiki.example.com/rb/{a}.md"
        for a in (
            "PostgresConnectionsSaturation",
            "BackupTooOld",
            "BackupFailed",
            "WalArchivingLagging",
        )
    }


OWNER_FIGURES = [
    ("ServiceHighErrorRate", "critical", "> 0.05"),
    ("ServiceHighLatency", "warning", "> 1"),
    ("ServiceAvailabilityLow", "warning", "ratio_rate1h) < 0.99"),
    ("DatabasePoolSaturation", "warning", "> 0.8"),
    ("DatabasePoolSaturation", "critical", "> 0.9"),
    ("PostgresConnectionsSaturation", "warning", "> 0.8"),
    ("PostgresConnectionsSaturation", "critical", "> 0.9"),
    ("ServiceMemoryHigh", "warning", "> 0.75"),
    ("ServiceMemoryHigh", "critical", "> 0.85"),
    ("HostDiskFilling", "warning", "> 0.75"),
    ("HostDiskFilling", "critical", "> 0.85"),
    ("ServiceCpuHigh", "warning", "> 0.8"),
    ("HostCpuHigh", "warning", "> 0.8"),
    ("CertificateExpiringSoon", "warning", "< 1209600"),
    ("BackupTooOld", "critical", "> 25200"),
    ("WalArchivingLagging", "critical", "> 900"),
]


@pytest.mark.parametrize("alert,severity,fragment", OWNER_FIGURES)
def test_owners_threshold_in_expression(alert: str, severity: str, fragment: str) -> None:
    exprs = [a.expr for _, a in ALERTS if a.alert == alert and a.severity == severity]
    assert exprs, f"no {severity} {alert} rule"
    assert any(fragment in e for e in exprs), f"{alert}/{severity}: {exprs} lacks {fragment!r}"


def test_thresholds_from_stack_config_reach_the_rules() -> None:
    s = load_settings({"errorRatioCritical": 0.02, "backupMaxAge": "13h"}, None)
    alerts = {(a.alert, a.severity): a.expr for f in rule_files(CATALOG, s) for a in f.alerts()}
    assert alerts[("ServiceHighErrorRate", "critical")].endswith("> 0.02")
    assert "> 46800" in alerts[("BackupTooOld", "critical")]


def test_backup_too_old_also_fires_for_jobs_that_never_reported() -> None:
    jobs = sorted({s.backup for s in CATALOG.services if s.backup})
    assert jobs, "the catalog declares no backup job"
    expr = next(a.expr for _, a in ALERTS if a.alert == "BackupTooOld")
    for job in jobs:
        assert f'absent(rampart_backup_last_success_timestamp_seconds{{backup="{job}"}})' in expr


# ----------------------------------------------------------------------------- SLO
PUBLIC = [s.name for s in CATALOG.services if s.exposure == Exposure.PUBLIC]


@pytest.mark.parametrize("service", PUBLIC)
def test_public_service_has_four_burn_rate_alerts(service: str) -> None:
    burns = [a for _, a in ALERTS if a.alert == "ErrorBudgetBurn" and f'"{service}"' in a.expr]
    got = {(dict(a.labels)["long_window"], a.severity, a.for_) for a in burns}
    assert got == {
        ("1h", "critical", "2m"),
        ("6h", "warning", "15m"),
        ("1d", "warning", "1h"),
        ("3d", "warning", "3h"),
    }, f"{service}: {got}"
    fast = next(a for a in burns if dict(a.labels)["long_window"] == "1h")
    assert "ratio_rate1h" in fast.expr and "ratio_rate5m" in fast.expr
    assert fast.expr.count("> 0.0144") == 2, f"{service}: 14.4 x 0.1 % on both windows: {fast.expr}"


def test_slo_objective_is_configurable_per_service() -> None:
    s = load_settings({"sloObjective": 0.995}, {"sloObjectives": {"api-gateway": 0.99}})
    burns = [a for f in rule_files(CATALOG, s) for a in f.alerts() if a.alert == "ErrorBudgetBurn"]
    fast = next(a for a in burns if dict(a.labels)["long_window"] == "1h")
    assert "> 0.144" in fast.expr and dict(fast.labels)["slo_objective"] == "0.99"


def test_no_public_service_means_no_slo_rules() -> None:
    names = [f.name for f in rule_files(sample_platform(public=()), DEFAULTS)]
    assert "slo" not in names


# ------------------------------------------------------------------------ scraping
JOBS = _y("prometheus/prometheus.yml")["scrape_configs"]


@pytest.mark.parametrize("job", JOBS, ids=[j["job_name"] for j in JOBS])
def test_every_job_labels_service_and_tier(job: dict) -> None:
    labels = {r["target_label"]: r["replacement"] for r in job["relabel_configs"]}
    assert set(labels) >= {"service", "tier"}, f"job {job['job_name']}: {labels}"
    assert all(labels.values()), f"job {job['job_name']}: empty label value"


METRIC_SERVICES = [s for s in CATALOG.services if s.metrics_path]


@pytest.mark.parametrize("svc", METRIC_SERVICES, ids=[s.name for s in METRIC_SERVICES])
def test_every_service_with_metrics_is_scraped_at_its_path(svc) -> None:
    jobs = {j["job_name"]: j for j in JOBS}
    assert svc.name in jobs, f"{svc.name} exposes {svc.metrics_path} but has no scrape job"
    job = jobs[svc.name]
    if svc.name in ("prometheus", "alertmanager"):
        return  # scraped at the addresses Prometheus itself uses
    assert job["metrics_path"] == svc.metrics_path
    assert job["static_configs"][0]["targets"] == [f"{svc.name}:{svc.metrics_port or svc.port}"]


def test_exporters_speak_for_their_data_store_and_hosts_are_a_tier() -> None:
    by_job = {t.job: t for t in scrape_targets(CATALOG, DEFAULTS)}
    assert (by_job["postgres-exporter"].service, by_job["postgres-exporter"].tier) == (
        "postgres",
        "infra",
    )
    assert by_job["redis-exporter"].service == "redis"
    for store in ("kafka", "elasticsearch"):
        exporter = by_job[f"{store}-exporter"]
        assert (exporter.service, exporter.tier) == (store, "infra"), exporter
    assert by_job["kafka-exporter"].addresses == ("kafka-exporter:9308",)
    assert by_job["elasticsearch-exporter"].addresses == ("elasticsearch-exporter:9114",)
    assert by_job["node"].tier == "host"
    assert by_job["node"].addresses == tuple(f"10.77.0.{i}:9100" for i in range(11, 15))
    assert by_job["traefik"].addresses == ("traefik:8082",)


def test_exporters_and_traefik_added_when_the_catalog_lacks_them() -> None:
    by_job = {t.job: t for t in scrape_targets(sample_platform(), DEFAULTS)}
    assert by_job["postgres-exporter"].addresses == ("postgres-exporter:9187",)
    assert by_job["postgres-exporter"].service == "postgres"
    assert by_job["redis-exporter"].addresses == ("redis-exporter:9121",)
    assert by_job["traefik"].addresses == ("traefik:8082",)
    assert "kafka" not in by_job, "a service without metrics must not be scraped"
    # no default address for exporters the catalog does not deploy, except postgres/redis
    assert "kafka-exporter" not in by_job


def test_node_targets_are_configurable() -> None:
    s = load_settings(None, {"nodeTargets": ["db1.internal:9100"]})
    node = next(t for t in scrape_targets(CATALOG, s) if t.job == "node")
    assert node.addresses == ("db1.internal:9100",)


def test_bare_host_settings_scrape_only_prometheus_alertmanager_and_nodes() -> None:
    # The `prometheus` Ansible role: no catalog service is reachable by name on bare hosts.
    s = load_settings(
        None,
        {
            "scrapeServices": False,
            "prometheusAddress": "10.77.0.14:9090",
            "alertmanagerAddress": "10.77.0.14:9093",
        },
    )
    by_job = {t.job: t.addresses for t in scrape_targets(CATALOG, s)}
    assert by_job == {
        "prometheus": ("10.77.0.14:9090",),
        "alertmanager": ("10.77.0.14:9093",),
        "node": s.node_targets,
    }, f"bare-host jobs: {sorted(by_job)}"


def test_bare_host_settings_scrape_the_edge_hosts_traefik_when_named() -> None:
    # The role names the edge group's metrics entry points; the edge alerts need job traefik.
    s = load_settings(None, {"scrapeServices": False, "edgeTargets": ["10.77.0.11:8082"]})
    traefik = [t for t in scrape_targets(CATALOG, s) if t.job == "traefik"]
    assert [(t.addresses, t.service, t.tier) for t in traefik] == [
        (("10.77.0.11:8082",), "traefik", "platform")]
    edge_jobs = {job for r in edge_alerts(s).alerts()
                 for job in re.findall(r'job="([^"]+)"', r.expr)}
    assert edge_jobs == {"traefik"}, f"the edge alerts read jobs {edge_jobs}, not the scraped one"


def test_alertmanager_is_wired_and_scraped() -> None:
    doc = _y("prometheus/prometheus.yml")
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert "alertmanager" in {j["job_name"] for j in JOBS}


# ---------------------------------------------------------------------- alertmanager
RECEIVERS = {
    "receivers": [
        {
            "name": "pager",
            "webhook": {"url": "https://pager.example.com/hook", "secret": "PAGER_TOKEN"},
        },
        {
            "name": "mail",
            "email": {
                "to": "ops@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "authUsername": "am",
                "secret": "SMTP_PASSWORD",
            },
        },
        {"name": "chat", "slack": {"channel": "#erp-alerts", "secret": "SLACK_WEBHOOK_URL"}},
    ],
    "routes": {"critical": ["pager", "chat"], "warning": ["mail"]},
}


def test_alertmanager_routes_by_severity_and_inhibits_warnings() -> None:
    am = yaml.safe_load(
        build_files(CATALOG, load_settings(None, RECEIVERS))["alertmanager/alertmanager.yml"]
    )
    routes = am["route"]["routes"]
    by_sev = {(r["matchers"][0], r["receiver"]) for r in routes}
    assert ('severity="critical"', "pager") in by_sev and ('severity="critical"', "chat") in by_sev
    assert ('severity="warning"', "mail") in by_sev
    critical = [r for r in routes if r["matchers"] == ['severity="critical"']]
    assert len(critical) == 2 and all(r.get("continue") for r in critical[:-1]), (
        "a fan-out route must continue so the next receiver also gets the alert"
    )
    assert "alertname" in am["route"]["group_by"]
    inhibit = am["inhibit_rules"][0]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert "alertname" in inhibit["equal"] and "service" in inhibit["equal"]


def test_alertmanager_credentials_are_files_never_values() -> None:
    text = build_files(CATALOG, load_settings(None, RECEIVERS))["alertmanager/alertmanager.yml"]
    am = yaml.safe_load(text)
    rx = {r["name"]: r for r in am["receivers"]}
    assert (
        rx["pager"]["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"]
        == "/etc/alertmanager/secrets/pager_token"
    )
    assert rx["mail"]["email_configs"][0]["auth_password_file"] == (
        "/etc/alertmanager/secrets/smtp_password"  # noqa: S105 (a path)
    )
    assert rx["chat"]["slack_configs"][0]["api_url_file"] == (
        "/etc/alertmanager/secrets/slack_webhook_url"
    )
    for key in ("auth_password:", "api_url:", "credentials:", "password:"):
        assert key not in text, f"alertmanager.yml carries a literal {key}"
    assert secret_files(load_settings(None, RECEIVERS)) == {
        "/etc/alertmanager/secrets/pager_token": "PAGER_TOKEN",
        "/etc/alertmanager/secrets/smtp_password": "SMTP_PASSWORD",
        "/etc/alertmanager/secrets/slack_webhook_url": "SLACK_WEBHOOK_URL",
    }


# --------------------------------------------------------------------------- grafana
DASHBOARDS = sorted(p for p in FILES if p.startswith("grafana/dashboards/"))


@pytest.mark.parametrize("path", DASHBOARDS)
def test_dashboard_panels_use_the_fixed_datasource(path: str) -> None:
    doc = json.loads(FILES[path])
    assert doc["uid"].startswith("rampart-") and "rampart" in doc["tags"]
    panels = [p for p in doc["panels"] if p.get("type") != "row"]
    assert panels, f"{path}: no panels"
    for panel in panels:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, f"{path}: {panel['title']}"
        assert panel["targets"], f"{path}: panel {panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
    assert list(dashboard_queries(FILES[path])), f"{path}: no queries found"


def test_datasource_has_the_fixed_uid() -> None:
    ds = _y("grafana/provisioning/datasources/rampart.yaml")["datasources"]
    assert [(d["uid"], d["type"], d["editable"]) for d in ds] == [
        (DATASOURCE_UID, "prometheus", False)
    ]


def test_grafana_ini_is_locked_down() -> None:
    ini = FILES["grafana/grafana.ini"]
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in ini.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif " = " in line:
            key, value = line.split(" = ", 1)
            sections.setdefault(current, {})[key] = value
    assert sections["auth.anonymous"]["enabled"] == "false"
    assert sections["users"]["allow_sign_up"] == "false"
    assert sections["security"]["admin_password"] == (
        "$__file{/run/secrets/grafana_admin_password}"  # noqa: S105 (a file reference)
    )
    assert sections["security"]["cookie_secure"] == "true"


def test_overview_covers_red_and_saturation() -> None:
    exprs = " ".join(
        e for _, e in dashboard_queries(FILES["grafana/dashboards/rampart-overview.json"])
    )
    for needle in (
        "service:http_requests:rate5m",
        "service:http_request_errors:ratio_rate5m",
        "p99_rate5m",
        "job:memory_limit_bytes",
        "db_client_connections_max",
    ):
        assert needle in exprs, f"overview lacks {needle}"


# ------------------------------------------------------------ promtool case coverage
def _severities() -> set[tuple[str, str]]:
    return {(a.alert, a.severity) for _, a in ALERTS}


@pytest.mark.parametrize("alert,severity", sorted(_severities()))
def test_every_alert_severity_has_a_promtool_case(alert: str, severity: str) -> None:
    cases = [c for c in CASES if c.alert == alert]
    assert cases, f"{alert} has no promtool test case (tests/observability/cases.py)"
    fired = {e["severity"] for c in cases for e in c.expect}
    assert severity in fired, f"{alert}: no case shows the {severity} rule firing"
    assert all(c.not_yet and c.below is not None for c in cases)


@pytest.mark.parametrize("rule_file", [f.name for f in RULES])
def test_every_rule_file_has_a_promtool_test(rule_file: str) -> None:
    stems = {c.rule_file for c in CASES} | {e.rule_file for e in EXPR_CASES}
    assert rule_file in stems, f"rules/{rule_file}.rules.yml has no promtool test cases"


def test_alert_names_are_unique_per_meaning() -> None:
    names = alert_names(RULES)
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", n) for n in names)


# ------------------------------------------------------------------ metrics contract
DOCS = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
_NOT_METRICS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (label matchers, ranges, grouping and functions
    removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", expr):
        if not m.group(2) and m.group(1).lower() not in _NOT_METRICS:
            names.add(m.group(1))
    return names


def _all_queries() -> list[tuple[str, str]]:
    out = []
    for path, content in FILES.items():
        if path.startswith("prometheus/rules/"):
            out += [
                (path, r["expr"]) for g in yaml.safe_load(content)["groups"] for r in g["rules"]
            ]
        elif path.endswith(".json"):
            out += [(path, e) for _, e in dashboard_queries(content)]
    return out


QUERIED = sorted({(name, where) for where, e in _all_queries() for name in metric_names(e)})


def test_metric_name_extraction() -> None:
    assert metric_names(
        'sum by (service, le) (rate(http_request_duration_seconds_bucket{code=~"5.."}[5m])) '
        "/ on (job) group_left job:memory_limit_bytes > 0.5"
    ) == {"http_request_duration_seconds_bucket", "job:memory_limit_bytes"}


@pytest.mark.parametrize("name", sorted({n for n, _ in QUERIED}))
def test_every_queried_metric_is_in_the_contract(name: str) -> None:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    where = sorted({w for n, w in QUERIED if n == name})
    assert f"`{name}`" in DOCS or f"`{base}`" in DOCS, (
        f"{name} (read by {', '.join(where)}) is not documented in docs/metrics.md"
    )


def test_container_files_match_the_catalog_command_lines() -> None:
    from infra.observability import container_files

    per = container_files(FILES)
    assert set(per) == {"prometheus", "alertmanager", "grafana"}
    assert sum(len(v) for v in per.values()) == len(FILES), "a file was dropped"
    for svc in ("prometheus", "alertmanager"):
        config = next(
            a.split("=", 1)[1]
            for a in CATALOG.service(svc).command
            if a.startswith("--config.file=")
        )
        assert config in per[svc], f"{svc} reads {config}, which is not generated"
    assert "/etc/grafana/grafana.ini" in per["grafana"]
    assert "/etc/grafana/dashboards/rampart-overview.json" in per["grafana"]
    assert all(
        p.startswith("/etc/prometheus/rules/")
        for p in per["prometheus"]
        if p.endswith(".rules.yml")
    )
