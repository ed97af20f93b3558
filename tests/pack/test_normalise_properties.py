"""Property tests: every equivalent spelling of a forbidden setting is caught by the pack.

Hypothesis generates the spellings a crafted `pulumi preview` could send (booleans as strings,
keys in any case or style, enum values in any case, equivalent fields, any numeric spelling
of uid 0, floating image tags) into an otherwise compliant resource, and runs the whole pack
through `infra.offline.evaluate.evaluate`, the entry `rampart policy check` uses, which calls
every pulumi-policy policy with `ResourceValidationArgs`/`StackValidationArgs` as the engine
does. Each property says which rule must report the resource; the negative properties say
that the safe spellings of the same settings stay compliant.

Examples are derandomised (the same cases on every run, CI included); raise
RAMPART_HYPOTHESIS_EXAMPLES to explore more.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pack_spellings import FALSE, TRUE, cased, spelled, zero
from policy_harness import CONTAINER_PROPS, DEPLOYMENT_PROPS, urn

from infra.offline.evaluate import evaluate
from policies import registry
from policies.core import CONTAINER, K8S_DEPLOYMENT, Plain, Resource
from policies.settings import StackSettings

pytestmark = pytest.mark.unit

EXAMPLES = int(os.environ.get("RAMPART_HYPOTHESIS_EXAMPLES", "150"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
STACK = StackSettings(stack="test", today=dt.date(2026, 11, 23))


# ---------------------------------------------------------------------------------------------
# Running the pack


# Stack rules about what a one-resource stack lacks (a Prometheus, a default-deny policy) are
# left out; every resource rule runs.
RESOURCE_RULES = [r for r in registry.RULES if not r.is_stack_rule]


def violations(props: Mapping[str, Any], resource_type: str = CONTAINER,
               name: str = "erp-auth-container") -> dict[str, list[str]]:
    """{rule: [messages]} the pack reports for one resource (waived ones excluded)."""
    resource = Resource(resource_type, name, urn(resource_type, name), Plain(props))
    found: dict[str, list[str]] = {}
    for outcome in evaluate([resource], STACK, RESOURCE_RULES):
        if outcome.status != "waived" and outcome.rule.level.value == "mandatory":
            found.setdefault(outcome.rule.name, []).append(outcome.message)
    return found


def baseline() -> dict[str, Any]:
    return copy.deepcopy(CONTAINER_PROPS)


def test_the_baselines_are_compliant():
    assert violations(baseline()) == {}
    assert violations(copy.deepcopy(DEPLOYMENT_PROPS), K8S_DEPLOYMENT, "auth") == {}


# ---------------------------------------------------------------------------------------------
# Spellings


@st.composite
def with_setting(draw: st.DrawFn, key: str, value: Any,
                 base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The baseline with `key` set to `value` under a generated spelling; the canonical
    key is kept with its safe value, or removed (both must be caught)."""
    props = base if base is not None else baseline()
    name = draw(spelled(key))
    if name != key and draw(st.booleans()):
        props.pop(key, None)
    props[name] = value
    return props


# ---------------------------------------------------------------------------------------------
# Privileged


@PROPERTY
@given(st.data())
def test_privileged_in_any_spelling_is_caught(data):
    props = data.draw(with_setting("privileged", data.draw(TRUE)))
    assert "no-privileged" in violations(props), props


@PROPERTY
@given(st.data())
def test_unprivileged_in_any_spelling_passes(data):
    props = data.draw(with_setting("privileged", data.draw(FALSE)))
    assert "no-privileged" not in violations(props), props


@PROPERTY
@given(st.data())
def test_kubernetes_privileged_in_any_spelling_is_caught(data):
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    spec = props["spec"]["template"]["spec"]
    key = data.draw(st.sampled_from(["containers", "initContainers"]))
    c = {"name": "x", "image": "busybox:1.36.1",
         data.draw(spelled("securityContext")): {data.draw(spelled("privileged")):
                                                data.draw(TRUE)}}
    spec.setdefault(key, []).append(c)
    assert "no-privileged" in violations(props, K8S_DEPLOYMENT, "auth"), spec


