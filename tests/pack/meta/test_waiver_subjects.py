"""Every finding has a subject, and a waiver for (rule, resource, subject) waives exactly it.

The subject is what a waiver must name (docs/policies.md#waivers): a host path, a port, a
capability, an env key, an alert, a router setting, or the field name for findings about a
whole setting (`memory`, `readOnly`, `restart`). Kubernetes findings about one container of
a pod are prefixed with the container's name (`auth/limits.cpu`).
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_harness import (
    CONTAINER,
    DEPLOYMENT_PROPS,
    K8S_MIDDLEWARES,
    TRAEFIK_DYNAMIC,
    TRAEFIK_STATIC,
    Harness,
    changed,
    container,
    deployment,
    edge_stack,
    hpa,
    ingress_route,
    k8s_edge,
    k8s_stack,
    namespace,
    network_policy,
    pod_spec,
    service_account,
    settings,
    tls_option,
    workload,
)

from policies import registry
from policies.core import K8S_DEPLOYMENT, K8S_NAMESPACE
from policies.meta.waivers import never_waivable
from policies.pack import Outcome
from policies.settings import StackSettings, pattern_problem

pytestmark = pytest.mark.unit
POLICIES = Path(__file__).resolve().parents[3] / "policies"


def test_every_finding_the_pack_makes_passes_a_subject():
    """A rule that forgets the subject makes findings nobody can waive: caught here, by
    reading every `Finding(...)` call in policies/."""
    missing = []
    for path in sorted(POLICIES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding" \
                    and not any(k.arg == "subject" for k in node.keywords):
                missing.append(f"{path.relative_to(POLICIES.parent)}:{node.lineno}")
    assert not missing, "Finding(...) without subject=: " + ", ".join(missing)


# --- a zoo of non-compliant inputs, one entry per rule -------------------------------------------

Resources = list[tuple[str, str, dict[str, Any]]]


def _bind(source: str, read_only: bool) -> dict[str, Any]:
    return {"type": "bind", "source": source, "target": f"/host{source}", "readOnly": read_only}


def _svc(name: str, **labels: str) -> tuple[str, str, dict[str, Any]]:
    items = [{"label": "rampart.service", "value": name}]
    items += [{"label": f"rampart.{k}", "value": v} for k, v in labels.items()]
    return CONTAINER, f"erp-{name}-container", container(name=f"erp-{name}", labels=items)


def _prometheus(config: dict[str, Any] | None = None,
                rules: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    kind, name, props = _svc("prometheus")
    props["uploads"] = []
    if config is not None:
        props["uploads"].append({"file": "/etc/prometheus/prometheus.yml",
                                 "content": yaml.safe_dump(config)})
    if rules is not None:
        props["uploads"].append({"file": "/etc/prometheus/rules/x.rules.yml",
                                 "content": yaml.safe_dump(rules)})
    return kind, name, props


def _edge(static: dict[str, Any] = TRAEFIK_STATIC, dynamic: dict[str, Any] = TRAEFIK_DYNAMIC
          ) -> Resources:
    return edge_stack(static, dynamic)


SCRAPE_AUTH = {"scrape_configs": [{"job_name": "prometheus",
                                   "static_configs": [{"targets": ["localhost:9090"]}]}]}
NO_RUNBOOK = {"groups": [{"name": "g", "rules": [{"alert": "Down", "expr": "up == 0"}]}]}
NO_ADMIN_AUTH = changed(TRAEFIK_DYNAMIC, "http.routers.traefik.middlewares", ["security-headers"])

# rule -> [(resources, the subjects its findings must include)]; resource cases are one
# resource, stack cases several. Subjects are the documented naming (docs/policies.md).
ZOO: dict[str, list[tuple[Resources, set[str]]]] = {
    "image-pinned": [
        ([(CONTAINER, "c", container(image="docker.io/erp/auth:latest"))], {"image"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(image="docker.io/erp/auth:latest"))],
         {"auth/image"}),
    ],
    "image-digest-required": [
        ([(CONTAINER, "c", container(image="docker.io/erp/auth:1.4.2"))], {"image"}),
    ],
    "container-limits-set": [
        ([(CONTAINER, "c", container(memory=None, cpus=None))], {"memory", "cpus"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(resources=None))],
         {"auth/limits.cpu", "auth/limits.memory"}),
    ],
    "health-check-defined": [
        ([(CONTAINER, "c", container(healthcheck=None))], {"healthcheck"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(readinessProbe=None, livenessProbe=None))],
         {"auth/readinessProbe", "auth/livenessProbe"}),
    ],
    "no-privileged": [
        ([(CONTAINER, "c", container(privileged=True))], {"privileged"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(securityContext={"privileged": True}))],
         {"auth/privileged"}),
    ],
    "no-host-namespaces": [
        ([(CONTAINER, "c", container(pidMode="host", ipcMode="host"))], {"pidMode", "ipcMode"}),
        ([(K8S_DEPLOYMENT, "auth", changed(deployment(), "spec.template.spec.hostNetwork",
                                           True))], {"hostNetwork"}),
    ],
    "no-host-mounts": [
        ([(CONTAINER, "c", container(mounts=[_bind("/proc", True),
                                             _bind("/var/run/docker.sock", False)]))],
         {"/proc", "/var/run/docker.sock"}),
        ([(K8S_DEPLOYMENT, "auth", changed(deployment(), "spec.template.spec.volumes",
                                           [{"name": "h", "hostPath": {"path": "/etc"}}]))],
         {"/etc"}),
    ],
    "capabilities-dropped": [
        ([(CONTAINER, "c", container(capabilities={"drops": [], "adds": ["NET_RAW",
                                                                          "SYS_ADMIN"]}))],
         {"capabilities.drops", "NET_RAW", "SYS_ADMIN"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(securityContext={
            "capabilities": {"add": ["NET_RAW"]}, "allowPrivilegeEscalation": False}))],
         {"auth/capabilities.drop", "auth/NET_RAW"}),
    ],
    "no-new-privileges": [
        ([(CONTAINER, "c", container(securityOpts=[]))], {"securityOpts"}),
        ([(K8S_DEPLOYMENT, "auth", deployment(securityContext={
            "capabilities": {"drop": ["ALL"]}}))], {"auth/allowPrivilegeEscalation"}),
    ],
    "run-as-non-root": [
        ([(K8S_DEPLOYMENT, "auth", deployment(securityContext={
            "runAsUser": 0, "allowPrivilegeEscalation": False}))], {"auth/runAsUser"}),
    ],
    "read-only-root-filesystem": [
        ([(CONTAINER, "c", container(readOnly=False, tmpfs=None, volumes=None))], {"readOnly"}),
    ],
    "read-only-root-with-writable-paths": [
        ([(CONTAINER, "c", container(readOnly=False))], {"readOnly"}),
    ],
    "no-literal-secret-env": [
        ([(CONTAINER, "c", container(envs=["JWT_SECRET=not-from-vault",
                                           "DB_PASSWORD=hunter2hunter2"]))],
         {"JWT_SECRET", "DB_PASSWORD"}),
    ],
    "only-edge-publishes-ports": [
        ([(CONTAINER, "c", container(ports=[{"internal": 5432, "external": 5432},
                                            {"internal": 3001, "external": 8080}],
                                     publishAllPorts=True))],
         {"5432", "8080", "publishAllPorts"}),
    ],
    "docker-log-limits": [
        ([(CONTAINER, "c", container(logOpts={}))], {"logOpts.max-size", "logOpts.max-file"}),
        ([(CONTAINER, "c", container(logDriver="none"))], {"logDriver"}),
    ],
    "docker-restart-policy": [
        ([(CONTAINER, "c", container(restart="no"))], {"restart"}),
    ],
    "stateful-backup-declared": [
        ([_svc("postgres", stateful="true")], {"backup"}),
    ],
    "prometheus-scrapes-every-service": [
        ([_svc("auth"), _prometheus(SCRAPE_AUTH)], {"metrics"}),
        ([_svc("auth"), _prometheus()], {"prometheus.yml"}),
    ],
    "alert-rules-have-runbook": [
        ([_prometheus(rules=NO_RUNBOOK)], {"Down"}),
    ],
    "namespace-default-deny": [
        ([(K8S_NAMESPACE, "erp", {"metadata": {"name": "erp"}})], {"erp"}),
    ],
    "replicated-workloads-have-pdb": [
        ([(K8S_DEPLOYMENT, "auth", copy.deepcopy(DEPLOYMENT_PROPS))], {"PodDisruptionBudget"}),
    ],
    "traefik-no-insecure-api": [
        (_edge(changed(TRAEFIK_STATIC, "api.insecure", True), NO_ADMIN_AUTH),
         {"api.insecure", "traefik/middlewares"}),
    ],
    "traefik-routers-hardened": [
        (_edge(dynamic=changed(TRAEFIK_DYNAMIC, "http.routers.api-gateway.middlewares",
                               ["cors"])), {"api-gateway/rateLimit", "api-gateway/headers"}),
        (_edge(dynamic=changed(TRAEFIK_DYNAMIC, "http.routers.api-gateway.entryPoints",
                               ["web"])), {"api-gateway/entryPoints"}),
    ],
    "traefik-http-redirects": [
        (_edge(changed(TRAEFIK_STATIC, "entryPoints.web.http", None)), {"entryPoints.web"}),
    ],
    "traefik-tls-minimum": [
        (_edge(dynamic=changed(TRAEFIK_DYNAMIC, "tls.options.default.minVersion",
                               "VersionTLS10")), {"tls.options.default.minVersion"}),
    ],
    "traefik-cors-not-wildcard": [
        (_edge(dynamic=changed(TRAEFIK_DYNAMIC,
                               "http.middlewares.cors.headers.accessControlAllowOriginList",
                               ["*"])), {"cors/accessControlAllowOriginList"}),
    ],
}
# Kubernetes cases for the rules that judge real Kubernetes objects (issue 14).
_UNCONFINED_POD = pod_spec()
_UNCONFINED_POD["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
_NO_PROFILE = pod_spec()
del _NO_PROFILE["securityContext"]["seccompProfile"]
_MOUNTED = pod_spec()
_MOUNTED["automountServiceAccountToken"] = True
_BASELINE_NS = namespace(**{"pod-security.kubernetes.io/enforce": "baseline"})
ZOO.update({
    "seccomp-profile-required": [
        ([workload("Deployment", _UNCONFINED_POD)], {"seccompProfile"}),
        ([workload("Job", _NO_PROFILE, name="migrate")], {"auth/seccompProfile"}),
        ([(CONTAINER, "c", container(securityOpts=["no-new-privileges:true",
                                                   "seccomp=unconfined"]))], {"securityOpts"}),
    ],
    "service-account-token-not-mounted": [
        ([service_account(), workload("Deployment", {**_MOUNTED, "volumes": [
            {"name": "vault", "projected": {"sources": [{"serviceAccountToken": {
                "path": "token"}}]}}]})],
         {"automountServiceAccountToken", "vault/serviceAccountToken"}),
    ],
    "namespace-pod-security-restricted": [
        ([_BASELINE_NS, workload("CronJob", ns="elsewhere")],
         {"pod-security.kubernetes.io/enforce", "namespace"}),
        ([namespace(**{"pod-security.kubernetes.io/enforce-version": "v1.21"})],
         {"pod-security.kubernetes.io/enforce-version"}),
    ],
})
ZOO["namespace-default-deny"].append(
    ([*k8s_stack(), network_policy("allow-all", podSelector={}, policyTypes=["Ingress"],
                                   ingress=[{}])], {"allow-all/ingress"}))
ZOO["traefik-cors-not-wildcard"].append(
    (k8s_edge(middlewares={**K8S_MIDDLEWARES, "cors": {"headers": {
        "accessControlAllowOriginList": ["null", "https://*.erp.test", "*"]}}}),
     {"erp-edge-cors/accessControlAllowOriginList.0",
      "erp-edge-cors/accessControlAllowOriginList.1",
      "erp-edge-cors/accessControlAllowOriginList"}))
ZOO["no-literal-secret-env"].append(
    ([workload("Pod", {**pod_spec(), "initContainers": [
        {**pod_spec()["containers"][0], "name": "migrate",
         "env": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}]}]})],
     {"migrate/DB_PASSWORD"}))
ZOO["image-digest-required"].append(
    ([workload("CronJob", {**pod_spec(), "initContainers": [
        {**pod_spec()["containers"][0], "name": "migrate", "image": "erp/migrate:2.0.1"}]})],
     {"migrate/image"}))
ZOO["replicated-workloads-have-pdb"].append(
    ([workload("Deployment"), hpa(min_replicas=3)], {"PodDisruptionBudget"}))
ZOO["traefik-tls-minimum"].append(
    (k8s_edge(tls_option("legacy", minVersion="VersionTLS10")),
     {"tls.options.erp-edge-legacy.minVersion"}))
ZOO["traefik-routers-hardened"].append(
    ([*k8s_edge(), ingress_route("crm", "crm", ["cors"], entryPoints=["web"])],
     {"erp-edge-crm/entryPoints", "erp-edge-crm/rateLimit", "erp-edge-crm/headers"}))

# The waiver rules judge waivers themselves and are never waived (test_never_waivable.py).
NOT_IN_THE_ZOO = {"policy-waivers-valid", "policy-waivers-in-force"}
CASES = [(rule, n) for rule, cases in ZOO.items() for n in range(len(cases))]


def _run(rule_name: str, resources: Resources, stack: StackSettings) -> list[Outcome]:
    rule = registry.rule(rule_name)
    harness = Harness()
    if rule.is_stack_rule:
        harness.stack(rule, resources, stack)
    else:
        for kind, name, props in resources:
            harness.resource(rule, props, kind, name, stack=stack)
    return harness.outcomes


def _stack(*waivers: dict[str, Any]) -> StackSettings:
    return settings(*waivers, require_digests=True)


def test_the_zoo_covers_every_rule_that_existed_with_subjects():
    # Rules added later are covered by the AST test above; their zoo entry is welcome here.
    known = {"image-pinned", "policy-waivers-valid", "traefik-cors-not-wildcard"}
    assert known <= registry.rule_names()
    assert not set(ZOO) - registry.rule_names(), "zoo entry for a rule the pack lacks"


@pytest.mark.parametrize("rule, case", CASES, ids=[f"{r}-{n}" for r, n in CASES])
def test_findings_carry_the_documented_subjects(rule, case):
    resources, expected = ZOO[rule][case]
    outcomes = _run(rule, resources, _stack())
    subjects = {o.finding.subject for o in outcomes}
    assert expected <= subjects, (rule, sorted(map(str, subjects)))
    for o in outcomes:
        assert o.finding.subject, f"{rule}: {o.finding.message} has no subject"


def _resource_key(outcome: Outcome) -> str | None:
    if outcome.resource is not None:
        return outcome.resource.name
    return outcome.finding.service  # stack findings about no one resource


@pytest.mark.parametrize("rule, case", CASES, ids=[f"{r}-{n}" for r, n in CASES])
def test_one_waiver_waives_exactly_its_one_finding(rule, case):
    resources, _ = ZOO[rule][case]
    findings = _run(rule, resources, _stack())
    keyed = [(o, _resource_key(o)) for o in findings]
    targets = [(key, o.finding.subject) for o, key in keyed]
    assert len(targets) == len(set(targets)), f"{rule}: two findings share a subject: {targets}"
    for target, (outcome, key) in zip(targets, keyed, strict=True):
        subject = outcome.finding.subject
        if key is None or subject is None or pattern_problem("subject", subject):
            continue  # nothing to name, or a subject such as ALL: never waivable
        waiver = {"id": "one", "rule": rule, "resource": key, "subject": subject,
                  "reason": "r", "expires": "2027-01-31"}
        after = _run(rule, resources, _stack(waiver))
        statuses = {(_resource_key(o), o.finding.subject): o.status for o in after}
        refused = never_waivable(rule, subject, outcome.resource)
        assert statuses.pop(target) == ("waiver-refused" if refused else "waived"), target
        assert set(statuses.values()) <= {"violation"}, (target, statuses)


def test_subjects_are_single_names_not_patterns():
    for rule, cases in ZOO.items():
        for resources, _ in cases:
            for o in _run(rule, resources, _stack()):
                assert pattern_problem("subject", o.finding.subject or "") is None, \
                    (rule, o.finding.subject)
