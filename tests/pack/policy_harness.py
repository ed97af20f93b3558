"""Policy test harness (imported by the rule tests; tests/pack/conftest.py puts this
directory on sys.path): builds pulumi-policy validation args directly (CONVENTIONS 13) and
runs the pack's wrapped policies, collecting violations in a list.

Fixtures are resource inputs in wire (camelCase) form, as the engine hands them to policies:
pulumi-docker 5.x containers and pulumi-kubernetes 4.x workloads. The baseline of each is
compliant with every rule; a test changes one thing.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi_policy as pp
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from policies.core import CONTAINER, Rule
from policies.pack import Outcome, build_policies
from policies.settings import StackSettings, parse_waivers

TODAY = dt.date(2026, 11, 23)
STACK = "test"

CONTAINER_PROPS: dict[str, Any] = {
    "name": "erp-auth",
    "image": "docker.io/erp/auth:1.4.2@sha256:" + "a" * 64,
    "capabilities": {"drops": ["ALL"], "adds": []},
    "privileged": False,
    "readOnly": True,
    "securityOpts": ["no-new-privileges:true"],
    "user": "1000:1000",
    "memory": 1024,
    "memoryReservation": 512,
    "cpus": "1",
    "cpuShares": 512,
    "healthcheck": {
        "tests": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3001/health/ready"],
        "interval": "30s",
        "timeout": "10s",
        "startPeriod": "60s",
        "retries": 3,
    },
    "logDriver": "json-file",
    "logOpts": {"max-size": "10m", "max-file": "3"},
    "restart": "unless-stopped",
    "envs": ["NODE_ENV=production", "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password"],
    "labels": [
        {"label": "rampart.service", "value": "auth"},
        {"label": "rampart.group", "value": "core"},
        {"label": "rampart.exposure", "value": "internal"},
        {"label": "rampart.stateful", "value": "false"},
    ],
    "tmpfs": {"/tmp": "rw,nosuid,nodev"},  # noqa: S108 - a container path
    "networksAdvanced": [{"name": "erp-backend", "aliases": ["auth"]}],
    "volumes": [{"volumeName": "erp-auth-run-secrets", "containerPath": "/run/secrets"}],
}

POD_CONTAINER: dict[str, Any] = {
    "name": "auth",
    "image": "docker.io/erp/auth:1.4.2@sha256:" + "a" * 64,
    "ports": [{"containerPort": 3001, "name": "http"}],
    "resources": {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "512Mi"},
    },
    "readinessProbe": {"httpGet": {"path": "/health/ready", "port": 3001}},
    "livenessProbe": {"httpGet": {"path": "/health/live", "port": 3001}},
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
    },
    "env": [
        {"name": "NODE_ENV", "value": "production"},
        {
            "name": "JWT_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "auth-secrets", "key": "jwt-secret"}},
        },
    ],
}

DEPLOYMENT_PROPS: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "auth", "namespace": "erp", "labels": {"app.kubernetes.io/name": "auth"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "auth"}},
        "template": {
            "metadata": {
                "labels": {"app.kubernetes.io/name": "auth"},
                "annotations": {"prometheus.io/scrape": "true"},
            },
            "spec": {
                "serviceAccountName": "auth",
                "automountServiceAccountToken": False,
                # Pod Security "restricted", as the Kubernetes target writes it.
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                    "runAsGroup": 1000, "fsGroup": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [POD_CONTAINER],
            },
        },
    },
}


def container(**changes: Any) -> dict[str, Any]:
    """A compliant container; `changes` replace top-level inputs (None deletes one)."""
    props = copy.deepcopy(CONTAINER_PROPS)
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return props


def deployment(**container_changes: Any) -> dict[str, Any]:
    """A compliant Deployment; `container_changes` replace the app container's fields."""
    props = copy.deepcopy(DEPLOYMENT_PROPS)
    c = props["spec"]["template"]["spec"]["containers"][0]
    for key, value in container_changes.items():
        if value is None:
            c.pop(key, None)
        else:
            c[key] = value
    return props


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::rampart::{resource_type}::{name}"


def stack_policy(values: Mapping[str, Any], today: dt.date | None = None) -> StackSettings:
    """The policy section of a stack with these `rampart:` values, parsed as every stack is
    (infra/stack: the model's settings first, the pack's section from them)."""
    from infra.stack import from_values

    return from_values(values, name=STACK, today=today).policy


def settings(*waivers: Mapping[str, Any], **kw: Any) -> StackSettings:
    return StackSettings(stack=STACK, waivers=parse_waivers(list(waivers)), today=TODAY, **kw)


