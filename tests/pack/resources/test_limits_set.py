"""container-limits-set: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.resources import limits_set

pytestmark = pytest.mark.unit
RULE = limits_set.RULE


def test_limited_container_passes(harness):
    assert harness.resource(RULE, container()) == []
    assert harness.resource(RULE, container(cpus=None, cpuQuota=100000, cpuPeriod=100000)) == []


@pytest.mark.parametrize("changes, expected", [
    ({"memory": 0}, "no memory limit"),
    ({"cpus": "0"}, "no CPU limit"),
    ({"cpus": None}, "cpuShares is a relative weight"),
])
def test_unlimited_container_fails(harness, changes, expected):
    found = harness.resource(RULE, container(**changes))
    assert len(found) == 1 and expected in found[0], found


def test_missing_limits_fail(harness):
    found = harness.resource(RULE, container(memory=None, cpus=None, cpuShares=None))
    assert found == ["container has no memory limit (`memory`)",
                     "container has no CPU limit (`cpus`)"]


def test_kubernetes_limits(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(resources={"requests": {"cpu": "500m", "memory": "512Mi"}})
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "container auth has no resources.limits.cpu",
        "container auth has no resources.limits.memory",
    ]


def test_waiver_override(harness):
    props = container(memory=None)
    assert harness.resource(RULE, props, stack=settings(waiver(RULE.name, "erp-auth-container",
                                                                     subject="memory"))) == []
    expired = settings(waiver(RULE.name, "erp-auth-container", subject="memory",
                                expires="2026-11-22"))
    assert len(harness.resource(RULE, props, stack=expired)) == 1