# ---------------------------------------------------------------------------------------------
# Host namespaces


@st.composite
def host_network(draw: st.DrawFn) -> dict[str, Any]:
    props = baseline()
    how = draw(st.sampled_from(["networkMode", "networksAdvanced", "networks"]))
    if how == "networkMode":
        return draw(with_setting("networkMode", draw(cased("host")), props))
    if how == "networksAdvanced":
        props[draw(spelled("networksAdvanced"))] = [
            {"name": "erp-backend"}, {draw(spelled("name")): draw(cased("host"))}]
        return props
    props["networks"] = [draw(cased("host"))]
    return props


@PROPERTY
@given(host_network())
def test_host_network_in_any_spelling_is_caught(props):
    found = violations(props)
    assert any("host network namespace" in m for m in found.get("no-host-namespaces", [])), props


@PROPERTY
@given(st.data())
def test_host_pid_and_ipc_in_any_spelling_are_caught(data):
    key = data.draw(st.sampled_from(["pidMode", "ipcMode"]))
    props = data.draw(with_setting(key, data.draw(cased("host"))))
    assert "no-host-namespaces" in violations(props), props


@PROPERTY
@given(st.data())
def test_kubernetes_host_namespaces_in_any_spelling_are_caught(data):
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    key = data.draw(st.sampled_from(["hostNetwork", "hostPID", "hostIPC"]))
    props["spec"]["template"]["spec"][data.draw(spelled(key))] = data.draw(TRUE)
    assert "no-host-namespaces" in violations(props, K8S_DEPLOYMENT, "auth"), props


# ---------------------------------------------------------------------------------------------
# Host paths: mounts, volumes, devices; the runtime socket read-write


SOCKET_SPELLINGS = st.sampled_from([
    "/var/run/docker.sock", "/run/docker.sock", "//var/run//docker.sock", "/var/run/./docker.sock",
    "/run/docker.sock/", "/var/lib/../run/docker.sock", " /var/run/docker.sock ", "/var/run",
    "/run", "/run/containerd/containerd.sock", "/run/user/1000/docker.sock"])
HOST_DIRS = st.from_regex(r"/(etc|srv|home|root|opt|var/lib)(/[a-z0-9]{1,8}){0,2}/?",
                          fullmatch=True)


@st.composite
def host_path_mount(draw: st.DrawFn, path: str, read_only: Any) -> dict[str, Any]:
    """`path` mounted into the baseline by one of the equivalent fields."""
    props = baseline()
    target = "/mnt/x"
    how = draw(st.sampled_from(["mount", "volume", "volume-string", "local-bind"]))
    if how == "mount":
        m = {draw(spelled("type")): draw(cased("bind")), draw(spelled("source")): path,
             draw(spelled("target")): target}
        if read_only is not None:
            m[draw(spelled("readOnly"))] = read_only
        props[draw(spelled("mounts"))] = [m]
    elif how == "volume":
        v = {draw(spelled("hostPath")): path, draw(spelled("containerPath")): target}
        if read_only is not None:
            v[draw(spelled("readOnly"))] = read_only
        props[draw(spelled("volumes"))] = [v]
    elif how == "volume-string":
        props["volumes"] = [f"{path.strip()}:{target}" + (":ro" if read_only is True else "")]
    else:
        m = {"type": "volume", "target": target, "volumeOptions": {"driverOptions": {
            "type": "none", "o": draw(st.sampled_from(["bind", "rbind,bind", "BIND"])),
            "device": path}}}
        if read_only is not None:
            m["readOnly"] = read_only
        props["mounts"] = [m]
    return props


@PROPERTY
@given(st.data())
def test_read_write_runtime_socket_in_any_spelling_is_caught(data):
    path = data.draw(SOCKET_SPELLINGS)
    read_only = data.draw(st.one_of(st.none(), FALSE))
    props = data.draw(host_path_mount(path, read_only))
    found = violations(props).get("no-host-mounts", [])
    assert any("runtime socket" in m and "(read-write)" in m for m in found), (props, found)


