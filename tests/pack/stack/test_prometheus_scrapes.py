"""prometheus-scrapes-every-service: compliant, non-compliant, property missing, waiver."""

import pytest
import yaml
from policy_harness import CONTAINER, DEPLOYMENT_PROPS, container, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.stack import prometheus_scrapes

pytestmark = pytest.mark.unit
RULE = prometheus_scrapes.RULE

PROMETHEUS_YML = {"scrape_configs": [
    {"job_name": "auth", "static_configs": [{"targets": ["auth:3001"]}]},
    {"job_name": "postgres-exporter", "static_configs": [{"targets": ["10.0.0.5:9187"]}],
     "relabel_configs": [{"target_label": "service", "replacement": "postgres",
                          "action": "replace"}]},
    {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
]}


def svc(name: str) -> tuple[str, str, dict]:
    return CONTAINER, f"erp-{name}-container", container(
        name=f"erp-{name}", labels=[{"label": "rampart.service", "value": name}])


def prometheus(config: dict) -> tuple[str, str, dict]:
    kind, name, props = svc("prometheus")
    props["uploads"] = [{"file": "/etc/prometheus/prometheus.yml",
                         "content": yaml.safe_dump(config)}]
    return kind, name, props


def test_every_service_scraped_directly_or_via_exporter(harness):
    stack = [svc("auth"), svc("postgres"), prometheus(PROMETHEUS_YML)]
    assert harness.stack(RULE, stack) == []


def test_unscraped_service_fails_and_names_it(harness):
    found = harness.stack(RULE, [svc("auth"), svc("kafka"), prometheus(PROMETHEUS_YML)])
    assert [v.message for v in found] == ["service kafka is not scraped by Prometheus"]
    assert found[0].urn.endswith("::erp-kafka-container")


def test_missing_prometheus_config_fails_once(harness):
    found = harness.stack(RULE, [svc("auth")])
    assert [v.message for v in found] == [
        "the stack deploys no Prometheus scrape configuration (prometheus.yml)"]


def test_kubernetes_annotation_or_service_monitor(harness):
    assert harness.stack(RULE, [(K8S_DEPLOYMENT, "auth", DEPLOYMENT_PROPS)]) == []
    import copy
    bare = copy.deepcopy(DEPLOYMENT_PROPS)
    del bare["spec"]["template"]["metadata"]["annotations"]
    assert len(harness.stack(RULE, [(K8S_DEPLOYMENT, "auth", bare)])) == 1
    monitor = {"spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "auth"}}}}
    stack = [(K8S_DEPLOYMENT, "auth", bare),
             ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "auth", monitor)]
    assert harness.stack(RULE, stack) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "kafka", subject="metrics")
    stack = [svc("auth"), svc("kafka"), prometheus(PROMETHEUS_YML)]
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1


def test_missing_config_is_blamed_on_the_prometheus_container(harness):
    found = harness.stack(RULE, [svc("auth"), svc("prometheus")])
    assert len(found) == 1 and found[0].urn.endswith("::erp-prometheus-container")


# --- batch jobs: metrics through node_exporter's textfile collector ---------------------------

TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def node_exporter(*command: str, read_only: bool = True) -> tuple[str, str, dict]:
    kind, name, props = svc("node-exporter")
    props["command"] = ["--path.procfs=/host/proc", *command]
    props["volumes"] = [{"volumeName": "erp-backup-metrics", "containerPath": TEXTFILE_DIR,
                         "readOnly": read_only}]
    return kind, name, props


def backup_job(read_only: bool = False, volume: str = "erp-backup-metrics") -> tuple:
    kind, name, props = svc("pg-backup")
    props["volumes"] = [{"volumeName": volume, "containerPath": "/metrics",
                         "readOnly": read_only}]
    return kind, name, props


SCRAPES_NODE = {"scrape_configs": [*PROMETHEUS_YML["scrape_configs"], {
    "job_name": "node-exporter", "static_configs": [{"targets": ["node-exporter:9100"]}]}]}
FLAG = f"--collector.textfile.directory={TEXTFILE_DIR}"


@pytest.mark.parametrize("command", [(FLAG,), ("--collector.textfile.directory", TEXTFILE_DIR),
                                     (FLAG + "/",)])
def test_batch_job_writing_into_a_scraped_textfile_collector_passes(harness, command):
    stack = [svc("auth"), node_exporter(*command), backup_job(), prometheus(SCRAPES_NODE)]
    assert harness.stack(RULE, stack) == []


@pytest.mark.parametrize("case, stack", [
    ("collector directory is another path", [
        node_exporter("--collector.textfile.directory=/elsewhere"), backup_job()]),
    ("no textfile collector", [node_exporter(), backup_job()]),
    ("job mounts the volume read-only", [node_exporter(FLAG), backup_job(read_only=True)]),
    ("job writes into another volume", [node_exporter(FLAG), backup_job(volume="erp-other")]),
])
def test_batch_job_not_delivered_to_a_textfile_collector_fails(harness, case, stack):
    found = harness.stack(RULE, [svc("auth"), *stack, prometheus(SCRAPES_NODE)])
    assert [v.message for v in found] == ["service pg-backup is not scraped by Prometheus"], case


def test_textfile_collector_that_is_not_scraped_does_not_count(harness):
    stack = [svc("auth"), node_exporter(FLAG), backup_job(), prometheus(PROMETHEUS_YML)]
    found = sorted(v.message for v in harness.stack(RULE, stack))
    assert found == ["service node-exporter is not scraped by Prometheus",
                     "service pg-backup is not scraped by Prometheus"]


def test_batch_job_without_volumes_property_fails(harness):
    kind, name, props = backup_job()
    del props["volumes"]
    stack = [svc("auth"), node_exporter(FLAG), (kind, name, props), prometheus(SCRAPES_NODE)]
    assert [v.message for v in harness.stack(RULE, stack)] == [
        "service pg-backup is not scraped by Prometheus"]


def test_docker_mounts_form_counts_too(harness):
    kind, name, props = backup_job()
    del props["volumes"]
    props["mounts"] = [{"type": "volume", "source": "erp-backup-metrics", "target": "/metrics"}]
    stack = [svc("auth"), node_exporter(FLAG), (kind, name, props), prometheus(SCRAPES_NODE)]
    assert harness.stack(RULE, stack) == []


def test_volume_name_unknown_during_a_preview_is_not_judged(harness):
    from policies.core import UNKNOWN

    kind, name, props = backup_job(volume=UNKNOWN)
    stack = [svc("auth"), node_exporter(FLAG), (kind, name, props), prometheus(SCRAPES_NODE)]
    assert harness.stack(RULE, stack) == []
