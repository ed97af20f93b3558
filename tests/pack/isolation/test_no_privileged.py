"""no-privileged: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import no_privileged

pytestmark = pytest.mark.unit
RULE = no_privileged.RULE


def test_unprivileged_container_passes(harness):
    assert harness.resource(RULE, container()) == []


def test_privileged_container_fails(harness):
    assert harness.resource(RULE, container(privileged=True)) == [
        "container runs privileged (all devices, all capabilities)"]


def test_missing_flag_means_unprivileged(harness):
    # Docker's default is unprivileged, so an absent input is compliant.
    assert harness.resource(RULE, container(privileged=None)) == []


def test_kubernetes_privileged_init_container_fails(harness):
    props = deployment()
    props["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "chown", "image": "busybox:1.36.1", "securityContext": {"privileged": True}}]
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "init container chown runs privileged (securityContext.privileged)"]


def test_waiver_override_is_refused(harness):
    # Privileged is never waivable (policies/meta/waivers.py): the finding stays mandatory.
    props = container(privileged=True)
    found = harness.resource(RULE, props, stack=settings(
        waiver(RULE.name, "auth", subject="privileged")))
    assert len(found) == 1 and "does not apply" in found[0], found
    assert harness.outcomes[-1].status == "waiver-refused"