def waiver(rule: str, resource: str, expires: str = "2027-01-31", **kw: Any) -> dict[str, Any]:
    return {"rule": rule, "resource": resource, "reason": "test exception", "expires": expires,
            **kw}


def _opts() -> pp.PolicyResourceOptions:
    """Default resource options, as the engine sends for a plain resource."""
    return pp.PolicyResourceOptions(
        protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=pp.PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
    )


@dataclass
class Violation:
    message: str
    urn: str | None


class Harness:
    """Runs one rule through the pack wiring, exactly as the engine would call it."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def resource(self, rule: Rule, props: Mapping[str, Any], resource_type: str = CONTAINER,
                 name: str = "erp-auth-container",
                 stack: StackSettings | None = None) -> list[str]:
        (policy,) = build_policies(stack or settings(), self.outcomes.append, rules=[rule])
        assert isinstance(policy, pp.ResourceValidationPolicy)
        args = pp.ResourceValidationArgs(resource_type, props, urn(resource_type, name), name,
                                         _opts(), None)
        found: list[str] = []
        policy.validate(args, lambda message, _urn=None: found.append(message))
        return found

    def stack(self, rule: Rule, resources: Sequence[tuple[str, str, Mapping[str, Any]]],
              stack: StackSettings | None = None) -> list[Violation]:
        (policy,) = build_policies(stack or settings(), self.outcomes.append, rules=[rule])
        assert isinstance(policy, pp.StackValidationPolicy)
        policy_resources = [
            pp.PolicyResource(t, props, urn(t, name), name, _opts(), None, None, [], {})
            for t, name, props in resources
        ]
        found: list[Violation] = []
        policy.validate(pp.StackValidationArgs(policy_resources),
                        lambda message, u=None: found.append(Violation(message, u)))
        return found




# --- Traefik: the shape infra/edge/traefik.py uploads (static traefik.yml + file-provider YAML) ---

TRAEFIK_STATIC: dict[str, Any] = {
    "entryPoints": {
        "web": {"address": ":80", "http": {"redirections": {"entryPoint": {
            "to": "websecure", "scheme": "https", "permanent": True}}}},
        "websecure": {"address": ":443", "http": {"tls": {}}},
        "metrics": {"address": ":8082"},
    },
    "api": {"dashboard": True, "insecure": False},
    "ping": {"entryPoint": "metrics"},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "providers": {"file": {"filename": "/etc/traefik/dynamic/edge.yml", "watch": False}},
}

_ROUTER = {"entryPoints": ["websecure"], "tls": {},
           "middlewares": ["security-headers", "cors", "rate-limit", "inflight-limit"]}

TRAEFIK_DYNAMIC: dict[str, Any] = {
    "http": {
        "routers": {
            "api-gateway": {**_ROUTER, "rule": "Host(`api.erp.test`)", "service": "api-gateway"},
            "api-gateway-login": {
                **_ROUTER, "rule": "Host(`api.erp.test`) && PathPrefix(`/auth/login`)",
                "service": "api-gateway", "priority": 1000,
                "middlewares": ["security-headers", "cors", "login-rate-limit"]},
            "traefik": {
                **_ROUTER, "rule": "Host(`traefik.erp.test`)", "service": "api@internal",
                "middlewares": ["admin-allowlist", "admin-auth", "security-headers",
                                "rate-limit"]},
        },
        "middlewares": {
            "security-headers": {"headers": {"stsSeconds": 31536000, "frameDeny": True,
                                             "contentTypeNosniff": True}},
            "cors": {"headers": {"accessControlAllowOriginList": ["https://app.erp.test"]}},
            "rate-limit": {"rateLimit": {"average": 100, "period": "1s", "burst": 50}},
            "login-rate-limit": {"rateLimit": {"average": 5, "period": "900s", "burst": 5}},
            "inflight-limit": {"inFlightReq": {"amount": 100}},
            "admin-allowlist": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}},
            "admin-auth": {"basicAuth": {"usersFile": "/run/secrets/traefik_admin_htpasswd"}},
        },
        "services": {"api-gateway": {"loadBalancer": {
            "servers": [{"url": "http://api-gateway:4000"}]}}},
    },
    "tls": {"options": {"default": {"minVersion": "VersionTLS12", "sniStrict": True}}},
}


def traefik(static: Mapping[str, Any] | None = None, dynamic: Mapping[str, Any] | None = None,
            **changes: Any) -> dict[str, Any]:
    """A compliant Traefik container carrying the given static/dynamic configuration."""
    import yaml

    uploads = [{"file": "/run/secrets/traefik_admin_htpasswd", "content": "[secret]"}]
    if static is not None:
        uploads.append({"file": "/etc/traefik/traefik.yml", "content": yaml.safe_dump(static)})
    if dynamic is not None:
        uploads.append({"file": "/etc/traefik/dynamic/edge.yml",
                        "content": yaml.safe_dump(dynamic)})
    props = container(
        name="erp-traefik", image="docker.io/library/traefik:v3.1.4",
        labels=[{"label": "rampart.service", "value": "traefik"}],
        ports=[{"internal": 80, "external": 80}, {"internal": 443, "external": 443}],
        uploads=uploads, envs=[],
    )
    props.update(changes)
    return props


def edge_stack(static: Mapping[str, Any] | None = None,
               dynamic: Mapping[str, Any] | None = None,
               *others: tuple[str, str, Mapping[str, Any]],
               **changes: Any) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The Traefik container plus a routed backend, as stack-rule input."""
    return [
        (CONTAINER, "erp-traefik-container", traefik(
            TRAEFIK_STATIC if static is None else static,
            TRAEFIK_DYNAMIC if dynamic is None else dynamic, **changes)),
        (CONTAINER, "erp-api-gateway-container", container(
            name="erp-api-gateway",
            labels=[{"label": "rampart.service", "value": "api-gateway"}])),
        *others,
    ]


