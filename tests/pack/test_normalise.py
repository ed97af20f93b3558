"""policies.normalise: the one layer that turns every spelling of a setting into the canonical
wire form the rules read. Examples here; tests/pack/test_normalise_properties.py
generates the spellings."""

from __future__ import annotations

import pytest
from policy_harness import container, deployment

from policies.core import CONTAINER, K8S_DEPLOYMENT, SECRET, UNKNOWN, Plain
from policies.normalise import (
    DOCKER_VOLUME,
    Normalised,
    docker_user,
    host_path,
    image_ref,
    mode,
    normalise,
    to_bool,
    to_int,
    uid_of,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [True, "true", "True", "TRUE", " yes ", "1", "on", "y", 1])
def test_true_spellings(value):
    assert to_bool(value, unsafe=False) is True


@pytest.mark.parametrize("value", [False, "false", "False", "no", "0", "off", "", 0])
def test_false_spellings(value):
    assert to_bool(value, unsafe=True) is False


@pytest.mark.parametrize("value, unsafe", [("maybe", True), (SECRET, True), ([1], False)])
def test_unreadable_flags_take_the_unsafe_reading(value, unsafe):
    assert to_bool(value, unsafe) is unsafe


def test_missing_and_unknown_flags_stay_as_they_are():
    assert to_bool(None, True) is None
    assert to_bool(UNKNOWN, True) is UNKNOWN


@pytest.mark.parametrize("value, expected", [
    ("0", 0), ("00", 0), (" 0", 0), ("+0", 0), ("-0", 0), (0.0, 0), ("1000", 1000),
    ("0x0", "0x0"), ("abc", "abc"), (True, True)])
def test_integers(value, expected):
    assert to_int(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("0", "0"), ("00", "0"), ("0000", "0"), ("0:0", "0:0"), ("00:00", "0:0"),
    ("root", "0"), ("root:root", "0:0"), ("ROOT", "0"), ("+0", "0"), (" 0", "0"), (0, "0"),
    ("1000:1000", "1000:1000"), ("nobody", "nobody"), ("  ", None), ("", None),
    (SECRET, SECRET)])
def test_docker_user_resolution(value, expected):
    assert docker_user(value) == expected


def test_uid_of_names_and_numbers():
    assert uid_of("root") == 0 and uid_of(" 0 ") == 0 and uid_of("node") == "node"


@pytest.mark.parametrize("value, expected", [
    ("HOST", "host"), (" Host ", "host"), ("container:Traefik", "container:Traefik"),
    ("erp-Backend", "erp-Backend"), ("NONE", "none")])
def test_namespace_modes(value, expected):
    assert mode(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("/var/run/docker.sock", "/var/run/docker.sock"),
    ("//var/run//docker.sock/", "/var/run/docker.sock"),
    ("/var/run/./docker.sock", "/var/run/docker.sock"),
    ("/var/lib/../run/docker.sock", "/var/run/docker.sock"),
    (" /etc ", "/etc"), ("\\\\.\\pipe\\docker_engine", "/pipe/docker_engine")])
def test_host_paths(value, expected):
    assert host_path(value) == expected


@pytest.mark.parametrize("value, expected", [
    (" postgres:16.4 ", "postgres:16.4"),
    ("redis@SHA256:" + "A" * 64, "redis@sha256:" + "a" * 64),
    ("redis:7.2.5 @ sha256:" + "b" * 64, "redis:7.2.5@sha256:" + "b" * 64)])
def test_image_references(value, expected):
    assert image_ref(value) == expected


def test_container_keys_values_and_equivalent_fields():
    props = normalise(CONTAINER, {
        "Privileged": "True", "NetworkMode": "HOST", "pid": "Host", "read_only": "yes",
        "User": "00:00", "environment": {"A": "1"}, "entrypoint": "sh -c 'echo hi'",
        "Mounts": [{"Type": "BIND", "Source": "//var/run/docker.sock", "Target": "/s",
                    "ReadOnly": "false"}],
        "volumes": ["/etc:/host-etc:ro", "data:/data"],
        "devices": ["/dev/sda:/dev/xvda:rwm"],
        "labels": {"rampart.service": "x"},
        "cap_add": "net_admin", "security_opt": ["No-New-Privileges=True"],
        "healthCheck": {"test": "redis-cli ping"},
        "somethingElse": 1})
    assert props["privileged"] is True
    assert props["networkMode"] == "host" and props["pidMode"] == "host"
    assert props["readOnly"] is True and props["user"] == "0:0"
    assert props["envs"] == ["A=1"]
    assert props["entrypoints"] == ["sh", "-c", "echo hi"]
    assert props["mounts"] == [{"type": "bind", "source": "/var/run/docker.sock",
                                "target": "/s", "readOnly": False}]
    assert props["volumes"] == [
        {"hostPath": "/etc", "containerPath": "/host-etc", "readOnly": True},
        {"volumeName": "data", "containerPath": "/data", "readOnly": False}]
    assert props["devices"] == [
        {"hostPath": "/dev/sda", "containerPath": "/dev/xvda", "permissions": "rwm"}]
    assert props["labels"] == [{"label": "rampart.service", "value": "x"}]
    assert props["capabilities"] == {"adds": ["NET_ADMIN"]}
    assert props["securityOpts"] == ["no-new-privileges:true"]
    assert props["healthcheck"] == {"tests": ["CMD-SHELL", "redis-cli ping"]}
    assert props["somethingElse"] == 1


