"""Property tests: the Kubernetes hardening rules hold for every spelling and every place.

Hypothesis generates, into an otherwise compliant object, each forbidden setting in the forms
a crafted program could send: every kind carrying pods (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Pod), every container list (containers, initContainers,
ephemeralContainers), the pod level and the container level (a container's own
securityContext overriding the pod's), booleans as strings and numbers, keys in any case.

Kubernetes is the one provider where a spelling is not a synonym: the API server reads field
names exactly and drops any other spelling. So an unsafe value is caught under every spelling
(`Privileged: "true"`), while a safe value counts only under the exact one: a misspelled
`allowPrivilegeEscalation: false`, `runAsNonRoot: true`, `drop: [ALL]`, `seccompProfile`,
`automountServiceAccountToken: false` or a non-root `runAsUser` overriding the pod's 0 claims
nothing, and must fail (policies/normalise.py). Capability names and seccomp types are compared
as Pod Security admission compares them: exactly. Each property runs the rule through the pack
wiring (normalisation included), as `pulumi preview` does.

Examples are derandomised (the same cases on every run, CI included); raise
RAMPART_HYPOTHESIS_EXAMPLES to explore more.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pack_spellings import FALSE, TRUE, cased, misspelled, spelled, zero
from policy_harness import (
    EDGE_NS,
    INGRESS_ROUTE_TYPE,
    K8S_MIDDLEWARES,
    K8S_TYPES,
    Harness,
    ingress_route,
    k8s_edge,
    namespace,
    pod_spec,
    service_account,
    tls_option,
    workload,
)

from policies import registry

pytestmark = pytest.mark.unit

EXAMPLES = int(os.environ.get("RAMPART_HYPOTHESIS_EXAMPLES", "100"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
KINDS = st.sampled_from(sorted(K8S_TYPES))
ROLES = st.sampled_from(["containers", "initContainers", "ephemeralContainers"])
ROLE_WORDS = {"containers": "container", "initContainers": "init container",
              "ephemeralContainers": "ephemeral container"}


def findings(rule_name: str, kind: str, spec: dict[str, Any]) -> list[str]:
    rule = registry.rule(rule_name)
    kind_type, name, props = workload(kind, spec)
    harness = Harness()
    if rule.is_stack_rule:
        stack = [namespace(), service_account(), (kind_type, name, props)]
        return [v.message for v in harness.stack(rule, stack)]
    return harness.resource(rule, props, kind_type, name)


def with_container(spec: dict[str, Any], role: str) -> dict[str, Any]:
    """A compliant container named `probe` added to `role`; returned for the test to spoil."""
    c = copy.deepcopy(spec["containers"][0])
    c["name"] = "probe"
    spec.setdefault(role, []).append(c)
    return c


@st.composite
def placed(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """(kind, role, pod spec, the added container) anywhere a container can be."""
    kind, role = draw(KINDS), draw(ROLES)
    spec = pod_spec()
    return kind, role, spec, with_container(spec, role)


def names_the_container(messages: list[str], role: str) -> bool:
    return any(m.startswith(f"{ROLE_WORDS[role]} probe ") for m in messages)


def set_sc(c: dict[str, Any], sc_key: str, key: str, value: Any) -> None:
    """`c[sc_key][key] = value`; under a misspelled `sc_key` the exact one is removed, so the
    object has only the spelling the test means."""
    if sc_key != "securityContext":
        c[sc_key] = c.pop("securityContext")
    c[sc_key][key] = value


# --- privileged, allowPrivilegeEscalation -----------------------------------------------------


@PROPERTY
@given(placed(), st.data())
def test_privileged_in_any_spelling_kind_and_container_is_refused(where, data):
    kind, role, spec, c = where
    set_sc(c, data.draw(spelled("securityContext")), data.draw(spelled("privileged")),
           data.draw(TRUE))
    found = findings("no-privileged", kind, spec)
    assert names_the_container(found, role), (kind, role, c, found)


@PROPERTY
@given(placed(), st.data())
def test_privilege_escalation_must_be_false_under_the_exact_key(where, data):
    kind, role, spec, c = where
    how = data.draw(st.sampled_from(["true", "missing", "misspelled key",
                                     "misspelled context"]))
    sc = c["securityContext"]
    if how == "true":
        sc.pop("allowPrivilegeEscalation")
        sc[data.draw(spelled("allowPrivilegeEscalation"))] = data.draw(TRUE)
    elif how == "missing":
        sc.pop("allowPrivilegeEscalation")
    elif how == "misspelled key":
        sc.pop("allowPrivilegeEscalation")
        sc[data.draw(misspelled("allowPrivilegeEscalation"))] = data.draw(FALSE)
    else:
        c[data.draw(misspelled("securityContext"))] = c.pop("securityContext")
    found = findings("no-new-privileges", kind, spec)
    assert names_the_container(found, role), (how, c, found)
    assert any("allowPrivilegeEscalation" in m for m in found)


@PROPERTY
@given(placed(), FALSE)
def test_privilege_escalation_false_in_any_value_spelling_passes(where, value):
    kind, _, spec, c = where
    c["securityContext"]["allowPrivilegeEscalation"] = value
    assert findings("no-new-privileges", kind, spec) == []


# --- capabilities -------------------------------------------------------------------------------


@st.composite
def not_all(draw: st.DrawFn) -> str:
    """Words for ALL that Pod Security admission does not read as ALL."""
    return draw(st.one_of(
        cased("all").filter(lambda w: w != "ALL"), st.sampled_from(["CAP_ALL", "cap_all",
                                                                   "*", "ALL ", " ALL"])))


@PROPERTY
@given(placed(), st.data())
def test_capabilities_must_drop_exactly_all(where, data):
    kind, role, spec, c = where
    caps = c["securityContext"]["capabilities"]
    how = data.draw(st.sampled_from(["word", "misspelled drop", "misspelled capabilities",
                                     "partial"]))
    if how == "word":
        caps["drop"] = [data.draw(not_all())]
    elif how == "misspelled drop":
        caps[data.draw(misspelled("drop"))] = caps.pop("drop")
    elif how == "misspelled capabilities":
        c["securityContext"][data.draw(misspelled("capabilities"))] = \
            c["securityContext"].pop("capabilities")
    else:
        caps["drop"] = data.draw(st.lists(st.sampled_from(["NET_RAW", "SYS_ADMIN", "CHOWN"]),
                                          min_size=1, max_size=3))
    found = findings("capabilities-dropped", kind, spec)
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe does not drop ALL") for m in found), \
        (how, c, found)


@PROPERTY
@given(placed(), st.data())
def test_only_net_bind_service_may_be_added_exactly(where, data):
    kind, role, spec, c = where
    added = data.draw(st.one_of(
        st.sampled_from(["SYS_ADMIN", "NET_RAW", "NET_ADMIN", "CHOWN", "SETUID", "ALL",
                         "CAP_NET_BIND_SERVICE", "net_bind_service", "CAP_SYS_ADMIN"]),
        cased("sys_admin"), cased("net_bind_service").filter(
            lambda w: w != "NET_BIND_SERVICE")))
    caps = c["securityContext"]["capabilities"]
    caps[data.draw(spelled("add"))] = ["NET_BIND_SERVICE", added]
    found = findings("capabilities-dropped", kind, spec)
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe adds capability {added} ")
               for m in found), (added, found)


@PROPERTY
@given(placed())
def test_drop_all_and_add_net_bind_service_passes(where):
    kind, _, spec, c = where
    c["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert findings("capabilities-dropped", kind, spec) == []


# --- seccomp ------------------------------------------------------------------------------------

UNCONFINED = st.one_of(cased("unconfined"), cased("runtimedefault").filter(
    lambda w: w != "RuntimeDefault"), cased("localhost").filter(lambda w: w != "Localhost"),
    st.sampled_from(["", "default", "docker/default", "runtime/default"]))


@PROPERTY
@given(placed(), st.data())
def test_seccomp_profile_must_confine_every_container(where, data):
    kind, role, spec, c = where
    how = data.draw(st.sampled_from(["container type", "pod type", "missing",
                                     "misspelled container profile"]))
    pod_sc = spec["securityContext"]
    if how == "container type":
        c["securityContext"]["seccompProfile"] = {data.draw(spelled("type")):
                                                  data.draw(UNCONFINED)}
    elif how == "pod type":
        pod_sc["seccompProfile"] = {"type": data.draw(UNCONFINED)}
    elif how == "missing":
        pod_sc.pop("seccompProfile")
    else:
        pod_sc.pop("seccompProfile")
        for other in spec["containers"]:  # the others confined by their own, exactly
            other["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
        c["securityContext"].pop("seccompProfile", None)
        c["securityContext"][data.draw(misspelled("seccompProfile"))] = {
            "type": "RuntimeDefault"}
    found = findings("seccomp-profile-required", kind, spec)
    if how == "pod type":
        assert any(m.startswith("pod ") and "spec.securityContext.seccompProfile" in m
                   for m in found), found
    else:
        assert names_the_container(found, role), (how, c, found)


@PROPERTY
@given(placed(), st.sampled_from(["pod", "container"]))
def test_runtime_default_at_either_level_passes(where, level):
    kind, _, spec, c = where
    if level == "container":
        spec["securityContext"].pop("seccompProfile")
        for container in [*spec["containers"], c]:
            container["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert findings("seccomp-profile-required", kind, spec) == []


# --- runAsNonRoot / runAsUser ---------------------------------------------------------------------


@PROPERTY
@given(placed(), st.data())
def test_uid_zero_is_refused_at_the_pod_and_in_any_container(where, data):
    kind, role, spec, c = where
    how = data.draw(st.sampled_from(["pod, overridden", "pod, inherited", "container",
                                     "misspelled override"]))
    uid = data.draw(st.one_of(st.just(0), zero()))
    if how == "pod, overridden":  # every container sets its own uid: admission still refuses
        spec["securityContext"][data.draw(spelled("runAsUser"))] = uid
    elif how == "pod, inherited":
        spec["securityContext"]["runAsUser"] = uid
        c["securityContext"].pop("runAsUser")
    elif how == "container":
        c["securityContext"][data.draw(spelled("runAsUser"))] = uid
    else:  # the pod says 0, the container's 1000 is under a key the API does not read
        spec["securityContext"]["runAsUser"] = 0
        c["securityContext"].pop("runAsUser")
        c["securityContext"][data.draw(misspelled("runAsUser"))] = 1000
    found = findings("run-as-non-root", kind, spec)
    if how == "pod, overridden":
        assert any(m.startswith("pod runs as UID 0") for m in found), found
    else:
        assert any(m.startswith(f"{ROLE_WORDS[role]} probe runs as UID 0") for m in found), \
            (how, c, found)


@PROPERTY
@given(placed(), st.data())
def test_run_as_non_root_true_counts_only_under_the_exact_key(where, data):
    kind, role, spec, c = where
    spec["securityContext"].pop("runAsNonRoot")
    for other in spec["containers"]:
        other["securityContext"]["runAsNonRoot"] = True
    c["securityContext"].pop("runAsNonRoot")
    c["securityContext"][data.draw(misspelled("runAsNonRoot"))] = data.draw(TRUE)
    found = findings("run-as-non-root", kind, spec)
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe does not set runAsNonRoot")
               for m in found), (c, found)


# --- host namespaces, paths, ports ---------------------------------------------------------------


@PROPERTY
@given(KINDS, st.sampled_from(["hostNetwork", "hostPID", "hostIPC"]), st.data())
def test_host_namespaces_are_refused_for_every_kind(kind, key, data):
    spec = pod_spec()
    spec[data.draw(spelled(key))] = data.draw(TRUE)
    found = findings("no-host-namespaces", kind, spec)
    assert any(f"({key}: true)" in m for m in found), found


@PROPERTY
@given(KINDS, st.from_regex(r"/(etc|srv|var/lib|proc|run)(/[a-z0-9]{1,8}){0,2}/?",
                            fullmatch=True), st.data())
def test_host_path_volumes_are_refused_for_every_kind(kind, path, data):
    spec = pod_spec()
    spec["volumes"] = [{"name": "h", data.draw(spelled("hostPath")): {"path": path}}]
    found = findings("no-host-mounts", kind, spec)
    assert any("hostPath" in m for m in found), found


@PROPERTY
@given(placed(), st.integers(1, 65535), st.sampled_from([str, int]))
def test_host_ports_are_refused_in_any_container(where, port, form):
    kind, role, spec, c = where
    c["ports"] = [{"containerPort": 8080, "hostPort": form(port)}]
    found = findings("only-edge-publishes-ports", kind, spec)
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe ") and "hostPort" in m
               for m in found), found


# --- ServiceAccount token -------------------------------------------------------------------------


@PROPERTY
@given(KINDS, st.data())
def test_a_mounted_token_is_refused_in_any_spelling(kind, data):
    spec = pod_spec()
    how = data.draw(st.sampled_from(["true", "misspelled false"]))
    spec.pop("automountServiceAccountToken")
    if how == "true":
        spec[data.draw(spelled("automountServiceAccountToken"))] = data.draw(TRUE)
        accounts = service_account()  # locked: the pod's own true still wins
    else:
        spec[data.draw(misspelled("automountServiceAccountToken"))] = data.draw(FALSE)
        accounts = service_account(automount=None)
    kind_type, name, props = workload(kind, spec)
    rule = registry.rule("service-account-token-not-mounted")
    found = Harness().stack(rule, [namespace(), accounts, (kind_type, name, props)])
    assert len(found) == 1 and found[0].urn.endswith(f"::{name}"), (how, spec, found)


# --- namespaces -----------------------------------------------------------------------------------


@PROPERTY
@given(st.one_of(st.sampled_from(["baseline", "privileged", "", "restricted,baseline"]),
                 cased("restricted").filter(lambda w: w != "restricted")))
def test_only_the_exact_restricted_level_passes(level):
    kind, name, props = namespace()
    props["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = level
    rule = registry.rule("namespace-pod-security-restricted")
    found = Harness().stack(rule, [(kind, name, props), workload()])
    assert len(found) == 1 and found[0].urn.endswith("::namespace-erp"), (level, found)


# --- images and env literals in any container ------------------------------------------------


@PROPERTY
@given(placed(), st.sampled_from(["docker.io/erp/auth:1.4.2", "erp/migrate:2.0.1",
                                  "registry.local:5000/erp/auth:1.4.2",
                                  "erp/auth:1.4.2@sha256:" + "a" * 63]))
def test_images_by_tag_are_refused_when_digests_are_required(where, image):
    from policy_harness import settings as stack_settings

    kind, role, spec, c = where
    c["image"] = image
    kind_type, name, props = workload(kind, spec)
    found = Harness().resource(registry.rule("image-digest-required"), props, kind_type, name,
                               stack=stack_settings(require_digests=True))
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe ") for m in found), found


@PROPERTY
@given(placed(), st.sampled_from(["JWT_SECRET", "POSTGRES_PASSWORD", "smtpPass", "API_TOKEN"]),
       st.data())
def test_secret_env_literals_are_refused_secret_refs_pass(where, var, data):
    kind, role, spec, c = where
    ref = {"name": var, "valueFrom": {"secretKeyRef": {"name": "auth", "key": "k"}}}
    c["env"] = [ref]
    assert findings("no-literal-secret-env", kind, spec) == []
    literal = "Q9" + data.draw(st.text(alphabet="abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRST23456789",
                                       min_size=10, max_size=20))
    # with a valueFrom beside it too: the API refuses the pair, the literal is still written
    both = {"valueFrom": ref["valueFrom"]} if data.draw(st.booleans()) else {}
    c["env"] = [{"name": var, "value": literal, **both}]
    found = findings("no-literal-secret-env", kind, spec)
    assert any(m.startswith(f"{ROLE_WORDS[role]} probe: environment variable {var} ")
               for m in found), found
    assert not any(literal in m for m in found)


# --- Traefik custom resources ---------------------------------------------------------------------


def edge_findings(rule_name: str, stack) -> list[str]:
    return [v.message for v in Harness().stack(registry.rule(rule_name), stack)]


@PROPERTY
@given(st.one_of(st.sampled_from(["*", " * ", "null", "NULL", "Null", "https://*.erp.test",
                                  "*.erp.test", "http://*", "https://app.*"])))
def test_wildcard_cors_origins_in_a_middleware_are_refused(origin):
    mws = {**K8S_MIDDLEWARES, "cors": {"headers": {
        "accessControlAllowOriginList": ["https://app.erp.test", origin]}}}
    found = edge_findings("traefik-cors-not-wildcard", k8s_edge(middlewares=mws))
    assert len(found) == 1 and found[0].startswith("middleware erp-edge-cors allows"), found
    assert edge_findings("traefik-cors-origins-https", k8s_edge(middlewares=mws)) == []


@PROPERTY
@given(st.one_of(st.sampled_from(["VersionTLS10", "VersionTLS11", "versiontls12", "TLS1.2",
                                  "VersionTLS12 ", "", "1.2"]),
                 cased("versiontls13").filter(lambda w: w != "VersionTLS13")))
def test_tls_options_below_or_beside_tls12_are_refused(version):
    stack = [r for r in k8s_edge() if r[1] != f"tlsoption-{EDGE_NS}-default"]
    found = edge_findings("traefik-tls-minimum", [*stack, tls_option(minVersion=version)])
    assert len(found) == 1 and "minimum is VersionTLS12" in found[0], (version, found)


@PROPERTY
@given(st.data())
def test_ingress_routes_off_the_tls_entry_point_are_refused(data):
    how = data.draw(st.sampled_from(["plain", "missing", "misspelled"]))
    _, name, props = ingress_route("api-gateway", "api-gateway",
                                   ["security-headers", "cors", "rate-limit"])
    if how == "plain":
        props["spec"]["entryPoints"] = data.draw(st.sampled_from(
            [["web"], ["websecure", "web"], ["metrics"], ["Websecure"]]))
    elif how == "missing":
        props["spec"].pop("entryPoints")
    else:
        props["spec"][data.draw(misspelled("entryPoints"))] = props["spec"].pop("entryPoints")
    stack = [*(r for r in k8s_edge() if r[1] != name), (INGRESS_ROUTE_TYPE, name, props)]
    found = edge_findings("traefik-routers-hardened", stack)
    assert found and all(m.startswith("router erp-edge-api-gateway ") for m in found), found
