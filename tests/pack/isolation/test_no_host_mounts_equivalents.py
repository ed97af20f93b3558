"""no-host-mounts over the fields equivalent to a bind mount (normalised by the pack):
devices, local-driver volumes bound to a host directory, directories holding a runtime
socket. Compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, settings, waiver

from policies.isolation import no_host_mounts
from policies.normalise import DOCKER_VOLUME

pytestmark = pytest.mark.unit
RULE = no_host_mounts.RULE


def test_named_volumes_without_bind_options_pass(harness):
    assert harness.resource(RULE, {"name": "erp-pg-data", "driver": "local"}, DOCKER_VOLUME,
                            "erp-postgres-data") == []
    assert harness.resource(RULE, {"name": "x", "driverOpts": {"type": "tmpfs",
                                                               "device": "tmpfs"}},
                            DOCKER_VOLUME, "x") == []


@pytest.mark.parametrize("props", [
    {"driver": "local", "driverOpts": {"type": "none", "o": "bind", "device": "/etc"}},
    {"Driver": "LOCAL", "DriverOpts": {"O": "rbind,bind", "Device": "/etc/"}},
])
def test_volume_resource_bound_to_a_host_directory_fails(harness, props):
    assert harness.resource(RULE, props, DOCKER_VOLUME, "erp-sneaky") == [
        "volume binds host path /etc (driver local, o=bind)"]


@pytest.mark.parametrize("path, socket", [
    ("/var/run", "/var/run/docker.sock"), ("/run/containerd", "/run/containerd/containerd.sock"),
    ("/run/", "/run/docker.sock")])
def test_directories_holding_a_runtime_socket_fail_as_the_socket(harness, path, socket):
    found = harness.resource(RULE, container(mounts=[
        {"type": "bind", "source": path, "target": "/host-run"}]))
    assert len(found) == 1 and f"which holds the container runtime socket {socket}" in found[0]
    assert "(read-write)" in found[0]


def test_host_root_is_a_host_path_not_a_socket(harness):
    found = harness.resource(RULE, container(volumes=[
        {"hostPath": "/", "containerPath": "/host", "readOnly": True}]))
    assert found == ["mounts host path / at /host"]


def test_devices_fail_and_missing_devices_pass(harness):
    assert harness.resource(RULE, container(devices=None)) == []
    assert harness.resource(RULE, container(devices=["/dev/kvm"])) == [
        "passes host device /dev/kvm into the container as /dev/kvm"]


def test_device_waiver_names_the_device(harness):
    props = container(devices=[{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse"}])
    assert harness.resource(RULE, props, stack=settings(
        waiver(RULE.name, "auth", subject="/dev/fuse"))) == []
    assert len(harness.resource(RULE, props, stack=settings(
        waiver(RULE.name, "auth", subject="/dev/kvm")))) == 1
