"""The rule contract shared by every policy module, the pack wiring and the offline check.

A rule is metadata (`Rule`) plus one pure function. Resource rules see one resource's type
token and its inputs in wire (camelCase) form; stack rules see every resource. Both return
`Finding`s and never raise on missing properties: a missing property is judged like any other
value (usually "not set, so not compliant"). Values the engine cannot know yet during a
preview arrive as `UNKNOWN` and are never judged.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from infra import source_url

# The same repository base the alert runbook links use (infra/observability/settings.py).
# The rules' documentation, under the project's source URL (pyproject `[project.urls]`).
DOCS = f"{source_url()}/docs/policies.md"

# The recording engine writes secret inputs as this marker; a value equal to it came from a
# `pulumi.Output.secret`, never from a literal in code or config.
SECRET = "[secret]"  # noqa: S105 - a redaction marker, not a password


class _Unknown:
    """A value the engine only learns during `up` (e.g. an image id during a first preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class Plain(dict):  # type: ignore[type-arg]
    """Inputs already in rule form (plain values, UNKNOWN, SECRET): the offline check builds
    these once per resource, so the pack wiring does not convert them again per policy."""


@functools.lru_cache(maxsize=256)
def parse_yaml(text: str) -> Any:
    """Parse an uploaded config file once per run (several rules read the same file).

    The result is shared between callers: treat it as read-only."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return None


class Level(enum.StrEnum):
    MANDATORY = "mandatory"  # blocks `pulumi up` and fails `rampart policy check`
    ADVISORY = "advisory"  # reported, never blocks


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: type token, logical name, URN, wire-form inputs."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """One violation a rule found.

    `urn` names the resource at fault (stack rules must set it when they can; resource rules
    leave it to the caller). `service` and `field` help the offline report point at the
    catalog line that caused it."""

    message: str
    urn: str | None = None
    service: str | None = None
    field: str | None = None
    # What in the resource the finding is about (a host path, a port, a capability, an env
    # key; a field name when nothing narrower exists). A waiver names it: a finding without
    # one can never be waived (policies/settings.py, docs/policies.md#waivers).
    subject: str | None = None


@dataclass(frozen=True)
class Context:
    """Stack settings a rule may consult (read once per run by `policies.settings`)."""

    require_digests: bool = False
    allowed_capabilities: frozenset[str] = frozenset(
        {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "NET_BIND_SERVICE"}
    )
    edge_proxies: frozenset[str] = frozenset({"traefik"})
    # IP allowlists (traefik-allowlist-bounded): the shortest prefix one entry may have, and
    # the share of an address family the union of the entries must stay below (1 = anything
    # short of the whole family).
    allowlist_min_prefix: int = 8
    allowlist_max_share: float = 1.0
    # Waivers and the date they are judged on: only the waiver rules read these; every other
    # rule is waived by the pack wiring, never by itself.
    waivers: tuple[Any, ...] = ()
    today: dt.date = dt.date(1970, 1, 1)
    # Every rule's name, for the waiver rules (a waiver naming no rule is invalid); the pack
    # wiring (policies.pack) fills it from the registry, which imports the rules.
    rule_names: frozenset[str] = frozenset()


ResourceCheck = Callable[[str, Mapping[str, Any], Context], Iterable[Finding]]
StackCheck = Callable[[Sequence[Resource], Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str  # kebab-case, unique in the pack
    description: str
    severity: Severity
    remediation: str
    level: Level = Level.MANDATORY
    check_resource: ResourceCheck | None = None
    check_stack: StackCheck | None = None
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.name):
            raise ValueError(f"rule name {self.name!r} is not kebab-case")
        if (self.check_resource is None) == (self.check_stack is None):
            raise ValueError(f"rule {self.name} needs exactly one of check_resource/check_stack")

    @property
    def url(self) -> str:
        return f"{DOCS}#{self.name}"

    @property
    def is_stack_rule(self) -> bool:
        return self.check_stack is not None


# ---------------------------------------------------------------------------------------------
# Type tokens the rules judge.

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_NETWORK = "docker:index/network:Network"

K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_CONFIGMAP = "kubernetes:core/v1:ConfigMap"
K8S_PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
K8S_SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
K8S_WORKLOADS = frozenset({K8S_DEPLOYMENT, K8S_STATEFULSET, K8S_DAEMONSET})

# Every kind that carries a pod template, whatever its API version (`apps/v1beta2`,
# `extensions/v1beta1`) and including server-side-apply patches (`DeploymentPatch`): each can
# start a privileged pod, so the isolation rules judge them all. Jobs run to completion.
_K8S_TOKEN = re.compile(r"kubernetes:[^:]+:(?P<kind>[A-Za-z]+?)(?:Patch)?")
POD_TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"})
BATCH_KINDS = frozenset({"Job", "CronJob"})


def k8s_kind(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:DeploymentPatch` -> `Deployment`; None for other providers."""
    m = _K8S_TOKEN.fullmatch(resource_type)
    return m.group("kind") if m else None


def pod_spec_path(resource_type: str) -> tuple[str, ...] | None:
    """Where a Kubernetes resource keeps its pod spec; None when it has none."""
    kind = k8s_kind(resource_type)
    if kind == "Pod":
        return ("spec",)
    if kind in POD_TEMPLATE_KINDS:
        return ("spec", "template", "spec")
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    return None


def pod_metadata_path(resource_type: str) -> tuple[str, ...] | None:
    """Where a Kubernetes resource keeps its pods' metadata (labels); None without pods."""
    path = pod_spec_path(resource_type)
    if path is None:
        return None
    return path[:-1] + ("metadata",)


# ---------------------------------------------------------------------------------------------
# Small readers over wire-form inputs. They tolerate missing and UNKNOWN values so rules stay
# short; "missing" comes back as the default.


def known(value: Any) -> bool:
    return value is not UNKNOWN


def get(props: Mapping[str, Any] | None, *path: str | int, default: Any = None) -> Any:
    """Walk `path` through nested mappings/lists; `default` when any step is missing."""
    cur: Any = props
    for step in path:
        if cur is None or cur is UNKNOWN:
            return default if cur is None else UNKNOWN
        if isinstance(step, int):
            if not isinstance(cur, Sequence) or isinstance(cur, str) or step >= len(cur):
                return default
            cur = cur[step]
        else:
            if not isinstance(cur, Mapping) or step not in cur:
                return default
            cur = cur[step]
    return default if cur is None else cur


def as_list(value: Any) -> list[Any]:
    if value is None or value is UNKNOWN or isinstance(value, str):
        return []
    if isinstance(value, Sequence):
        return list(value)
    return []


def docker_labels(props: Mapping[str, Any]) -> dict[str, str]:
    """`labels: [{label, value}]` (pulumi-docker wire form) as a plain dict."""
    out: dict[str, str] = {}
    for item in as_list(props.get("labels")):
        if isinstance(item, Mapping) and isinstance(item.get("label"), str):
            value = item.get("value")
            out[item["label"]] = value if isinstance(value, str) else str(value)
    return out


def docker_envs(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`envs: ["K=V", ...]` as pairs; a redacted whole list yields nothing to judge."""
    pairs = []
    for item in as_list(props.get("envs")):
        if isinstance(item, str):
            key, _, value = item.partition("=")
            pairs.append((key, value))
    return pairs


def service_name(resource_type: str, props: Mapping[str, Any], fallback: str | None = None) -> str:
    """The catalog service a resource belongs to, for messages and report locations.

    Docker containers carry `rampart.service`; Kubernetes objects carry the recommended
    `app.kubernetes.io/name` label. The container name (or logical name) is the fallback."""
    if resource_type == CONTAINER:
        labels = docker_labels(props)
        for key in ("rampart.service", "com.docker.compose.service"):
            if labels.get(key):
                return labels[key]
        name = props.get("name")
        if isinstance(name, str) and name:
            return name
    elif resource_type.startswith("kubernetes:"):
        labels = get(props, "metadata", "labels", default={})
        if isinstance(labels, Mapping):
            for key in ("app.kubernetes.io/name", "app"):
                if isinstance(labels.get(key), str):
                    return labels[key]
        name = get(props, "metadata", "name")
        if isinstance(name, str):
            return name
    return fallback or ""


ONE_SHOT_ROLES = frozenset({"volume-init", "init", "job"})


def is_one_shot(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A container that runs to completion once (a volume-ownership init, a migration job):
    `attach: true` makes the engine wait for it to exit. Health checks, restart policies,
    backups and scraping are about long-running services, not about these."""
    if resource_type != CONTAINER:
        return False
    if props.get("attach") is True:
        return True
    return docker_labels(props).get("rampart.role") in ONE_SHOT_ROLES


def is_edge_proxy(resource_type: str, props: Mapping[str, Any], ctx: Context) -> bool:
    """The edge proxy is the one component allowed to publish ports to the host."""
    if resource_type == CONTAINER:
        labels = docker_labels(props)
        if labels.get("rampart.role") == "edge-proxy":
            return True
    return service_name(resource_type, props) in ctx.edge_proxies


# ---------------------------------------------------------------------------------------------
# Kubernetes pod specs: every workload kind reduces to (pod spec, containers).


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = pod_spec_path(resource_type)
    if path is None:
        return None
    spec = get(props, *path)
    return spec if isinstance(spec, Mapping) else {}


def is_batch(resource_type: str) -> bool:
    """A Kubernetes Job or CronJob: its pods exit by design (no probes, no restarts)."""
    return k8s_kind(resource_type) in BATCH_KINDS


def pod_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Regular, init and ephemeral containers (all run with the pod's privileges)."""
    out: list[Mapping[str, Any]] = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out.extend(c for c in as_list(spec.get(key)) if isinstance(c, Mapping))
    return out


CONTAINER_ROLES = {"initContainers": "init container", "containers": "container",
                   "ephemeralContainers": "ephemeral container"}


def pod_containers_by_role(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(`container` | `init container` | `ephemeral container`, container) for messages."""
    return [(role, c) for key, role in CONTAINER_ROLES.items()
            for c in as_list(spec.get(key)) if isinstance(c, Mapping)]


def app_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in as_list(spec.get("containers")) if isinstance(c, Mapping)]


def cname(container: Mapping[str, Any]) -> str:
    name = container.get("name")
    return name if isinstance(name, str) else "?"


# ---------------------------------------------------------------------------------------------
# Kubernetes objects as a whole: names, namespaces, pod labels and label selectors. The API
# server reads field names and label keys exactly as written (case-sensitive): these readers
# never fold a key.


def k8s_name(res: Resource) -> str:
    """`metadata.name`; the logical name when the program leaves naming to Pulumi."""
    name = get(res.props, "metadata", "name")
    return name if isinstance(name, str) and name else res.name


def k8s_namespace(props: Mapping[str, Any]) -> str:
    """The namespace a namespaced object lands in: `metadata.namespace`, else `default` (the
    provider's default namespace, which is the cluster's `default` unless configured)."""
    ns = get(props, "metadata", "namespace")
    return ns if isinstance(ns, str) and ns else "default"


def k8s_label(props: Mapping[str, Any], key: str) -> Any:
    labels = get(props, "metadata", "labels", default={})
    return labels.get(key) if isinstance(labels, Mapping) else None


def pod_labels(resource_type: str, props: Mapping[str, Any]) -> dict[str, str]:
    """The labels a workload's pods carry (what selectors match), never the workload's own
    metadata labels: a selector matching only those selects no pod."""
    path = pod_metadata_path(resource_type)
    labels = get(props, *path, "labels", default={}) if path else {}
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): v for k, v in labels.items() if isinstance(v, str)}


def selects(selector: Any, labels: Mapping[str, str], empty_selects_all: bool = True) -> bool:
    """Whether a `LabelSelector` (matchLabels + matchExpressions) selects these labels. An empty
    selector selects everything (PodDisruptionBudget policy/v1, NetworkPolicy podSelector); a
    missing one selects nothing. A selector the pack cannot read selects nothing."""
    if selector is None or selector is UNKNOWN or not isinstance(selector, Mapping):
        return False
    match = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match, Mapping) or not isinstance(expressions, Sequence) \
            or isinstance(expressions, str):
        return False
    if not match and not expressions:
        return empty_selects_all
    if any(labels.get(str(k)) != v for k, v in match.items()):
        return False
    for expr in expressions:
        if not isinstance(expr, Mapping):
            return False
        key, op = expr.get("key"), expr.get("operator")
        values = [v for v in as_list(expr.get("values")) if isinstance(v, str)]
        present = isinstance(key, str) and key in labels
        value = labels.get(key) if isinstance(key, str) else None
        if op == "In" and not (present and value in values):
            return False
        if op == "NotIn" and present and value in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def describe(res: Resource) -> str:
    """`Deployment erp-core/auth` for messages: the kind and where the object lives."""
    kind = k8s_kind(res.type) or res.type
    ns = get(res.props, "metadata", "namespace")
    where = f"{ns}/" if isinstance(ns, str) and ns else ""
    return f"{kind} {where}{k8s_name(res)}"
