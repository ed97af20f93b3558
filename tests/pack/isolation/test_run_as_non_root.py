"""run-as-non-root (Kubernetes): compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import run_as_non_root

pytestmark = pytest.mark.unit
RULE = run_as_non_root.RULE


def test_non_root_passes(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []


def test_pod_level_setting_covers_containers(harness):
    props = deployment(securityContext={"allowPrivilegeEscalation": False})
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == []


NOT_NON_ROOT = ("does not set runAsNonRoot: true (securityContext.runAsNonRoot, on the "
                "container or the pod)")


@pytest.mark.parametrize("ctx, expected", [
    ({"runAsNonRoot": False}, NOT_NON_ROOT),
    ({"runAsNonRoot": True, "runAsUser": 0}, "runs as UID 0 (securityContext.runAsUser)"),
])
def test_root_fails(harness, ctx, expected):
    found = harness.resource(RULE, deployment(securityContext=ctx), K8S_DEPLOYMENT, "auth")
    assert found == [f"container auth {expected}"]


def test_missing_security_context_fails(harness):
    props = deployment(securityContext=None)
    del props["spec"]["template"]["spec"]["securityContext"]
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        f"container auth {NOT_NON_ROOT}"]


def test_docker_containers_are_not_judged(harness):
    assert harness.resource(RULE, container(user=None)) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="auth/runAsNonRoot")
    props = deployment(securityContext={"runAsNonRoot": False})
    waived = settings(w)
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth", stack=waived) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.resource(RULE, props, K8S_DEPLOYMENT, "auth", stack=expired)) == 1