@PROPERTY
@given(st.data())
def test_host_path_mounts_in_any_spelling_are_caught(data):
    path = data.draw(HOST_DIRS)
    read_only = data.draw(st.one_of(st.none(), TRUE, FALSE))
    props = data.draw(host_path_mount(path, read_only))
    assert "no-host-mounts" in violations(props), props


@PROPERTY
@given(st.data())
def test_devices_in_any_spelling_are_caught(data):
    device = data.draw(st.from_regex(r"/dev/(sd[a-c]|nvme0n1|kvm|fuse|mem)", fullmatch=True))
    entry = data.draw(st.one_of(
        st.just({"hostPath": device, "containerPath": device, "permissions": "rwm"}),
        st.just(f"{device}:{device}:rwm"), st.just(device)))
    props = data.draw(with_setting("devices", [entry]))
    found = violations(props).get("no-host-mounts", [])
    assert any("host device" in m for m in found), props


@PROPERTY
@given(st.data())
def test_kubernetes_host_path_volumes_in_any_spelling_are_caught(data):
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    path = data.draw(st.one_of(HOST_DIRS, SOCKET_SPELLINGS))
    props["spec"]["template"]["spec"][data.draw(spelled("volumes"))] = [
        {"name": "h", data.draw(spelled("hostPath")): {data.draw(spelled("path")): path}}]
    assert "no-host-mounts" in violations(props, K8S_DEPLOYMENT, "auth"), props


# ---------------------------------------------------------------------------------------------
# Root


@st.composite
def root_user(draw: st.DrawFn) -> Any:
    uid = draw(zero())
    group = draw(st.one_of(st.none(), zero(), st.sampled_from(["1000", "nogroup", "0"])))
    if group is None:
        return draw(st.sampled_from([uid, 0])) if uid.strip() in ("0", "00") else uid
    return f"{uid}:{group}"


@PROPERTY
@given(st.data())
def test_root_user_in_any_spelling_is_caught(data):
    props = data.draw(with_setting("user", data.draw(root_user())))
    assert "container-runs-as-non-root" in violations(props), props


@PROPERTY
@given(st.sampled_from([None, "", "   "]), st.booleans())
def test_missing_user_is_caught(user, drop):
    props = baseline()
    if drop:
        props.pop("user")
    else:
        props["user"] = user
    assert "container-runs-as-non-root" in violations(props), props


@PROPERTY
@given(st.integers(1, 2**31 - 1), st.one_of(st.none(), st.integers(0, 65535)))
def test_non_root_uids_pass(uid, gid):
    props = baseline()
    props["user"] = str(uid) if gid is None else f"{uid}:{gid}"
    assert "container-runs-as-non-root" not in violations(props), props


@PROPERTY
@given(st.data())
def test_kubernetes_uid_zero_in_any_spelling_is_caught(data):
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    spec = props["spec"]["template"]["spec"]
    where = data.draw(st.sampled_from(["pod", "container"]))
    target = spec if where == "pod" else spec["containers"][0]
    uid = data.draw(st.one_of(st.just(0), zero()))
    # The container's own runAsUser overrides the pod's: only the pod's is left to inherit.
    spec["containers"][0]["securityContext"].pop("runAsUser", None)
    target[data.draw(spelled("securityContext"))] = {
        **target.get("securityContext", {}), data.draw(spelled("runAsUser")): uid}
    assert "run-as-non-root" in violations(props, K8S_DEPLOYMENT, "auth"), props


# ---------------------------------------------------------------------------------------------
# Images


REPOSITORIES = st.sampled_from(["postgres", "docker.io/library/redis", "quay.io/minio/minio",
                                "registry.local:5000/erp/auth", "ghcr.io/erp/api-gateway"])
VARIANTS = st.sampled_from(["alpine", "alpine3.20", "bookworm", "management", "slim-bookworm",
                            "alpine3.20-perl", "debian-12"])


@st.composite
def floating_tag(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["major", "v-major", "major-variant", "word"]))
    major = str(draw(st.integers(0, 30)))
    if kind == "major":
        return major
    if kind == "v-major":
        return "v" + major
    if kind == "major-variant":
        return f"{major}-{draw(VARIANTS)}"
    return draw(st.sampled_from(["latest", "Latest", "LATEST", "stable", "lts", "edge",
                                 "mainline", "alpine", "current", "rolling"]))


