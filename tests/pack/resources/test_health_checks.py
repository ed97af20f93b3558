"""health-check-defined: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, K8S_POD
from policies.resources import health_checks

pytestmark = pytest.mark.unit
RULE = health_checks.RULE


def test_container_with_health_check_passes(harness):
    assert harness.resource(RULE, container()) == []


@pytest.mark.parametrize("healthcheck, expected", [
    ({"tests": ["NONE"]}, "disables"),
    ({"tests": [], "interval": "30s"}, "no health check"),
])
def test_disabled_or_empty_health_check_fails(harness, healthcheck, expected):
    found = harness.resource(RULE, container(healthcheck=healthcheck))
    assert len(found) == 1 and expected in found[0]


def test_missing_health_check_fails(harness):
    assert harness.resource(RULE, container(healthcheck=None)) == [
        "container has no health check (`healthcheck.tests`)"]


def test_kubernetes_needs_both_probes(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    found = harness.resource(RULE, deployment(readinessProbe=None), K8S_DEPLOYMENT, "auth")
    assert found == ["container auth has no readinessProbe"]
    pod = {"metadata": {"name": "job"}, "spec": {"containers": [{"name": "job", "image": "x:1.0"}]}}
    assert harness.resource(RULE, pod, K8S_POD, "job") == [
        "container job has no readinessProbe", "container job has no livenessProbe"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="healthcheck")
    props = container(healthcheck=None)
    assert harness.resource(RULE, props, stack=settings(w)) == []
    expired = settings(dict(w, expires="2020-01-01"))
    assert "expired" in harness.resource(RULE, props, stack=expired)[0]


@pytest.mark.parametrize("marker", [{"attach": True},
                                    {"labels": [{"label": "rampart.role",
                                                 "value": "volume-init"}]}])
def test_one_shot_containers_need_no_health_check(harness, marker):
    assert harness.resource(RULE, container(healthcheck=None, restart="no", **marker)) == []