def changed(base: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the dotted `path` set to `value` (None deletes it)."""
    out = copy.deepcopy(dict(base))
    *parents, last = path.split(".")
    cur = out
    for step in parents:
        cur = cur[step]
    if value is None:
        cur.pop(last, None)
    else:
        cur[last] = value
    return out


def engine_args(props: dict) -> pp.ResourceValidationArgs:
    """Inputs as the analyzer hands them over: deserialized wire form behind the proxy that
    raises on unknown values."""
    wrapped = unknown_checking_proxy(deserialize_properties(props))
    return pp.ResourceValidationArgs(CONTAINER, wrapped, urn(CONTAINER, "c"), "c", _opts(), None)


# --- Kubernetes: the objects the Kubernetes target writes around a workload --------------------
# Shapes as pulumi-kubernetes records them (the manifest: apiVersion, kind, metadata, spec);
# each is compliant with every rule, and a test mutates one field.

K8S_TYPES: dict[str, str] = {
    "Deployment": "kubernetes:apps/v1:Deployment",
    "StatefulSet": "kubernetes:apps/v1:StatefulSet",
    "DaemonSet": "kubernetes:apps/v1:DaemonSet",
    "ReplicaSet": "kubernetes:apps/v1:ReplicaSet",
    "Job": "kubernetes:batch/v1:Job",
    "CronJob": "kubernetes:batch/v1:CronJob",
    "Pod": "kubernetes:core/v1:Pod",
}
K8S_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
           "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT_TYPE = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPE = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CONFIGMAP_TYPE = "kubernetes:core/v1:ConfigMap"
SERVICE_TYPE = "kubernetes:core/v1:Service"
TRAEFIK_API = "traefik.io/v1alpha1"
MIDDLEWARE_TYPE = f"kubernetes:{TRAEFIK_API}:Middleware"
INGRESS_ROUTE_TYPE = f"kubernetes:{TRAEFIK_API}:IngressRoute"
TLS_OPTION_TYPE = f"kubernetes:{TRAEFIK_API}:TLSOption"

PSS_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted"
              for mode in ("enforce", "audit", "warn")}

Resources = list[tuple[str, str, dict[str, Any]]]


def namespace(name: str = "erp", **labels: str) -> tuple[str, str, dict[str, Any]]:
    return NAMESPACE_TYPE, f"namespace-{name}", {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {**PSS_LABELS, **labels}}}


def service_account(name: str = "auth", ns: str = "erp",
                    automount: Any = False) -> tuple[str, str, dict[str, Any]]:
    props: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": name, "namespace": ns}}
    if automount is not None:
        props["automountServiceAccountToken"] = automount
    return SERVICE_ACCOUNT_TYPE, f"serviceaccount-{ns}-{name}", props


def network_policy(name: str, ns: str = "erp", **spec: Any) -> tuple[str, str, dict[str, Any]]:
    return NETWORK_POLICY_TYPE, f"networkpolicy-{ns}-{name}", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns}, "spec": spec}


def default_deny(ns: str = "erp") -> tuple[str, str, dict[str, Any]]:
    return network_policy("default-deny", ns, podSelector={},
                          policyTypes=["Ingress", "Egress"])


def allow_dns(ns: str = "erp") -> tuple[str, str, dict[str, Any]]:
    return network_policy("allow-dns", ns, podSelector={}, policyTypes=["Egress"], egress=[{
        "to": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}])


def pdb(name: str = "auth", ns: str = "erp", **spec: Any) -> tuple[str, str, dict[str, Any]]:
    body = {"maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}}, **spec}
    return PDB_TYPE, f"poddisruptionbudget-{ns}-{name}", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns}, "spec": body}


def hpa(target: str = "auth", kind: str = "Deployment", ns: str = "erp",
        min_replicas: int | None = 2) -> tuple[str, str, dict[str, Any]]:
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind,
                                               "name": target}, "maxReplicas": 5}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return HPA_TYPE, f"horizontalpodautoscaler-{ns}-{target}", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": ns}, "spec": spec}


def pod_spec() -> dict[str, Any]:
    """The compliant baseline's pod spec (a deep copy)."""
    return copy.deepcopy(DEPLOYMENT_PROPS["spec"]["template"]["spec"])


def workload(kind: str = "Deployment", spec: Mapping[str, Any] | None = None,
             name: str = "auth", ns: str = "erp",
             replicas: int | None = None) -> tuple[str, str, dict[str, Any]]:
    """A compliant object of `kind` carrying `spec` (default: the baseline's pod spec) where
    that kind keeps its pods: Pod spec, template, or CronJob's job template."""
    spec = copy.deepcopy(dict(spec)) if spec is not None else pod_spec()
    labels = {"app.kubernetes.io/name": name}
    meta = {"name": name, "namespace": ns, "labels": dict(labels)}
    if kind == "Job":
        spec.setdefault("restartPolicy", "Never")
    if kind == "CronJob":
        spec.setdefault("restartPolicy", "OnFailure")
    template = {"metadata": {"labels": dict(labels),
                             "annotations": {"prometheus.io/scrape": "true"}}, "spec": spec}
    body: dict[str, Any]
    if kind == "Pod":
        return K8S_TYPES[kind], f"pod-{ns}-{name}", {
            "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    if kind == "CronJob":
        body = {"schedule": "0 */6 * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Job":
        body = {"template": template}
    else:
        body = {"selector": {"matchLabels": dict(labels)}, "template": template}
        if kind == "StatefulSet":
            body["serviceName"] = name
        if kind != "DaemonSet" and replicas is not None:
            body["replicas"] = replicas
    return K8S_TYPES[kind], f"{kind.lower()}-{ns}-{name}", {
        "apiVersion": K8S_API[kind], "kind": kind, "metadata": meta, "spec": body}


def k8s_stack(*others: tuple[str, str, Mapping[str, Any]],
              replicas: int = 2) -> Resources:
    """One namespace as the Kubernetes target writes it: Pod Security labels, default deny
    and DNS egress, the workload's ServiceAccount, a replicated Deployment and its budget."""
    return [namespace(), default_deny(), allow_dns(), service_account(),
            workload("Deployment", replicas=replicas), pdb(), *others]  # type: ignore[list-item]


# --- Traefik on Kubernetes: the Traefik workload, its static config in a ConfigMap, the CRD
# provider's Middleware / IngressRoute / TLSOption objects (traefik.io/v1alpha1) ------------

EDGE_NS = "erp-edge"
K8S_TRAEFIK_STATIC: dict[str, Any] = {
    "entryPoints": {
        "web": {"address": ":8000", "http": {"redirections": {"entryPoint": {
            "to": "websecure", "scheme": "https", "permanent": True}}}},
        "websecure": {"address": ":8443", "http": {"tls": {}}},
        "metrics": {"address": ":9100"},
    },
    "api": {"dashboard": True, "insecure": False},
    "ping": {"entryPoint": "metrics"},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "providers": {"kubernetesCRD": {"ingressClass": "traefik"}},
}
K8S_MIDDLEWARES: dict[str, dict[str, Any]] = {
    "security-headers": {"headers": {"stsSeconds": 31536000, "frameDeny": True,
                                     "contentTypeNosniff": True}},
    "cors": {"headers": {"accessControlAllowOriginList": ["https://app.erp.test"]}},
    "rate-limit": {"rateLimit": {"average": 100, "period": "1s", "burst": 50}},
    "admin-allowlist": {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}},
    "admin-auth": {"basicAuth": {"secret": "traefik-admin-htpasswd"}},
}
PUBLIC = ["security-headers", "cors", "rate-limit"]
ADMIN = ["admin-allowlist", "admin-auth", "security-headers", "rate-limit"]


def middleware(name: str, spec: Mapping[str, Any],
               ns: str = EDGE_NS) -> tuple[str, str, dict[str, Any]]:
    return MIDDLEWARE_TYPE, f"middleware-{ns}-{name}", {
        "apiVersion": TRAEFIK_API, "kind": "Middleware",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"app.kubernetes.io/name": "traefik"}},
        "spec": copy.deepcopy(dict(spec))}