@st.composite
def floating_image(draw: st.DrawFn) -> str:
    repo = draw(REPOSITORIES)
    how = draw(st.sampled_from(["tag", "no-tag", "bad-digest", "spaces"]))
    if how == "no-tag":
        return repo
    if how == "bad-digest":
        return f"{repo}:{draw(floating_tag())}@sha256:" + "a" * draw(st.integers(0, 63))
    ref = f"{repo}:{draw(floating_tag())}"
    return f"  {ref} " if how == "spaces" else ref


@st.composite
def pinned_image(draw: st.DrawFn) -> str:
    repo = draw(REPOSITORIES)
    version = ".".join(str(draw(st.integers(0, 30))) for _ in range(draw(st.integers(2, 3))))
    tag = draw(st.sampled_from(["", "v"])) + version
    if draw(st.booleans()):
        tag += "-" + draw(VARIANTS)
    digest = draw(st.sampled_from(["", "@sha256:" + "c" * 64, "@SHA256:" + "C" * 64]))
    return f"{repo}:{tag}{digest}"


@PROPERTY
@given(st.data())
def test_floating_images_are_caught(data):
    props = data.draw(with_setting("image", data.draw(floating_image())))
    assert "image-pinned" in violations(props), props


@PROPERTY
@given(st.data())
def test_kubernetes_floating_images_are_caught(data):
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    c = props["spec"]["template"]["spec"]["containers"][0]
    c.pop("image")
    c[data.draw(spelled("image"))] = data.draw(floating_image())
    assert "image-pinned" in violations(props, K8S_DEPLOYMENT, "auth"), props


@PROPERTY
@given(pinned_image())
def test_exact_versions_and_digests_pass(image):
    props = baseline()
    props["image"] = image
    assert "image-pinned" not in violations(props), image


# ---------------------------------------------------------------------------------------------
# Literal secrets: env, command, entrypoints, health check, labels


# The "Q9" prefix keeps a value from being a piece of a field name or of the rule's text
# (a value drawn as 'entrypoi' is "in" the message `entrypoints[2] holds …` without any leak).
SECRET_VALUES = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
                        min_size=8, max_size=24).map(lambda v: f"Q9{v}")
CREDENTIAL_NAMES = st.sampled_from([
    "POSTGRES_PASSWORD", "POSTGRES_PWD", "SMTP_PASS", "JWT_KEY", "JWT_SECRET", "API_TOKEN",
    "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "PEPPER",
    "RABBITMQ_DEFAULT_PASS", "DB_PASSWD", "AWS_SECRET_ACCESS_KEY"])


@st.composite
def credential_name(draw: st.DrawFn) -> str:
    """A credential variable in snake, kebab, dotted or camel case, any letter case."""
    name = draw(CREDENTIAL_NAMES)
    words = name.lower().split("_")
    style = draw(st.sampled_from(["upper", "lower", "camel", "kebab", "dotted"]))
    if style == "upper":
        return name
    if style == "lower":
        return name.lower()
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return ("-" if style == "kebab" else ".").join(words)


@st.composite
def env_with_secret(draw: st.DrawFn, value: str) -> dict[str, Any]:
    props = baseline()
    name = draw(credential_name())
    how = draw(st.sampled_from(["list", "mapping", "name-value", "url"]))
    if how == "url":
        name, text = "DATABASE_URL", f"postgres://erp:{value}@postgres:5432/erp"
    else:
        text = value
    if how == "mapping":
        env: Any = {"NODE_ENV": "production", name: text}
    elif how == "name-value":
        env = [{"name": "NODE_ENV", "value": "production"}, {"name": name, "value": text}]
    else:
        env = ["NODE_ENV=production", f"{name}={text}"]
    props.pop("envs")
    props[draw(st.sampled_from(["envs", "Envs", "env", "environment", "ENV"]))] = env
    return props


