"""capabilities-dropped: compliant, non-compliant, property missing, config/waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import capabilities_dropped

pytestmark = pytest.mark.unit
RULE = capabilities_dropped.RULE


@pytest.mark.parametrize("caps", [
    {"drops": ["ALL"], "adds": []},
    {"drops": ["all"], "adds": ["CHOWN", "SETUID", "SETGID"]},
    {"drops": ["CAP_ALL"], "adds": ["CAP_NET_BIND_SERVICE"]},
])
def test_drop_all_with_allowed_adds_passes(harness, caps):
    assert harness.resource(RULE, container(capabilities=caps)) == []


@pytest.mark.parametrize("caps, expected", [
    ({"drops": ["NET_RAW"], "adds": []}, "does not drop ALL"),
    ({"drops": ["ALL"], "adds": ["SYS_ADMIN"]}, "outside the allowed list: SYS_ADMIN"),
])
def test_partial_drop_or_dangerous_add_fails(harness, caps, expected):
    found = harness.resource(RULE, container(capabilities=caps))
    assert len(found) == 1 and expected in found[0], found


def test_missing_capabilities_fail(harness):
    assert harness.resource(RULE, container(capabilities=None)) == [
        "container does not drop ALL capabilities"]


def test_kubernetes_capabilities(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(securityContext={"runAsNonRoot": True})
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "container auth does not drop ALL capabilities (securityContext.capabilities.drop)"]


def test_config_override_allowed_capabilities(harness):
    props = container(capabilities={"drops": ["ALL"], "adds": ["NET_ADMIN"]})
    assert len(harness.resource(RULE, props)) == 1
    relaxed = settings(allowed_capabilities=frozenset({"NET_ADMIN"}))
    assert harness.resource(RULE, props, stack=relaxed) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="capabilities.drops")
    props = container(capabilities={"drops": [], "adds": []})
    assert harness.resource(RULE, props, stack=settings(w)) == []
    assert len(harness.resource(RULE, props, stack=settings(
        dict(w, expires="2026-11-01")))) == 1
