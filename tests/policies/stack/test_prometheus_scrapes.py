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
    stack = [svc("auth"), svc("kafka"), prometheus(PROMETHEUS_YML)]
    assert harness.stack(RULE, stack, settings(waiver(RULE.name, "kafka"))) == []
    expired = settings(waiver(RULE.name, "kafka", expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1


def test_missing_config_is_blamed_on_the_prometheus_container(harness):
    found = harness.stack(RULE, [svc("auth"), svc("prometheus")])
    assert len(found) == 1 and found[0].urn.endswith("::erp-prometheus-container")