@st.composite
def argv_with_secret(draw: st.DrawFn, value: str) -> list[str]:
    form = draw(st.sampled_from(["flag=", "flag pair", "redis-cli", "mysql", "url", "shell"]))
    if form == "flag=":
        flag = draw(st.sampled_from(["password", "es.password", "db-password", "api-key",
                                     "token", "client-secret", "auth.key"]))
        return ["/bin/app", f"--{flag}={value}"]
    if form == "flag pair":
        return ["redis-server", draw(st.sampled_from(["--requirepass", "--masterauth",
                                                      "--api-key", "--password"])), value]
    if form == "redis-cli":
        return ["redis-cli", "-a", value, "ping"]
    if form == "mysql":
        return ["mysqladmin", f"-p{value}", "ping"]
    if form == "url":
        return ["/bin/app", "--db", f"postgres://erp:{value}@postgres:5432/erp"]
    return ["/bin/sh", "-c", f"PGPASSWORD={value} pg_isready -h postgres"]


@st.composite
def resource_with_secret(draw: st.DrawFn, value: str) -> dict[str, Any]:
    where = draw(st.sampled_from(["env", "command", "entrypoints", "split", "healthcheck",
                                  "healthcheck-shell", "labels"]))
    if where == "env":
        return draw(env_with_secret(value))
    props = baseline()
    argv = draw(argv_with_secret(value))
    if where in ("command", "entrypoints"):
        as_string = draw(st.booleans()) and argv[0] != "/bin/sh"
        props[draw(spelled(where))] = " ".join(argv) if as_string else argv
    elif where == "split":  # the program in the entrypoint, its arguments in the command
        props["entrypoints"], props["command"] = argv[:1], argv[1:]
    elif where == "healthcheck":
        props["healthcheck"] = {**props["healthcheck"], "tests": ["CMD", *argv]}
    elif where == "healthcheck-shell":
        shell = " ".join(argv[2:]) if argv[0] == "/bin/sh" else " ".join(argv)
        key = draw(spelled("healthcheck"))
        if key != "healthcheck" and draw(st.booleans()):
            props.pop("healthcheck")  # else both spellings are given
        props[key] = {draw(st.sampled_from(["tests", "test", "Test"])): ["CMD-SHELL", shell]}
    else:
        label = draw(st.one_of(credential_name(), st.just("backup.db-url")))
        text = value if label != "backup.db-url" else f"postgres://erp:{value}@db/erp"
        props["labels"] = [*props["labels"], {draw(spelled("label")): label,
                                              draw(spelled("value")): text}]
    return props


@PROPERTY
@given(st.data())
def test_literal_secrets_are_caught_wherever_they_reach_a_container(data):
    value = data.draw(SECRET_VALUES)
    props = data.draw(resource_with_secret(value))
    found = violations(props)
    secrets = found.get("no-literal-secret-env", []) + found.get("no-literal-secret-args", [])
    assert secrets, props
    assert not any(value in m for messages in found.values() for m in messages), found


@PROPERTY
@given(st.data())
def test_kubernetes_literal_secrets_are_caught(data):
    value = data.draw(SECRET_VALUES)
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    c = props["spec"]["template"]["spec"]["containers"][0]
    if data.draw(st.booleans()):
        key = data.draw(spelled("env"))
        if key != "env" and data.draw(st.booleans()):
            c.pop("env")  # else both spellings are given
        c[key] = [{"name": data.draw(credential_name()), "value": value}]
        rule = "no-literal-secret-env"
    else:
        argv = data.draw(argv_with_secret(value))
        c["command"], c[data.draw(spelled("args"))] = argv[:1], argv[1:]
        rule = "no-literal-secret-args"
    found = violations(props, K8S_DEPLOYMENT, "auth")
    assert rule in found, props
    assert not any(value in m for messages in found.values() for m in messages), found


@PROPERTY
@given(credential_name(), st.sampled_from(["/run/secrets/x", "$(cat /run/secrets/x)",
                                           "${DB_PASSWORD_FILE}", ""]))
def test_secret_files_and_references_pass(name, value):
    props = baseline()
    props["envs"] = ["NODE_ENV=production", f"{name}={value}"]
    props["command"] = ["/bin/app", f"--password-file={'/run/secrets/x'}"]
    found = violations(props)
    assert "no-literal-secret-env" not in found and "no-literal-secret-args" not in found, found