def test_the_host_network_by_name_is_host_networking():
    props = normalise(CONTAINER, container(networksAdvanced=[{"name": "erp-backend"},
                                                             {"Name": "HOST"}]))
    assert props["networkMode"] == "host"


def test_a_local_volume_bound_to_a_host_directory_is_a_bind():
    props = normalise(CONTAINER, container(mounts=[{
        "type": "volume", "target": "/data",
        "volumeOptions": {"driverName": "local",
                          "driverOptions": {"type": "none", "o": "bind", "device": "/etc/"}}}]))
    assert props["mounts"][0]["type"] == "bind" and props["mounts"][0]["source"] == "/etc"
    volume = normalise(DOCKER_VOLUME, {"Driver": "LOCAL", "DriverOpts": {"O": "bind"}})
    assert volume["driver"] == "local" and volume["driverOpts"] == {"o": "bind"}


def test_worst_spelling_wins_when_a_setting_is_given_twice():
    props = normalise(CONTAINER, container(privileged=False, Privileged="yes", user="1000",
                                           USER="root", readOnly=True, read_only="no"))
    assert props["privileged"] is True and props["user"] == "0" and props["readOnly"] is False


def test_lists_given_twice_are_judged_together():
    props = normalise(CONTAINER, container(mounts=[{"type": "tmpfs", "target": "/t"}],
                                           Mounts=[{"type": "bind", "source": "/etc",
                                                    "target": "/e"}]))
    assert [m["type"] for m in props["mounts"]] == ["tmpfs", "bind"]


def test_kubernetes_pod_context_is_inherited_and_values_coerced():
    props = deployment(SecurityContext={"Privileged": "true", "RunAsUser": "0"})
    spec = props["spec"]["template"]["spec"]
    spec.update(HostNetwork="yes", hostPID="1")
    spec["securityContext"] = {"runAsUser": "00", "runAsNonRoot": "true"}
    spec["initContainers"] = [{"name": "init", "image": "busybox:1.36.1"}]
    out = normalise(K8S_DEPLOYMENT, props)["spec"]["template"]["spec"]
    assert out["hostNetwork"] is True and out["hostPID"] is True
    app, init = out["containers"][0], out["initContainers"][0]
    assert app["securityContext"]["privileged"] is True
    assert app["securityContext"]["runAsUser"] == 0
    assert init["securityContext"] == {"runAsUser": 0, "runAsNonRoot": True}