def ingress_route(name: str, service: str, middlewares: Sequence[str], ns: str = EDGE_NS,
                  **spec: Any) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {
        "entryPoints": ["websecure"],
        "routes": [{"match": f"Host(`{name}.erp.test`)", "kind": "Rule",
                    "services": [{"name": service, "port": 4000, "namespace": "erp"}]
                    if "@" not in service else [{"name": service, "kind": "TraefikService"}],
                    "middlewares": [{"name": m} for m in middlewares]}],
        "tls": {"secretName": "erp-tls", "options": {"name": "default"}},
        **spec}
    return INGRESS_ROUTE_TYPE, f"ingressroute-{ns}-{name}", {
        "apiVersion": TRAEFIK_API, "kind": "IngressRoute",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"app.kubernetes.io/name": name}},
        "spec": body}


def tls_option(name: str = "default", ns: str = EDGE_NS,
               **spec: Any) -> tuple[str, str, dict[str, Any]]:
    body = {"minVersion": "VersionTLS12", "sniStrict": True, **spec}
    return TLS_OPTION_TYPE, f"tlsoption-{ns}-{name}", {
        "apiVersion": TRAEFIK_API, "kind": "TLSOption",
        "metadata": {"name": name, "namespace": ns}, "spec": body}


def traefik_workload(static: Mapping[str, Any] | None = None,
                     args: Sequence[str] = ()) -> Resources:
    """The Traefik Deployment, the ConfigMap with its static configuration (unless None:
    then `args` carry it), and the LoadBalancer Service publishing web and websecure."""
    import yaml

    spec = pod_spec()
    spec["serviceAccountName"] = "traefik"
    c = spec["containers"][0]
    c.update(name="traefik", image="docker.io/library/traefik:v3.1.4@sha256:" + "b" * 64,
             ports=[{"name": "web", "containerPort": 8000},
                    {"name": "websecure", "containerPort": 8443},
                    {"name": "metrics", "containerPort": 9100}],
             env=[], args=list(args))
    out: Resources = []
    if static is not None:
        spec["volumes"] = [{"name": "static", "configMap": {"name": "traefik-static"}}]
        c["volumeMounts"] = [{"name": "static", "mountPath": "/etc/traefik", "readOnly": True}]
        out.append((CONFIGMAP_TYPE, f"configmap-{EDGE_NS}-traefik-static", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "traefik-static", "namespace": EDGE_NS},
            "data": {"traefik.yml": yaml.safe_dump(dict(static))}}))
    out.insert(0, workload("Deployment", spec, name="traefik", ns=EDGE_NS, replicas=2))
    out.append((SERVICE_TYPE, f"service-{EDGE_NS}-traefik", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "traefik", "namespace": EDGE_NS},
        "spec": {"type": "LoadBalancer",
                 "selector": {"app.kubernetes.io/name": "traefik"},
                 "ports": [{"name": "web", "port": 80, "targetPort": "web"},
                           {"name": "websecure", "port": 443, "targetPort": 8443}]}}))
    return out


def k8s_edge(*others: tuple[str, str, Mapping[str, Any]],
             middlewares: Mapping[str, Mapping[str, Any]] | None = None,
             static: Mapping[str, Any] | None = K8S_TRAEFIK_STATIC) -> Resources:
    """Traefik on Kubernetes with the shared middlewares, the default TLSOption, a public
    and the dashboard IngressRoute."""
    mws = K8S_MIDDLEWARES if middlewares is None else middlewares
    return [
        *traefik_workload(static),
        *(middleware(name, spec) for name, spec in mws.items()),
        tls_option(),
        ingress_route("api-gateway", "api-gateway", PUBLIC),
        ingress_route("traefik", "api@internal", ADMIN),
        *others,  # type: ignore[list-item]
    ]
