"""no-host-namespaces: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import no_host_namespaces

pytestmark = pytest.mark.unit
RULE = no_host_namespaces.RULE


def test_private_namespaces_pass(harness):
    assert harness.resource(RULE, container(networkMode="bridge", ipcMode="private")) == []


@pytest.mark.parametrize("key, what", [("networkMode", "network"), ("pidMode", "PID"),
                                       ("ipcMode", "IPC")])
def test_host_namespace_fails(harness, key, what):
    assert harness.resource(RULE, container(**{key: "host"})) == [
        f"container shares the host {what} namespace ({key}: host)"]


def test_missing_modes_are_private(harness):
    assert harness.resource(RULE, container(networkMode=None, pidMode=None, ipcMode=None)) == []


def test_kubernetes_host_network_fails(harness):
    props = deployment()
    props["spec"]["template"]["spec"]["hostPID"] = True
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "pod shares the host PID namespace (hostPID: true)"]


def test_waiver_override(harness):
    props = container(ipcMode="host")
    waived = settings(waiver(RULE.name, "auth", subject="ipcMode"))
    assert harness.resource(RULE, props, stack=waived) == []
    assert len(harness.resource(RULE, props, stack=settings(
        waiver(RULE.name, "auth", subject="ipcMode", expires="2026-01-01")))) == 1
    # Host network (and PID) for an application service is never waivable.
    found = harness.resource(RULE, container(networkMode="host"), stack=settings(
        waiver(RULE.name, "auth", subject="networkMode")))
    assert len(found) == 1 and "does not apply" in found[0], found