@pytest.mark.parametrize("token, path", [
    ("kubernetes:apps/v1:DeploymentPatch", ("spec", "template", "spec")),
    ("kubernetes:apps/v1beta2:StatefulSet", ("spec", "template", "spec")),
    ("kubernetes:batch/v1:Job", ("spec", "template", "spec")),
    ("kubernetes:batch/v1:CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
    ("kubernetes:core/v1:PodPatch", ("spec",))])
def test_every_kind_carrying_a_pod_spec_is_normalised(token, path):
    spec: dict = {"hostPID": "true"}
    props: dict = spec
    for step in reversed(path):
        props = {step: props}
    out = normalise(token, props)
    for step in path:
        out = out[step]
    assert out["hostPID"] is True


def test_normal_form_is_idempotent_and_cached_per_plain_input():
    raw = Plain(container(Privileged="1"))
    first = normalise(CONTAINER, raw)
    assert isinstance(first, Normalised) and normalise(CONTAINER, raw) is first
    assert normalise(CONTAINER, first) is first


def test_unknown_values_are_left_for_later():
    props = normalise(CONTAINER, container(privileged=UNKNOWN, user=UNKNOWN, mounts=UNKNOWN))
    assert props["privileged"] is UNKNOWN and props["user"] is UNKNOWN
    assert props["mounts"] is UNKNOWN


def test_a_copy_of_a_plain_input_is_normalised_again():
    import copy

    raw = Plain(container(privileged=False))
    assert normalise(CONTAINER, raw)["privileged"] is False
    copied = copy.deepcopy(raw)
    copied["privileged"] = "yes"
    assert normalise(CONTAINER, copied)["privileged"] is True


def test_kubernetes_host_path_given_as_a_bare_string():
    props = deployment()
    props["spec"]["template"]["spec"]["volumes"] = [{"name": "h", "hostPath": "/etc//"}]
    out = normalise(K8S_DEPLOYMENT, props)["spec"]["template"]["spec"]
    assert out["volumes"] == [{"name": "h", "hostPath": {"path": "/etc"}}]


def test_spellings_in_different_forms_join_into_one_list():
    props = normalise(CONTAINER, container(envs=["A=1"], Environment={"B": "2"},
                                           volumes=[{"volumeName": "v", "containerPath": "/v"}],
                                           Volumes=["/etc:/e"]))
    assert props["envs"] == ["A=1", "B=2"]
    assert [v.get("hostPath") for v in props["volumes"]] == [None, "/etc"]


# --- Kubernetes: the API server reads field names exactly ---------------------------------------


def _k8s_pod(container_changes=None, **pod_changes):
    props = deployment(**(container_changes or {}))
    spec = props["spec"]["template"]["spec"]
    for key, value in pod_changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return normalise(K8S_DEPLOYMENT, props)["spec"]["template"]["spec"]


def test_kubernetes_safe_claims_count_only_under_their_exact_key():
    sc = {"AllowPrivilegeEscalation": False, "readonlyrootfilesystem": True,
          "run_as_non_root": True, "RunAsUser": 1000,
          "Capabilities": {"drop": ["ALL"]}, "SeccompProfile": {"type": "RuntimeDefault"}}
    out = _k8s_pod({"securityContext": sc}, securityContext=None)
    assert out["containers"][0]["securityContext"] == {}


def test_kubernetes_unsafe_values_count_under_any_key():
    sc = {"allowPrivilegeEscalation": False, "AllowPrivilegeEscalation": "true",
          "Privileged": "yes", "RunAsUser": "00", "runAsUser": 1000,
          "capabilities": {"drop": ["ALL"], "ADD": ["sys_admin"]},
          "seccompProfile": {"type": "RuntimeDefault"}, "SeccompProfile": {"Type": "unconfined"}}
    got = _k8s_pod({"securityContext": sc})["containers"][0]["securityContext"]
    assert got["allowPrivilegeEscalation"] is True and got["privileged"] is True
    assert got["runAsUser"] == 0
    assert got["capabilities"] == {"add": ["sys_admin"], "drop": ["ALL"]}
    assert got["seccompProfile"] == {"type": "unconfined"}


def test_kubernetes_a_misspelled_security_context_claims_nothing_but_its_dangers_count():
    out = _k8s_pod({"securityContext": None, "SecurityContext": {
        "allowPrivilegeEscalation": False, "privileged": True}})
    assert out["containers"][0]["securityContext"]["privileged"] is True
    assert "allowPrivilegeEscalation" not in out["containers"][0]["securityContext"]


def test_kubernetes_capability_names_and_seccomp_types_keep_their_spelling():
    sc = {"capabilities": {"drop": ["all"], "add": ["CAP_NET_BIND_SERVICE", " NET_RAW"]},
          "seccompProfile": {"type": "runtimedefault"}}
    got = _k8s_pod({"securityContext": sc})["containers"][0]["securityContext"]
    assert got["capabilities"] == {"drop": ["all"], "add": ["CAP_NET_BIND_SERVICE", " NET_RAW"]}
    assert got["seccompProfile"] == {"type": "runtimedefault"}


def test_kubernetes_a_container_overrides_the_pods_settings_only_under_exact_keys():
    pod_sc = {"runAsUser": 0, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    out = _k8s_pod({"securityContext": {"RunAsUser": 1000, "runAsUser": None}},
                   securityContext=pod_sc)
    assert out["containers"][0]["securityContext"]["runAsUser"] == 0  # the pod's, inherited


def test_kubernetes_pod_claims_and_presence_claims_need_their_exact_key():
    out = _k8s_pod({"Resources": {"limits": {"cpu": "1"}}, "resources": None,
                    "ReadinessProbe": {"exec": {"command": ["true"]}}, "readinessProbe": None,
                    "VolumeMounts": [{"name": "x", "mountPath": "/x"}]},
                   automountServiceAccountToken=None, AutomountServiceAccountToken=False,
                   serviceAccountName=None, ServiceAccountName="locked")
    c = out["containers"][0]
    assert "resources" not in c and "readinessProbe" not in c and "volumeMounts" not in c
    assert "automountServiceAccountToken" not in out and "serviceAccountName" not in out
    assert _k8s_pod(automountServiceAccountToken="True")["automountServiceAccountToken"] is True
    assert _k8s_pod(AutomountServiceAccountToken=1)["automountServiceAccountToken"] is True
