"""The ERP catalog (infra/catalog/erp.yaml) builds, and carries every DESIGN §1 figure.

Each expectation is its own parametrised case so a failure names the service at fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra import backups
from infra.model import DEFAULT_CATALOG, build_platform
from infra.model.build import SERVICE_KEYS
from infra.model.errors import ValidationError
from infra.model.images import tag_problem
from infra.model.settings import SETTINGS_KEYS
from infra.model.types import Exposure, Group, Network, Platform, SecretKind, Service

pytestmark = pytest.mark.unit

GIB = 1024**3
MIB = 1024**2
VERSIONS = DEFAULT_CATALOG.parent / "versions.yaml"
RAW = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
PINS = yaml.safe_load(VERSIONS.read_text(encoding="utf-8"))["images"]

# DESIGN §1 table: service -> (group, port, dependencies). Kafka runs in KRaft mode, which
# DESIGN allows ("zookeeper (or KRaft mode)"), so it depends on nothing.
DESIGN_TABLE: dict[str, tuple[Group, int, set[str]]] = {
    "postgres": (Group.INFRA, 5432, set()),
    "redis": (Group.INFRA, 6379, set()),
    "kafka": (Group.INFRA, 9093, set()),
    "elasticsearch": (Group.INFRA, 9200, set()),
    "temporal": (Group.INFRA, 7233, {"postgres"}),
    "minio": (Group.INFRA, 9000, set()),
    "rabbitmq": (Group.INFRA, 5672, set()),
    "eventstoredb": (Group.INFRA, 2113, set()),
    "auth": (Group.CORE, 3001, {"postgres", "redis"}),
    "master-data": (Group.CORE, 3002, {"postgres", "redis", "kafka"}),
    "notification": (Group.CORE, 3003, {"postgres", "redis", "kafka"}),
    "configuration": (Group.CORE, 3004, {"postgres", "redis"}),
    "scheduler": (Group.CORE, 3005, {"postgres", "redis", "kafka"}),
    "document-generator": (Group.CORE, 3006, {"postgres", "redis", "kafka"}),
    "import-export": (Group.CORE, 3007, {"postgres", "redis", "kafka"}),
    "file-storage": (Group.CORE, 3008, {"postgres", "redis", "kafka", "minio"}),
    "audit": (Group.CORE, 3009, {"postgres", "kafka", "elasticsearch"}),
    "workflow": (Group.CORE, 3011, {"postgres", "redis", "kafka", "temporal"}),
    "rules-engine": (Group.CORE, 3012, {"postgres", "redis", "kafka"}),
    "crm": (Group.BUSINESS, 3013, {"postgres", "redis", "kafka"}),
    "finance": (Group.BUSINESS, 3014, {"postgres", "redis", "kafka", "eventstoredb"}),
    "hr": (Group.BUSINESS, 3015, {"postgres", "redis", "kafka"}),
    "organization": (Group.BUSINESS, 3016, {"postgres", "redis", "kafka"}),
    "project-management": (Group.BUSINESS, 3017, {"postgres", "redis", "kafka"}),
    "scm": (Group.BUSINESS, 3018, {"postgres", "redis", "kafka"}),
    # no port in DESIGN: the next free ones
    "inventory": (Group.BUSINESS, 3019, {"postgres", "redis", "kafka"}),
    "reporting": (Group.BUSINESS, 3020, {"postgres", "redis", "kafka"}),
    "api-gateway": (Group.EDGE, 4000, {"auth", "master-data", "workflow", "rules-engine"}),
}
PLATFORM_COMPONENTS = ["traefik", "prometheus", "alertmanager", "grafana", "node-exporter",
                       "postgres-exporter", "redis-exporter", "kafka-exporter",
                       "elasticsearch-exporter", "pg-backup"]
# Data stores without a Prometheus endpoint of their own, and the exporter speaking for each.
EXPORTERS = {"postgres": "postgres-exporter", "redis": "redis-exporter",
             "kafka": "kafka-exporter", "elasticsearch": "elasticsearch-exporter"}
DATA_STORES = ["postgres", "redis", "kafka", "elasticsearch", "temporal", "minio", "rabbitmq",
               "eventstoredb"]
APPS = [name for name, (group, _, _) in DESIGN_TABLE.items() if group is not Group.INFRA]
ADMIN_HOSTS = {"grafana": "grafana", "prometheus": "prometheus",
               "alertmanager": "alertmanager", "traefik": "traefik"}
DESIGN_SECRETS = ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "JWT_SECRET", "PEPPER",
                  "MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_DEFAULT_PASS",
                  "TRAEFIK_DASHBOARD_HTPASSWD"]


@pytest.fixture(scope="module")
def platform() -> Platform:
    return build_platform(DEFAULT_CATALOG, {"environment": "dev", "domain": "erp.test"})


def svc(platform: Platform, name: str) -> Service:
    try:
        return platform.service(name)
    except KeyError:
        pytest.fail(f"{DEFAULT_CATALOG.name}: service '{name}' is missing")


ALL_SERVICES = [*DESIGN_TABLE, *PLATFORM_COMPONENTS]


def test_catalog_lists_exactly_the_platform(platform: Platform) -> None:
    assert sorted(s.name for s in platform.services) == sorted([*ALL_SERVICES, *ONE_SHOT_JOBS])


# Jobs that run to completion when created or replaced (`one_shot: <reason>`): no health
# check, never restarted, otherwise as hardened as every service.
ONE_SHOT_JOBS = ["minio-init"]


@pytest.mark.parametrize("name", ONE_SHOT_JOBS)
def test_one_shot_jobs_are_hardened_and_never_restarted(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    assert s.one_shot and RAW["services"][name]["one_shot"], f"{name}: no reason given"
    assert s.restart == "no" and s.health is None and s.port is None, name
    labels = dict(s.labels)
    assert labels["rampart.role"] == "job" and labels["rampart.one-shot"], name
    assert s.security.read_only_root and s.security.cap_drop == ("ALL",), name
    assert not s.security.cap_add and s.security.no_new_privileges, name
    user = s.security.user
    assert user is not None and user.split(":")[0] not in ("0", "root"), f"{name}: user {user}"
    assert (s.logs.max_size, s.logs.max_file) == ("10m", 3), name
    waiting = [o.name for o in platform.services if name in o.depends_on]
    assert waiting, f"{name}: nothing waits for it"
    for other in waiting:
        assert name in svc(platform, other).completed_dependencies, \
            f"{other}: starts after {name} without waiting for it to complete"


def test_builds_with_no_settings_at_all() -> None:
    assert build_platform(DEFAULT_CATALOG).edge.domain == "erp.localhost"


@pytest.mark.parametrize("name", list(DESIGN_TABLE))
def test_design_port_group_and_dependencies(platform: Platform, name: str) -> None:
    group, port, deps = DESIGN_TABLE[name]
    service = svc(platform, name)
    assert service.group is group, f"{name}: group {service.group}, DESIGN says {group}"
    assert service.port == port, f"{name}: port {service.port}, DESIGN says {port}"
    assert set(service.depends_on) == deps, f"{name}: depends on {service.depends_on}"


@pytest.mark.parametrize("name", APPS)
def test_app_resource_defaults(platform: Platform, name: str) -> None:
    r = svc(platform, name).resources
    assert (r.cpu_limit, r.memory_limit, r.cpu_reservation, r.memory_reservation) == (
        1.0, 1 * GIB, 0.5, 512 * MIB), f"{name}: {r}"


def test_postgres_gets_two_gib_and_the_owners_tuning(platform: Platform) -> None:
    pg = svc(platform, "postgres")
    assert pg.resources.memory_limit == 2 * GIB
    assert {"max_connections=400", "shared_buffers=256MB", "work_mem=4MB"} <= set(pg.command)


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_hardened_defaults_applied(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    assert (s.logs.driver, s.logs.max_size, s.logs.max_file) == ("json-file", "10m", 3), name
    assert s.stop_grace_s == 30, f"{name}: stop grace {s.stop_grace_s}"
    assert s.restart == "unless-stopped", name
    assert s.security.cap_drop == ("ALL",), name
    assert s.security.no_new_privileges, name
    assert "/tmp" in s.security.writable_paths, name  # noqa: S108 - a tmpfs in the container
    user = s.security.user
    assert user is not None and user.split(":")[0] not in ("0", "root"), f"{name}: user {user}"
    r = s.resources
    assert 0 < r.cpu_reservation <= r.cpu_limit, name
    assert 0 < r.memory_reservation <= r.memory_limit, name
    assert ("rampart.service", name) in s.labels, name


# Images that cannot run with a read-only root; each says why in the catalog.
WRITABLE_ROOT = {"kafka", "elasticsearch", "temporal", "rabbitmq"}


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_read_only_root_unless_declared(platform: Platform, name: str) -> None:
    expected = name not in WRITABLE_ROOT
    assert svc(platform, name).security.read_only_root is expected, name
    labels = dict(svc(platform, name).labels)
    if not expected:
        assert RAW["services"][name].get("writable_root"), f"{name}: no reason given"
        assert labels.get("rampart.writable-root"), f"{name}: reason not on the labels"
    else:
        assert "rampart.writable-root" not in labels, name


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_health_check_timings(platform: Platform, name: str) -> None:
    h = svc(platform, name).health
    assert h is not None, f"{name}: no health check"
    assert h.command[0] == "CMD" and len(h.command) > 1, f"{name}: {h.command}"
    assert (h.interval_s, h.timeout_s, h.retries) == (30, 10, 3), name
    # 60 s by default; slow JVM/cluster starters may only wait longer, never less
    assert h.start_period_s >= 60, name


@pytest.mark.parametrize("name", APPS)
def test_apps_probe_their_readiness_endpoint(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    assert s.health is not None
    assert (s.health.ready_path, s.health.live_path) == ("/health/ready", "/health/live")
    assert s.health.command[-1] == f"http://127.0.0.1:{s.port}/health/ready", name
    assert (s.metrics_path, s.metrics_port) == ("/metrics", s.port), name


@pytest.mark.parametrize("name", DATA_STORES)
def test_data_stores_on_backend_only(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    assert s.networks == (Network.BACKEND,), f"{name}: {s.networks}"
    assert s.exposure is Exposure.INTERNAL, name


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_network_placement(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    if name == "traefik":
        assert s.networks == (Network.EDGE,)
    elif s.exposure is Exposure.INTERNAL:
        assert s.networks == (Network.BACKEND,), name
    else:
        assert Network.EDGE in s.networks, name


def test_api_gateway_is_the_only_public_service(platform: Platform) -> None:
    public = [s.name for s in platform.services if s.exposure is Exposure.PUBLIC]
    assert public == ["api-gateway"]
    route = svc(platform, "api-gateway").route
    assert route is not None and route.host == "api.erp.test"
    assert {"/auth/login", "/graphql/login"} <= set(route.login_paths)


@pytest.mark.parametrize("name", list(ADMIN_HOSTS))
def test_admin_routes(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    assert s.exposure is Exposure.ADMIN, name
    assert s.route is not None and s.route.host == f"{ADMIN_HOSTS[name]}.erp.test", name
    assert s.health is not None and s.health.ready_path, f"{name}: routed without health path"


@pytest.mark.parametrize("secret", DESIGN_SECRETS)
def test_design_secrets_declared_by_name(platform: Platform, secret: str) -> None:
    owners = [s.name for s in platform.services for ref in s.secrets
              if ref.name == secret and ref.shared_from is None]
    assert len(owners) == 1, f"{secret}: owned by {owners}"


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_secrets_are_files_with_owners(platform: Platform, name: str) -> None:
    for ref in svc(platform, name).secrets:
        assert ref.file.startswith("/run/secrets/"), f"{name}: {ref.name} at {ref.file}"
        if ref.shared_from is not None:
            owner = svc(platform, ref.shared_from)
            assert ref.name in {o.name for o in owner.secrets}, f"{name}: {ref.name}"
        assert not any(key == ref.name for key, _ in svc(platform, name).environment), name


def test_jwt_secret_kind(platform: Platform) -> None:
    ref = next(r for r in svc(platform, "api-gateway").secrets if r.name == "JWT_SECRET")
    assert ref.kind is SecretKind.JWT_SIGNING_KEY and ref.shared_from == "auth"


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_stateful_services_name_their_backup(platform: Platform, name: str) -> None:
    s = svc(platform, name)
    if not s.stateful:
        return
    assert s.volumes, f"{name}: stateful without a volume"
    if s.backup is None:
        assert RAW["services"][name].get("backup_exempt"), f"{name}: neither backup nor reason"
        assert dict(s.labels).get("rampart.backup-exempt"), f"{name}: reason not on the labels"
    else:
        assert svc(platform, s.backup).group is Group.PLATFORM, name


def test_postgres_is_backed_up(platform: Platform) -> None:
    assert svc(platform, "postgres").backup == "pg-backup"


def test_scrape_targets(platform: Platform) -> None:
    scraped = {s.name for s in platform.services if s.metrics_port}
    assert {"traefik", "prometheus", "alertmanager", "grafana", "node-exporter",
            *EXPORTERS.values(), *APPS} <= scraped


@pytest.mark.parametrize("store", sorted(EXPORTERS))
def test_data_stores_without_metrics_have_an_exporter(platform: Platform, store: str) -> None:
    exporter = svc(platform, EXPORTERS[store])
    assert svc(platform, store).metrics_path is None, f"{store}: has its own metrics now"
    assert store in exporter.depends_on, f"{exporter.name}: does not depend on {store}"
    assert exporter.group is Group.PLATFORM and exporter.networks == (Network.BACKEND,)
    assert exporter.metrics_path and exporter.metrics_port, exporter.name
    assert exporter.resources.memory_limit <= 128 * MIB, f"{exporter.name}: sized like an app"
    assert ":v" in exporter.image.ref and "@sha256:" in exporter.image.ref, exporter.image.ref


def test_backup_metrics_reach_a_scraped_textfile_collector(platform: Platform) -> None:
    """pg-backup runs between its scheduled backups: its metrics go through node-exporter's
    textfile collector, over a named volume pg-backup writes and node-exporter reads."""
    backup, node = svc(platform, "pg-backup"), svc(platform, "node-exporter")
    (flag,) = [a for a in node.command if a.startswith("--collector.textfile.directory=")]
    directory = flag.split("=", 1)[1]
    reads = {v.name: v for v in node.volumes if v.path == directory}
    writes = {v.name: v for v in backup.volumes if v.path == directory}
    assert reads.keys() == writes.keys() == {"backup-metrics"}
    assert reads["backup-metrics"].read_only and not writes["backup-metrics"].read_only
    assert dict(backup.environment)["RAMPART_METRICS_DIR"] == directory
    script = backups.SCRIPT.read_text(encoding="utf-8")
    for metric in ("rampart_backup_last_success_timestamp_seconds",
                   "rampart_backup_last_attempt_success", "pgbackrest_wal_archive_lag_seconds"):
        assert f'echo "{metric}{{$labels}} ' in script, metric
    assert 'mv "$1.tmp" "$1"' in script, "written beside and renamed into place"


def test_edge_defaults_are_the_owners_figures(platform: Platform) -> None:
    e = platform.edge
    assert (e.rate_average, e.rate_burst) == (100, 50)
    assert (e.login_rate_average, e.login_rate_period_s, e.login_rate_burst) == (5, 900, 5)
    assert e.min_tls_version == "VersionTLS12"
    assert e.hsts_seconds == 31536000
    assert e.tls_mode == "self-signed" and e.inflight_requests == 100
    assert "*" not in "".join(e.cors_origins)


@pytest.mark.parametrize("key", sorted(PINS))
def test_every_pin_is_an_exact_version(key: str) -> None:
    assert tag_problem(str(PINS[key]["tag"])) is None, f"{VERSIONS.name}: {key}"


@pytest.mark.parametrize("key", sorted(PINS))
def test_digest_present_unless_declared_missing(key: str) -> None:
    pin = PINS[key]
    if pin.get("note") == "no digest":
        assert "digest" not in pin, key
    else:
        assert str(pin.get("digest", "")).startswith("sha256:"), f"{VERSIONS.name}: {key}"


def test_prod_requires_digests_and_names_the_missing_one() -> None:
    missing = sorted(k for k, pin in PINS.items() if "digest" not in pin)
    prod = {"environment": "prod", "domain": "erp.example.com", "acmeEmail": "ops@example.com"}
    if not missing:
        assert build_platform(DEFAULT_CATALOG, prod).require_digests
        return
    with pytest.raises(ValidationError) as info:
        build_platform(DEFAULT_CATALOG, prod)
    assert info.value.field in {f"images.{key}.digest" for key in missing}
    assert Path(info.value.file).name == "versions.yaml"


def test_backup_job_carries_the_owners_figures(platform: Platform) -> None:
    """Full daily, incremental every 6 h, 7-day retention by time, encrypted, verified after
    each: the pgbackrest role's figures, which the job's policy file is generated from."""
    policy = backups.load_policy()
    env = backups.policy_env(policy, "pg-backup")
    assert policy.full.hours == (1,) and policy.incremental.hours == (0, 6, 12, 18)
    assert "export PGBACKREST_REPO1_RETENTION_FULL_TYPE='time'" in env
    assert "export PGBACKREST_REPO1_RETENTION_FULL='7'" in env, "7-day retention"
    assert "export PGBACKREST_REPO1_CIPHER_TYPE='aes-256-cbc'" in env
    assert svc(platform, "pg-backup").command == ("sh", backups.SCRIPT_PATH)
    assert "verify" in backups.SCRIPT.read_text(encoding="utf-8"), "verified after each"
    secrets = {ref.name: ref for ref in svc(platform, "pg-backup").secrets}
    assert secrets["REPO_CIPHER_PASS"].kind is SecretKind.PASSWORD
    assert secrets["REPO_CIPHER_PASS"].file == "/run/secrets/repo_cipher_pass"


DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize("key", sorted(SERVICE_KEYS))
def test_every_catalog_key_is_documented(key: str) -> None:
    assert f"`{key}" in DOCS.read_text(encoding="utf-8"), f"{DOCS.name}: catalog key {key}"


@pytest.mark.parametrize("key", sorted(SETTINGS_KEYS))
def test_every_settings_key_is_documented(key: str) -> None:
    assert f"`{key}" in DOCS.read_text(encoding="utf-8"), f"{DOCS.name}: setting {key}"


def test_pins_resolve_to_exact_references(platform: Platform) -> None:
    gateway = svc(platform, "api-gateway").image
    assert gateway.ref.startswith("registry.erp.example/erp/api-gateway:1.14.0@sha256:")
    assert all(":latest" not in s.image.ref for s in platform.services)


