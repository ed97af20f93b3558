"""Findings no waiver may waive: privileged, a read-write runtime socket, host PID / host
network for an application service (policies/meta/waivers.py). A waiver naming one is itself
a mandatory violation naming the waiver, and the finding stays mandatory."""

from __future__ import annotations

from typing import Any

import pytest
from policy_harness import CONTAINER, Harness, changed, container, deployment, settings

from policies.core import K8S_DEPLOYMENT, Level
from policies.isolation import no_host_mounts, no_host_namespaces, no_privileged
from policies.meta import waivers

pytestmark = pytest.mark.unit
VALID = waivers.VALID_RULE


def entry(rule: str, resource: str, subject: str, **kw: Any) -> dict[str, Any]:
    return {"id": "w", "rule": rule, "resource": resource, "subject": subject,
            "reason": "we really need it", "expires": "2027-01-31", **kw}


def labelled(service: str, group: str | None, **changes: Any) -> dict[str, Any]:
    labels = [{"label": "rampart.service", "value": service}]
    if group is not None:
        labels.append({"label": "rampart.group", "value": group})
    return container(name=f"erp-{service}", labels=labels, **changes)


def _judged(rule, props, stack, resource_type=CONTAINER, name="erp-auth-container"):
    harness = Harness()
    found = harness.resource(rule, props, resource_type, name, stack=stack)
    return found, harness.outcomes


def _refused(harness, rule, props, waiver, **kw) -> None:
    found, outcomes = _judged(rule, props, settings(waiver), **kw)
    assert found and all("(waiver w does not apply: " in f for f in found), found
    assert {o.status for o in outcomes} == {"waiver-refused"} and all(
        o.blocking for o in outcomes)
    assert rule.level is Level.MANDATORY
    (invalid,) = harness.stack(VALID, [(kw.get("resource_type", CONTAINER),
                                        kw.get("name", "erp-auth-container"), props)],
                               settings(waiver))
    assert invalid.message.startswith("waiver w is invalid: ") and "never waivable" in \
        invalid.message, invalid.message


def _waived(harness, rule, props, waiver, **kw) -> None:
    found, outcomes = _judged(rule, props, settings(waiver), **kw)
    assert found == [] and [o.status for o in outcomes] == ["waived"], outcomes
    assert harness.stack(VALID, [(kw.get("resource_type", CONTAINER),
                                  kw.get("name", "erp-auth-container"), props)],
                         settings(waiver)) == []


# --- privileged -------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["core", "business", "platform", "infra", None])
def test_privileged_is_never_waivable_for_any_service(harness, group):
    props = labelled("auth", group, privileged=True)
    _refused(harness, no_privileged.RULE, props,
             entry(no_privileged.RULE.name, "auth", "privileged"))


def test_privileged_kubernetes_container_is_never_waivable(harness):
    props = deployment(securityContext={"privileged": True})
    _refused(harness, no_privileged.RULE, props,
             entry(no_privileged.RULE.name, "auth", "auth/privileged"),
             resource_type=K8S_DEPLOYMENT, name="auth")


def test_a_privileged_waiver_is_invalid_even_before_anything_is_privileged(harness):
    (invalid,) = harness.stack(VALID, [], settings(
        entry(no_privileged.RULE.name, "auth", "privileged")))
    assert invalid.message == ("waiver w is invalid: no-privileged on auth about privileged is "
                               "never waivable: a privileged container is root on the host")


# --- the container runtime socket --------------------------------------------------------------

SOCKET = "/var/run/docker.sock"
MOUNTS = no_host_mounts.RULE


@pytest.mark.parametrize("props", [
    {"mounts": [{"type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": False}]},
    {"mounts": [{"type": "bind", "source": SOCKET, "target": SOCKET}]},  # default: writable
    {"volumes": [{"hostPath": SOCKET, "containerPath": SOCKET}]},
    {"volumes": [{"hostPath": SOCKET, "containerPath": SOCKET, "readOnly": False}]},
    # read-only once, read-write again: the writable one decides
    {"mounts": [{"type": "bind", "source": SOCKET, "target": "/a", "readOnly": True},
                {"type": "bind", "source": SOCKET, "target": "/b", "readOnly": False}]},
], ids=["mount-rw", "mount-default", "volume-default", "volume-rw", "ro-and-rw"])
@pytest.mark.parametrize("group", ["platform", "core"])
def test_a_read_write_docker_socket_is_never_waivable(harness, props, group):
    container_props = labelled("traefik", group, **props)
    found, _ = _judged(MOUNTS, container_props, settings(), name="erp-traefik-container")
    assert found, "the rule must see the socket"
    _refused(harness, MOUNTS, container_props, entry(MOUNTS.name, "traefik", SOCKET),
             name="erp-traefik-container")


