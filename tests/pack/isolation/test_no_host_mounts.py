"""no-host-mounts: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import no_host_mounts

pytestmark = pytest.mark.unit
RULE = no_host_mounts.RULE
SOCKET_MOUNT = {"type": "bind", "source": "/var/run/docker.sock",
                "target": "/var/run/docker.sock", "readOnly": True}


def test_named_volumes_and_tmpfs_pass(harness):
    props = container(mounts=[{"type": "volume", "source": "data", "target": "/data"},
                              {"type": "tmpfs", "target": "/run"}])
    assert harness.resource(RULE, props) == []


@pytest.mark.parametrize("changes, expected", [
    ({"mounts": [{"type": "bind", "source": "/etc", "target": "/host-etc"}]},
     "mounts host path /etc at /host-etc"),
    ({"volumes": [{"hostPath": "/srv/data", "containerPath": "/data"}]},
     "mounts host path /srv/data at /data"),
    ({"mounts": [SOCKET_MOUNT]}, "runtime socket /var/run/docker.sock (read-only)"),
    ({"volumes": [{"hostPath": "/run/docker.sock", "containerPath": "/sock"}]},
     "runtime socket /run/docker.sock (read-write)"),
])
def test_host_paths_and_sockets_fail(harness, changes, expected):
    found = harness.resource(RULE, container(**changes))
    assert len(found) == 1 and expected in found[0], found


def test_no_mounts_at_all_passes(harness):
    assert harness.resource(RULE, container(mounts=None, volumes=None)) == []


def test_kubernetes_host_path_volume_fails(harness):
    props = deployment()
    props["spec"]["template"]["spec"]["volumes"] = [
        {"name": "logs", "hostPath": {"path": "/var/log"}}]
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "mounts host path /var/log at volume logs (spec.volumes[].hostPath)"]


def test_edge_proxy_socket_needs_a_waiver(harness):
    props = container(mounts=[SOCKET_MOUNT], labels=[
        {"label": "rampart.service", "value": "traefik"}])
    assert len(harness.resource(RULE, props, name="erp-traefik-container")) == 1
    waived = settings(waiver(RULE.name, "traefik", subject="/var/run/docker.sock",
                             reason="Docker provider (read-only)"))
    assert harness.resource(RULE, props, name="erp-traefik-container", stack=waived) == []
    expired = settings(waiver(RULE.name, "traefik", subject="/var/run/docker.sock",
                             expires="2026-06-30"))
    found = harness.resource(RULE, props, name="erp-traefik-container", stack=expired)
    assert found and "expired on 2026-06-30" in found[0]
