"""Every Kubernetes hardening property, judged by the whole pack on real Kubernetes objects.

The stack is what the Kubernetes target writes for one service and the edge (namespaces
under Pod Security "restricted", default deny with DNS egress, ServiceAccounts without
tokens, a replicated Deployment with its PodDisruptionBudget, Traefik with its ConfigMap,
Service, Middlewares, TLSOption and IngressRoutes), all objects in the manifest shape
pulumi-kubernetes records, run through `infra.offline.evaluate` (the entry `rampart policy
check` uses) with `requireDigests`. It passes every rule. Each mutation below changes one
thing; exactly the rule that owns the property must then fail, on the mutated object, with a
message naming the object (or its container) and the field. Spelling variants of the same
properties are generated in test_kubernetes_properties.py.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from policy_harness import (
    EDGE_NS,
    Resources,
    default_deny,
    hpa,
    k8s_edge,
    k8s_stack,
    namespace,
    pdb,
    service_account,
    urn,
    workload,
)

from infra.offline.evaluate import evaluate
from policies import registry
from policies.core import Plain, Resource
from policies.pack import Outcome
from policies.settings import StackSettings

pytestmark = pytest.mark.unit
STACK = StackSettings(stack="test", require_digests=True, today=dt.date(2026, 11, 23))
AUTH = "deployment-erp-auth"


def full_stack() -> Resources:
    return [*k8s_stack(), namespace(EDGE_NS), default_deny(EDGE_NS),
            service_account("traefik", EDGE_NS), pdb("traefik", EDGE_NS), *k8s_edge()]


def blocking(resources: Resources) -> list[Outcome]:
    judged = [Resource(t, n, urn(t, n), Plain(copy.deepcopy(p))) for t, n, p in resources]
    return [o for o in evaluate(judged, STACK, registry.RULES) if o.blocking]


def obj(stack: Resources, name: str) -> dict[str, Any]:
    return next(p for _, n, p in stack if n == name)


def pod(stack: Resources, name: str = AUTH) -> dict[str, Any]:
    return obj(stack, name)["spec"]["template"]["spec"]


def app(stack: Resources, name: str = AUTH) -> dict[str, Any]:
    return pod(stack, name)["containers"][0]


def init(stack: Resources) -> dict[str, Any]:
    """An init container, compliant, added to the auth pod."""
    c = copy.deepcopy(app(stack))
    c["name"] = "migrate"
    c.pop("readinessProbe"), c.pop("livenessProbe")
    pod(stack).setdefault("initContainers", []).append(c)
    return c


def drop(stack: Resources, name: str) -> None:
    stack[:] = [r for r in stack if r[1] != name]


@dataclass(frozen=True)
class Mutation:
    rule: str
    change: Callable[[Resources], Any]
    resource: str  # the object every finding must be about
    says: tuple[str, ...]  # what the message names (container/object and field)
    also: tuple[str, ...] = ()  # rules the same change breaks too, by their own definition


def _sc(stack: Resources, **values: Any) -> None:
    app(stack)["securityContext"].update(values)


def _static(stack: Resources, change: Callable[[dict[str, Any]], Any]) -> None:
    import yaml

    data = obj(stack, f"configmap-{EDGE_NS}-traefik-static")["data"]
    static = yaml.safe_load(data["traefik.yml"])
    change(static)
    data["traefik.yml"] = yaml.safe_dump(static)


MUTATIONS: dict[str, Mutation] = {
    "privileged container": Mutation(
        "no-privileged", lambda s: _sc(s, privileged=True), AUTH,
        ("container auth", "securityContext.privileged")),
    "privileged init container, as a string": Mutation(
        "no-privileged", lambda s: init(s)["securityContext"].update(privileged="true"), AUTH,
        ("init container migrate", "securityContext.privileged")),
    "init container may escalate": Mutation(
        "no-new-privileges", lambda s: init(s)["securityContext"].pop(
            "allowPrivilegeEscalation"), AUTH,
        ("init container migrate", "allowPrivilegeEscalation")),
    "capabilities drop `all`": Mutation(
        "capabilities-dropped", lambda s: _sc(s, capabilities={"drop": ["all"]}), AUTH,
        ("container auth", "capabilities.drop", "'all' is not 'ALL'")),
    "capability added": Mutation(
        "capabilities-dropped", lambda s: _sc(s, capabilities={"drop": ["ALL"],
                                                                "add": ["NET_RAW"]}), AUTH,
        ("container auth", "NET_RAW", "capabilities.add")),
    "container overrides seccomp with Unconfined": Mutation(
        "seccomp-profile-required", lambda s: _sc(s, seccompProfile={"type": "Unconfined"}),
        AUTH, ("container auth", "Unconfined", "seccompProfile")),
    "no seccomp profile at all": Mutation(
        "seccomp-profile-required", lambda s: pod(s)["securityContext"].pop("seccompProfile"),
        AUTH, ("container auth", "seccompProfile")),
    "pod runs as uid 0, containers override it": Mutation(
        "run-as-non-root", lambda s: pod(s)["securityContext"].update(runAsUser=0), AUTH,
        ("pod runs as UID 0", "spec.securityContext.runAsUser")),
    "container runs as uid 0": Mutation(
        "run-as-non-root", lambda s: _sc(s, runAsUser="0"), AUTH,
        ("container auth", "securityContext.runAsUser")),
    "hostPath volume": Mutation(
        "no-host-mounts", lambda s: pod(s).update(volumes=[
            {"name": "host", "hostPath": {"path": "/var/lib/kubelet"}}]), AUTH,
        ("/var/lib/kubelet", "hostPath")),
    "host network": Mutation(
        "no-host-namespaces", lambda s: pod(s).update(hostNetwork=True), AUTH,
        ("hostNetwork",)),
    "host PID": Mutation(
        "no-host-namespaces", lambda s: pod(s).update(hostPID="yes"), AUTH, ("hostPID",)),
    "host port, even on the edge proxy": Mutation(
        "only-edge-publishes-ports",
        lambda s: app(s, "deployment-erp-edge-traefik")["ports"][1].update(hostPort=443),
        "deployment-erp-edge-traefik", ("container traefik", "host port 443", "hostPort")),
    "automounted token": Mutation(
        "service-account-token-not-mounted",
        lambda s: pod(s).update(automountServiceAccountToken=True), AUTH,
        ("Deployment erp/auth", "automountServiceAccountToken")),
    "token left to a ServiceAccount that mounts it": Mutation(
        "service-account-token-not-mounted", lambda s: (
            pod(s).pop("automountServiceAccountToken"),
            obj(s, "serviceaccount-erp-auth").pop("automountServiceAccountToken")), AUTH,
        ("Deployment erp/auth", "ServiceAccount erp/auth", "automountServiceAccountToken")),
    "token mounted by hand": Mutation(
        "service-account-token-not-mounted", lambda s: pod(s).update(volumes=[
            {"name": "api", "projected": {"sources": [{"serviceAccountToken": {
                "path": "token"}}]}}]), AUTH,
        ("Deployment erp/auth", "volume api", "serviceAccountToken")),
    "restricted pinned to an old version": Mutation(
        "namespace-pod-security-restricted",
        lambda s: obj(s, "namespace-erp")["metadata"]["labels"].update(
            {"pod-security.kubernetes.io/enforce-version": "v1.22"}), "namespace-erp",
        ("namespace erp", "enforce-version: v1.22")),
    "replicated without a PodDisruptionBudget": Mutation(
        "replicated-workloads-have-pdb", lambda s: drop(s, "poddisruptionbudget-erp-auth"),
        AUTH, ("Deployment erp/auth", "spec.replicas: 2", "PodDisruptionBudget")),
    "autoscaled without a PodDisruptionBudget": Mutation(
        "replicated-workloads-have-pdb", lambda s: (
            drop(s, "poddisruptionbudget-erp-auth"), obj(s, AUTH)["spec"].pop("replicas"),
            s.append(hpa(min_replicas=3))), AUTH,
        ("Deployment erp/auth", "minReplicas: 3", "PodDisruptionBudget")),
    "no NetworkPolicy": Mutation(
        "namespace-default-deny", lambda s: drop(s, "networkpolicy-erp-default-deny"),
        "namespace-erp", ("namespace erp", "default-deny NetworkPolicy", "Ingress and Egress")),
    "default deny for ingress only": Mutation(
        "namespace-default-deny",
        lambda s: obj(s, "networkpolicy-erp-default-deny")["spec"].update(
            policyTypes=["Ingress"]), "namespace-erp", ("namespace erp", "for Egress")),
    "namespace at baseline": Mutation(
        "namespace-pod-security-restricted",
        lambda s: obj(s, "namespace-erp")["metadata"]["labels"].update(
            {"pod-security.kubernetes.io/enforce": "baseline"}), "namespace-erp",
        ("namespace erp", "'baseline'", "metadata.labels")),
    "namespace without pod security": Mutation(
        "namespace-pod-security-restricted",
        lambda s: obj(s, "namespace-erp")["metadata"].pop("labels"), "namespace-erp",
        ("namespace erp", "pod-security.kubernetes.io/enforce")),
    "image by tag where digests are required": Mutation(
        "image-digest-required", lambda s: init(s).update(image="docker.io/erp/auth:1.4.2"),
        AUTH, ("init container migrate", "docker.io/erp/auth:1.4.2", "digest")),
    "secret as an env literal": Mutation(
        "no-literal-secret-env", lambda s: app(s)["env"].append(
            {"name": "JWT_SECRET", "value": "zQ8vT3kLp2Xw9mRb"}), AUTH,
        ("container auth", "JWT_SECRET", "env[].value")),
    "wildcard CORS Middleware": Mutation(
        "traefik-cors-not-wildcard",
        lambda s: obj(s, f"middleware-{EDGE_NS}-cors")["spec"]["headers"].update(
            accessControlAllowOriginList=["*"]), f"middleware-{EDGE_NS}-cors",
        ("middleware erp-edge-cors", "accessControlAllowOriginList")),
    "wildcard-like CORS origin": Mutation(
        "traefik-cors-not-wildcard",
        lambda s: obj(s, f"middleware-{EDGE_NS}-cors")["spec"]["headers"].update(
            accessControlAllowOriginList=["https://*.erp.test"]), f"middleware-{EDGE_NS}-cors",
        ("middleware erp-edge-cors", "https://*.erp.test")),
    "TLSOption below TLS 1.2": Mutation(
        "traefik-tls-minimum",
        lambda s: obj(s, f"tlsoption-{EDGE_NS}-default")["spec"].update(
            minVersion="VersionTLS11"), f"tlsoption-{EDGE_NS}-default",
        ("TLS options default", "VersionTLS11")),
    "IngressRoute on the plain-HTTP entry point": Mutation(
        "traefik-routers-hardened",
        lambda s: obj(s, f"ingressroute-{EDGE_NS}-api-gateway")["spec"].update(
            entryPoints=["web"]), f"ingressroute-{EDGE_NS}-api-gateway",
        ("router erp-edge-api-gateway", "non-TLS entry point(s) web")),
    "IngressRoute misspelling entryPoints (the API prunes it)": Mutation(
        "traefik-routers-hardened",
        lambda s: obj(s, f"ingressroute-{EDGE_NS}-api-gateway")["spec"].update(
            entrypoints=obj(s, f"ingressroute-{EDGE_NS}-api-gateway")["spec"].pop(
                "entryPoints")), f"ingressroute-{EDGE_NS}-api-gateway",
        ("router erp-edge-api-gateway", "has no entryPoints")),
    "plain-HTTP origin at a TLS edge": Mutation(
        "traefik-cors-origins-https",
        lambda s: obj(s, f"middleware-{EDGE_NS}-cors")["spec"]["headers"].update(
            accessControlAllowOriginList=["http://app.erp.test"]), f"middleware-{EDGE_NS}-cors",
        ("middleware erp-edge-cors", "http://app.erp.test")),
    "admin allowlist admitting everyone": Mutation(
        "traefik-allowlist-bounded",
        lambda s: obj(s, f"middleware-{EDGE_NS}-admin-allowlist")["spec"]["ipAllowList"].update(
            sourceRange=["0.0.0.0/0"]), f"middleware-{EDGE_NS}-admin-allowlist",
        ("IP allowlist erp-edge-admin-allowlist", "0.0.0.0/0")),
    "plain-HTTP entry point without redirect": Mutation(
        "traefik-http-redirects", lambda s: _static(s, lambda d: d["entryPoints"]["web"].pop(
            "http")), f"configmap-{EDGE_NS}-traefik-static",
        ("entry point web", "without redirecting to HTTPS")),
    "image by a floating tag": Mutation(
        "image-pinned", lambda s: app(s).update(image="docker.io/erp/auth:latest"), AUTH,
        ("container auth", "latest"), also=("image-digest-required",)),
    "secret on the command line": Mutation(
        "no-literal-secret-args", lambda s: app(s).update(
            command=["redis-cli"], args=["-a", "zQ8vT3kLp2Xw9mRb", "ping"]), AUTH,
        ("container auth", "args[1]")),
    "no resource limits": Mutation(
        "container-limits-set", lambda s: app(s)["resources"].pop("limits"), AUTH,
        ("auth", "limits")),
    "no probes": Mutation(
        "health-check-defined", lambda s: app(s).pop("readinessProbe"), AUTH,
        ("auth", "readinessProbe")),
    "writable root without writable paths": Mutation(
        "read-only-root-filesystem", lambda s: _sc(s, readOnlyRootFilesystem=False), AUTH,
        ("container auth", "writable root")),
    "service nobody scrapes": Mutation(
        "prometheus-scrapes-every-service",
        lambda s: obj(s, AUTH)["spec"]["template"]["metadata"].pop("annotations"), AUTH,
        ("service auth", "not scraped")),
    "alert without a runbook": Mutation(
        "alert-rules-have-runbook", lambda s: s.append((
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "prometheusrule-erp-alerts",
            {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
             "metadata": {"name": "erp-alerts", "namespace": "erp"},
             "spec": {"groups": [{"name": "erp", "rules": [
                 {"alert": "AuthDown", "expr": "up == 0"}]}]}})),
        "prometheusrule-erp-alerts", ("alert AuthDown", "runbook_url")),
    "StatefulSet without a backup": Mutation(
        "stateful-backup-declared", lambda s: s.append(workload("StatefulSet", name="postgres")),
        "statefulset-erp-postgres", ("stateful service postgres", "backup")),
    "dashboard IngressRoute without authentication": Mutation(
        "traefik-no-insecure-api",
        lambda s: obj(s, f"ingressroute-{EDGE_NS}-traefik")["spec"]["routes"][0].update(
            middlewares=[{"name": "admin-allowlist"}, {"name": "security-headers"},
                         {"name": "rate-limit"}]), f"ingressroute-{EDGE_NS}-traefik",
        ("router erp-edge-traefik", "without authentication")),
}


@pytest.fixture(scope="module")
def baseline() -> list[Outcome]:
    return blocking(full_stack())


def test_the_kubernetes_stack_passes_every_rule(baseline):
    assert [(o.rule.name, o.message) for o in baseline] == []


def test_every_kubernetes_rule_has_a_mutation():
    k8s_rules = {r.name for r in registry.RULES
                 if "kubernetes" in r.tags and r.level.value == "mandatory"}
    assert k8s_rules - {m.rule for m in MUTATIONS.values()} == set()
    assert {m.rule for m in MUTATIONS.values()} <= k8s_rules


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_mutation_fails_exactly_its_rule_on_the_mutated_object(name):
    mutation = MUTATIONS[name]
    stack = full_stack()
    mutation.change(stack)
    found = blocking(stack)
    assert {o.rule.name for o in found} == {mutation.rule, *mutation.also}, \
        [(o.rule.name, o.message) for o in found]
    for outcome in (o for o in found if o.rule.name == mutation.rule):
        about = outcome.resource.name if outcome.resource else outcome.finding.urn
        assert about is not None and about.endswith(mutation.resource), (about, outcome.message)
        for words in mutation.says:
            assert words in outcome.message, (words, outcome.message)