@pytest.mark.parametrize("path", ["/run/containerd/containerd.sock", "/run/podman/podman.sock",
                                  "/var/run", "/run/containerd"])  # directories holding one
def test_other_runtime_sockets_read_write_are_never_waivable(harness, path):
    props = labelled("traefik", "platform", mounts=[
        {"type": "bind", "source": path, "target": path, "readOnly": False}])
    _refused(harness, MOUNTS, props, entry(MOUNTS.name, "traefik", path),
             name="erp-traefik-container")


def test_a_kubernetes_host_path_socket_is_never_waivable(harness):
    props = changed(deployment(), "spec.template.spec.volumes",
                    [{"name": "sock", "hostPath": {"path": SOCKET}}])
    _refused(harness, MOUNTS, props, entry(MOUNTS.name, "auth", SOCKET),
             resource_type=K8S_DEPLOYMENT, name="auth")


def test_a_read_only_socket_for_the_edge_proxy_stays_waivable(harness):
    props = labelled("traefik", "platform", mounts=[
        {"type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": True}])
    _waived(harness, MOUNTS, props, entry(MOUNTS.name, "traefik", SOCKET),
            name="erp-traefik-container")


# --- host PID and host network ------------------------------------------------------------------

NAMESPACES = no_host_namespaces.RULE


@pytest.mark.parametrize("key", ["pidMode", "networkMode"])
@pytest.mark.parametrize("group", ["core", "business", "edge", None])
def test_host_pid_or_network_for_an_app_service_is_never_waivable(harness, key, group):
    props = labelled("auth", group, **{key: "host"})
    _refused(harness, NAMESPACES, props, entry(NAMESPACES.name, "auth", key))


@pytest.mark.parametrize("key", ["pidMode", "networkMode"])
@pytest.mark.parametrize("group", ["platform", "infra"])
def test_host_pid_or_network_for_infrastructure_is_waivable(harness, key, group):
    props = labelled("node-exporter", group, **{key: "host"})
    _waived(harness, NAMESPACES, props, entry(NAMESPACES.name, "node-exporter", key),
            name="erp-node-exporter-container")


def test_host_ipc_is_not_on_the_never_list(harness):
    # The issue names host PID and host network; IPC stays an ordinary, dated exception.
    props = labelled("auth", "core", ipcMode="host")
    _waived(harness, NAMESPACES, props, entry(NAMESPACES.name, "auth", "ipcMode"))


@pytest.mark.parametrize("labels, refused", [
    ({"app.kubernetes.io/name": "auth", "rampart.io/group": "core"}, True),
    ({"app.kubernetes.io/name": "auth"}, True),
    ({"app.kubernetes.io/name": "auth", "rampart.io/group": "platform"}, False),
    # the Kubernetes target writes the catalog group as the recommended component label
    ({"app.kubernetes.io/name": "auth", "app.kubernetes.io/component": "infra"}, False),
    ({"app.kubernetes.io/name": "auth", "app.kubernetes.io/component": "core"}, True),
])
def test_kubernetes_host_pid(harness, labels, refused):
    props = changed(deployment(), "spec.template.spec.hostPID", True)
    props = changed(props, "metadata.labels", labels)
    waiver = entry(NAMESPACES.name, "auth", "hostPID")
    check = _refused if refused else _waived
    check(harness, NAMESPACES, props, waiver, resource_type=K8S_DEPLOYMENT, name="auth")


def test_a_host_pid_waiver_for_an_app_service_is_invalid_before_the_finding_exists(harness):
    stack = settings(entry(NAMESPACES.name, "auth", "pidMode"))
    (invalid,) = harness.stack(VALID, [(CONTAINER, "erp-auth-container",
                                        labelled("auth", "core"))], stack)
    assert invalid.message == ("waiver w is invalid: no-host-namespaces on auth about pidMode "
                               "is never waivable: the host PID namespace is never waived for "
                               "an application service")


# --- the waiver rules themselves ----------------------------------------------------------------


@pytest.mark.parametrize("rule", [waivers.VALID_RULE.name, waivers.IN_FORCE_RULE.name])
def test_the_waiver_rules_cannot_be_waived(harness, rule):
    stack = settings(entry(rule, "stack", "w"),
                     {"id": "broken", "rule": "no-new-privileges"})
    found = harness.stack(VALID, [], stack)
    assert sorted(v.message.split(":")[0] for v in found) == [
        "waiver broken is invalid", "waiver w is invalid"]


def test_a_refused_waiver_is_not_listed_as_in_force(harness):
    stack = settings(entry(no_privileged.RULE.name, "auth", "privileged"),
                     entry(NAMESPACES.name, "auth", "pidMode", id="pid"))
    resources = [(CONTAINER, "erp-auth-container", labelled("auth", "core"))]
    assert harness.stack(waivers.IN_FORCE_RULE, resources, stack) == []
