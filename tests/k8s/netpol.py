"""Pod-to-pod reachability from rendered NetworkPolicies (networking.k8s.io/v1), offline.

Issue 14 asks that no pod-to-pod path exist beyond the catalog's edges; with no cluster on
this machine, this module evaluates the policies the way the API reference and the
"Network Policies" concepts page define them, over plain manifest dicts (the recording's
wire form, or YAML read back from `rampart render --format manifests`).

The semantics, as documented upstream:
  - A pod is isolated for ingress (egress) when any NetworkPolicy in its own namespace
    selects it (`spec.podSelector`; `{}` selects every pod of the namespace) and has
    Ingress (Egress) in its policyTypes. An absent or empty policyTypes defaults to
    Ingress, plus Egress when the policy has at least one egress rule (the API server's
    SetDefaults_NetworkPolicy).
  - Policies are additive: an isolated pod accepts (sends) what at least one rule of one
    selecting policy allows. A connection src -> dst needs both halves: src's egress side
    and dst's ingress side.
  - A rule allows traffic matching its peers AND its ports. Absent or empty `from`/`to`
    means every peer; absent or empty `ports` means every port. Peers: podSelector alone =
    those pods in the policy's namespace; namespaceSelector alone = every pod of the
    matching namespaces; both in ONE peer = the matching pods in the matching namespaces
    (separate peers are ORed).
  - Ports: protocol defaults to TCP; no `port` = every port of that protocol; `endPort`
    makes an inclusive range from a numeric `port`; a named port (a string) is resolved
    against the destination pod's container ports, name and protocol both.
  - Label selectors: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) are
    ANDed; NotIn also matches a pod without the key.
  - Namespaces carry `kubernetes.io/metadata.name: <name>`, which the API server sets.

What this model cannot know, stated rather than guessed:
  - Pod IPs. An `ipBlock` peer is treated as matching no pod. That makes reachability an
    under-approximation wherever an ipBlock covers the pod network, so `wide_ip_blocks`
    reports the blocks that cover every address (0.0.0.0/0 or ::/0 with no `except`) for
    tests to refuse.
  - The node. Traffic from a pod's own node (kubelet probes) is always allowed by
    Kubernetes; it is not pod-to-pod and is not modelled.
  - A pod talking to itself is always allowed by Kubernetes; a `Pod` here stands for
    every replica of a workload, so `allowed(x, x, ...)` answers for replica-to-replica
    traffic and `reachability` leaves same-workload pairs out.

Workloads read: Deployment, StatefulSet, DaemonSet, ReplicaSet (apps/v1), Job, CronJob
(batch/v1), Pod (v1), plus the pods operators create from custom resources — CloudNativePG
`Cluster` and Prometheus Operator `Prometheus`/`Alertmanager` — with the labels and
container ports those operators' pod builders set. Services and every other kind are
ignored. Invalid NetworkPolicies (ones the API server would reject) raise ValueError
rather than being half-understood.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml

Manifest = Mapping[str, Any]
Direction = Literal["Ingress", "Egress"]
Connection = tuple[str, str, int, str]

NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAMESPACE = "default"
PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
DIRECTIONS: tuple[Direction, ...] = ("Ingress", "Egress")

# Where a built-in workload keeps its pod template, by (API group, kind).
_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
}
CNPG_GROUP = "postgresql.cnpg.io"
MONITORING_GROUP = "monitoring.coreos.com"
_OPERATED = {
    (CNPG_GROUP, "Cluster"), (MONITORING_GROUP, "Prometheus"), (MONITORING_GROUP, "Alertmanager"),
}

# The cluster DNS pods `dns_egress` aims at: CoreDNS keeps the kube-dns label for
# compatibility, and its Deployment names its ports dns (UDP) and dns-tcp (TCP).
DNS_NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_PORTS = {"dns": (53, "UDP"), "dns-tcp": (53, "TCP"), "metrics": (9153, "TCP")}


@dataclass(frozen=True)
class Pod:
    """The pods of one workload, as NetworkPolicy sees them: where they run, their labels
    and their containers' ports (`{name: (port, protocol)}`; an unnamed port is keyed
    `"<port>/<protocol>"`, which no valid port name can equal, so named-port lookups never
    hit it). Identity is namespace, kind and name."""

    namespace: str
    kind: str
    name: str
    labels: Mapping[str, str] = field(compare=False)
    ports: Mapping[str, tuple[int, str]] = field(compare=False)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def declared(self) -> list[tuple[int, str]]:
        """The distinct (port, protocol) pairs the containers declare, sorted."""
        return sorted(set(self.ports.values()))


class WideBlock(NamedTuple):
    """An ipBlock that admits every address of its family."""

    namespace: str
    policy: str
    direction: Direction
    cidr: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.policy} {self.direction.lower()} ipBlock {self.cidr}"


# --- label selectors -------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """A metav1.LabelSelector; requirements are ANDed, the empty selector matches all."""

    requirements: tuple[tuple[str, str, frozenset[str]], ...]

    @classmethod
    def parse(cls, raw: Any, where: str) -> Selector:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: a label selector must be a mapping, got {raw!r}")
        unknown = set(raw) - {"matchLabels", "matchExpressions"}
        if unknown:
            raise ValueError(f"{where}: unknown label selector fields {sorted(unknown)}")
        reqs: list[tuple[str, str, frozenset[str]]] = []
        for key, value in (raw.get("matchLabels") or {}).items():
            reqs.append((str(key), "In", frozenset({str(value)})))
        for expr in raw.get("matchExpressions") or []:
            key, op = expr.get("key"), expr.get("operator")
            values = expr.get("values") or []
            if not key:
                raise ValueError(f"{where}: matchExpressions entry without a key: {expr!r}")
            if op in ("In", "NotIn"):
                if not values:
                    raise ValueError(f"{where}: {op} on {key!r} needs at least one value")
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    raise ValueError(f"{where}: {op} on {key!r} takes no values")
            else:
                raise ValueError(f"{where}: unknown selector operator {op!r} on {key!r}")
            reqs.append((str(key), str(op), frozenset(str(v) for v in values)))
        return cls(tuple(reqs))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, op, values in self.requirements:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True


# --- policies --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Peer:
    pods: Selector | None
    namespaces: Selector | None
    cidr: str | None

    def admits(self, policy_ns: str, pod: Pod, ns_labels: Mapping[str, str]) -> bool:
        if self.cidr is not None:
            return False  # pod IPs are unknown offline: see the module docstring
        if self.namespaces is None:
            in_scope = pod.namespace == policy_ns
        else:
            in_scope = self.namespaces.matches(ns_labels)
        return in_scope and (self.pods is None or self.pods.matches(pod.labels))


@dataclass(frozen=True)
class _Port:
    protocol: str
    port: int | str | None
    end_port: int | None

    def admits(self, dst: Pod, port: int, protocol: str) -> bool:
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return dst.ports.get(self.port) == (port, protocol)
        high = self.port if self.end_port is None else self.end_port
        return self.port <= port <= high


@dataclass(frozen=True)
class _Rule:
    peers: tuple[_Peer, ...] | None  # None: every peer
    ports: tuple[_Port, ...] | None  # None: every port

    def admits(
        self, policy_ns: str, peer: Pod, peer_ns_labels: Mapping[str, str],
        dst: Pod, port: int, protocol: str,
    ) -> bool:
        if self.peers is not None and not any(
            p.admits(policy_ns, peer, peer_ns_labels) for p in self.peers
        ):
            return False
        return self.ports is None or any(p.admits(dst, port, protocol) for p in self.ports)


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    selector: Selector
    types: frozenset[str]
    ingress: tuple[_Rule, ...]
    egress: tuple[_Rule, ...]
    wide: tuple[WideBlock, ...]

    def rules(self, direction: Direction) -> tuple[_Rule, ...]:
        return self.ingress if direction == "Ingress" else self.egress


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_port(raw: Any, where: str) -> _Port:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a port entry must be a mapping, got {raw!r}")
    protocol = raw.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise ValueError(f"{where}: unknown protocol {protocol!r}")
    port, end_port = raw.get("port"), raw.get("endPort")
    if port is None or isinstance(port, str):
        if end_port is not None:  # the API rejects a range from a name or from nothing
            raise ValueError(f"{where}: endPort needs a numeric port, got {port!r}")
        return _Port(protocol, port, None)
    if not _is_int(port) or not 1 <= port <= 65535:
        raise ValueError(f"{where}: port must be a name or a number in 1..65535, got {port!r}")
    if end_port is not None and (not _is_int(end_port) or not port <= end_port <= 65535):
        raise ValueError(f"{where}: endPort {end_port!r} must be a number in {port}..65535")
    return _Port(protocol, int(port), None if end_port is None else int(end_port))


def _parse_peer(raw: Any, where: str) -> _Peer:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a peer must be a mapping, got {raw!r}")
    pods, namespaces, block = raw.get("podSelector"), raw.get("namespaceSelector"), raw.get(
        "ipBlock"
    )
    if block is not None:
        if pods is not None or namespaces is not None:
            raise ValueError(f"{where}: ipBlock cannot be combined with selectors")
        cidr = block.get("cidr") if isinstance(block, Mapping) else None
        if not cidr:
            raise ValueError(f"{where}: ipBlock without a cidr")
        ipaddress.ip_network(cidr, strict=False)  # raises on a malformed CIDR
        return _Peer(None, None, str(cidr))
    if pods is None and namespaces is None:
        raise ValueError(f"{where}: a peer needs podSelector, namespaceSelector or ipBlock")
    return _Peer(
        None if pods is None else Selector.parse(pods, f"{where}.podSelector"),
        None if namespaces is None else Selector.parse(namespaces, f"{where}.namespaceSelector"),
        None,
    )


def _parse_rule(raw: Any, peers_key: str, where: str) -> tuple[_Rule, list[str]]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a rule must be a mapping, got {raw!r}")
    raw_peers = raw.get(peers_key) or []
    raw_ports = raw.get("ports") or []
    peers = tuple(_parse_peer(p, f"{where}.{peers_key}[{i}]") for i, p in enumerate(raw_peers))
    ports = tuple(_parse_port(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports))
    wide = [
        p.cidr for p, r in zip(peers, raw_peers, strict=True)
        if p.cidr is not None
        and ipaddress.ip_network(p.cidr, strict=False).prefixlen == 0
        and not (r["ipBlock"].get("except") or [])
    ]
    return _Rule(peers or None, ports or None), wide


def parse_policy(manifest: Manifest) -> Policy:
    meta = manifest.get("metadata") or {}
    name = meta.get("name")
    if not name:
        raise ValueError(f"NetworkPolicy without metadata.name: {manifest!r}")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    where = f"NetworkPolicy {namespace}/{name}"
    spec = manifest.get("spec") or {}
    if "podSelector" not in spec or spec["podSelector"] is None:
        raise ValueError(f"{where}: spec.podSelector is required (use {{}} for every pod)")
    selector = Selector.parse(spec["podSelector"], f"{where}.spec.podSelector")
    raw_types = spec.get("policyTypes") or []
    if raw_types:
        if not set(raw_types) <= set(DIRECTIONS):
            raise ValueError(f"{where}: policyTypes {raw_types!r} must be Ingress and/or Egress")
        types = frozenset(raw_types)
    else:  # SetDefaults_NetworkPolicy: Ingress always, Egress only with egress rules
        types = frozenset({"Ingress", *(["Egress"] if spec.get("egress") else [])})
    rules: dict[str, list[_Rule]] = {"Ingress": [], "Egress": []}
    wide: list[WideBlock] = []
    sections: tuple[tuple[Direction, str, str], ...] = (
        ("Ingress", "ingress", "from"), ("Egress", "egress", "to"),
    )
    for direction, key, peers_key in sections:
        for i, raw in enumerate(spec.get(key) or []):
            rule, cidrs = _parse_rule(raw, peers_key, f"{where}.spec.{key}[{i}]")
            rules[direction].append(rule)
            if direction in types:  # a rule of a type the policy does not have is inert
                wide.extend(WideBlock(namespace, name, direction, c) for c in cidrs)
    return Policy(
        namespace, name, selector, types, tuple(rules["Ingress"]), tuple(rules["Egress"]),
        tuple(wide),
    )


# --- workloads -------------------------------------------------------------------------


def _group_kind(manifest: Manifest) -> tuple[str, str]:
    api = str(manifest.get("apiVersion") or "")
    return (api.split("/")[0] if "/" in api else "", str(manifest.get("kind") or ""))


def _dig(obj: Any, path: Iterable[str]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _container_ports(pod_spec: Mapping[str, Any], where: str) -> dict[str, tuple[int, str]]:
    # Native sidecars (init containers that keep running) serve traffic like containers.
    containers = list(pod_spec.get("containers") or []) + [
        c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    ports: dict[str, tuple[int, str]] = {}
    for container in containers:
        for raw in container.get("ports") or []:
            number, protocol = raw.get("containerPort"), raw.get("protocol") or "TCP"
            if not _is_int(number):
                raise ValueError(f"{where}: containerPort {number!r} is not a number")
            key = raw.get("name") or f"{number}/{protocol}"
            if ports.get(key, (number, protocol)) != (number, protocol):
                raise ValueError(f"{where}: port name {key!r} is declared twice")
            ports[key] = (number, protocol)
    return ports


def _operator_pod(
    manifest: Manifest, group: str, kind: str
) -> tuple[dict[str, str], dict[str, tuple[int, str]]]:
    """Labels and ports of the pods an operator builds from a custom resource, after the
    operators' pod builders (CloudNativePG pkg/specs/pods.go; prometheus-operator
    pkg/prometheus/server/statefulset.go and pkg/alertmanager/statefulset.go)."""
    name = manifest["metadata"]["name"]
    spec = manifest.get("spec") or {}
    if (group, kind) == (CNPG_GROUP, "Cluster"):
        labels = dict(_dig(spec, ("inheritedMetadata", "labels")) or {})
        labels |= {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}
        return labels, {
            "postgresql": (5432, "TCP"), "metrics": (9187, "TCP"), "status": (8000, "TCP"),
        }
    labels = dict(_dig(spec, ("podMetadata", "labels")) or {})
    labels |= {
        "app.kubernetes.io/name": kind.lower(),
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name,
        kind.lower(): name,
    }
    local = bool(spec.get("listenLocal"))
    ports: dict[str, tuple[int, str]] = {}
    if kind == "Prometheus":
        if (spec.get("shards") or 1) > 1:
            raise ValueError(f"Prometheus {name}: sharded Prometheus is not modelled")
        labels |= {"operator.prometheus.io/name": name, "operator.prometheus.io/shard": "0"}
        if not local:
            ports[spec.get("portName") or "web"] = (9090, "TCP")
        if spec.get("thanos") is not None:
            ports |= {"grpc": (10901, "TCP"), "http": (10902, "TCP")}
    else:
        if not local:
            ports[spec.get("portName") or "web"] = (9093, "TCP")
        ports |= {"mesh-tcp": (9094, "TCP"), "mesh-udp": (9094, "UDP")}
    if not local:
        ports["reloader-web"] = (8080, "TCP")  # the config-reloader sidecar
    return labels, ports


def _workload(manifest: Manifest) -> Pod | None:
    group, kind = _group_kind(manifest)
    meta = manifest.get("metadata") or {}
    path = _TEMPLATES.get((group, kind))
    is_pod = (group, kind) == ("", "Pod")
    if path is None and not is_pod and (group, kind) not in _OPERATED:
        return None
    if not meta.get("name"):
        raise ValueError(f"{kind} without metadata.name: {manifest!r}")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    where = f"{kind} {namespace}/{meta['name']}"
    if path is not None or is_pod:
        template = manifest if is_pod else _dig(manifest, path or ())
        if not isinstance(template, Mapping):
            raise ValueError(f"{where}: no pod template at {'.'.join(path or ())}")
        labels = dict(_dig(template, ("metadata", "labels")) or {})
        ports = _container_ports(template.get("spec") or {}, where)
        return Pod(namespace, kind, meta["name"], labels, ports)
    labels, ports = _operator_pod(manifest, group, kind)
    return Pod(namespace, kind, meta["name"], labels, ports)


# --- the network -----------------------------------------------------------------------


class Network:
    """Everything parsed once: namespaces and their labels, workload pods, policies."""

    def __init__(self, manifests: Iterable[Manifest]) -> None:
        manifests = list(manifests)
        self.policies: list[Policy] = []
        self.pods: list[Pod] = []
        declared: dict[str, dict[str, str]] = {}
        for m in manifests:
            group, kind = _group_kind(m)
            if kind == "NetworkPolicy":
                if m.get("apiVersion") != "networking.k8s.io/v1":
                    raise ValueError(f"NetworkPolicy with apiVersion {m.get('apiVersion')!r}")
                self.policies.append(parse_policy(m))
            elif (group, kind) == ("", "Namespace"):
                meta = m.get("metadata") or {}
                declared[meta["name"]] = dict(meta.get("labels") or {})
            elif (pod := _workload(m)) is not None:
                self.pods.append(pod)
        seen: dict[str, Pod] = {}
        for pod in self.pods:
            if pod.id in seen:
                raise ValueError(
                    f"two workloads are both {pod.id!r} ({seen[pod.id].kind} and {pod.kind}):"
                    " reachability names workloads by namespace/name"
                )
            seen[pod.id] = pod
        self._declared = declared
        self._selecting: dict[tuple[object, ...], list[Policy]] = {}

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """A namespace's labels; one with no manifest (kube-system, default) still exists
        and carries the label the API server sets on every namespace."""
        return {**self._declared.get(namespace, {}), NAME_LABEL: namespace}

    def selecting(self, pod: Pod, direction: Direction) -> list[Policy]:
        """The policies that select `pod` for `direction` (its own namespace only)."""
        # Keyed by labels too: a caller may pass a Pod it built, sharing a workload's id.
        key = (pod.namespace, tuple(sorted(pod.labels.items())), direction)
        if key not in self._selecting:
            self._selecting[key] = [
                p for p in self.policies
                if p.namespace == pod.namespace and direction in p.types
                and p.selector.matches(pod.labels)
            ]
        return self._selecting[key]

    def isolated(self, pod: Pod, direction: Direction) -> bool:
        return bool(self.selecting(pod, direction))

    def _side(self, src: Pod, dst: Pod, port: int, protocol: str, direction: Direction) -> bool:
        subject, peer = (dst, src) if direction == "Ingress" else (src, dst)
        policies = self.selecting(subject, direction)
        if not policies:
            return True
        peer_ns = self.namespace_labels(peer.namespace)
        return any(
            rule.admits(policy.namespace, peer, peer_ns, dst, port, protocol)
            for policy in policies for rule in policy.rules(direction)
        )

    def allowed(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}")
        return self._side(src, dst, port, protocol, "Egress") and self._side(
            src, dst, port, protocol, "Ingress"
        )

    def reachability(self) -> set[Connection]:
        return {
            (src.id, dst.id, port, protocol)
            for dst in self.pods for port, protocol in dst.declared()
            for src in self.pods
            if src.id != dst.id and self.allowed(src, dst, port, protocol)
        }

    def dns_pod(self) -> Pod:
        return Pod(DNS_NAMESPACE, "Deployment", "coredns", dict(DNS_LABELS), dict(DNS_PORTS))

    def wide_ip_blocks(self) -> list[WideBlock]:
        return [w for p in self.policies for w in p.wide]


# --- the API tests use ------------------------------------------------------------------


def pods(manifests: Iterable[Manifest]) -> list[Pod]:
    return Network(manifests).pods


def isolated(manifests: Iterable[Manifest], pod: Pod, direction: Direction) -> bool:
    return Network(manifests).isolated(pod, direction)


def allowed(
    manifests: Iterable[Manifest], src: Pod, dst: Pod, port: int, protocol: str = "TCP"
) -> bool:
    return Network(manifests).allowed(src, dst, port, protocol)


def reachability(manifests: Iterable[Manifest]) -> set[Connection]:
    """Every (src "ns/name", dst "ns/name", port, protocol) the policies allow between two
    distinct workloads, for each port the destination's containers declare."""
    return Network(manifests).reachability()


def dns_egress(manifests: Iterable[Manifest], pod: Pod, protocol: str = "UDP") -> bool:
    """Whether `pod` may query the cluster DNS (kube-system pods k8s-app=kube-dns, port 53).
    kube-system's own policies count if the manifests carry any; normally they do not."""
    net = Network(manifests)
    return net.allowed(pod, net.dns_pod(), 53, protocol)


def wide_ip_blocks(manifests: Iterable[Manifest]) -> list[WideBlock]:
    """ipBlocks of 0.0.0.0/0 or ::/0 without `except`, in rules of a type their policy has:
    each admits every pod too, which reachability cannot see (pod IPs are unknown)."""
    return Network(manifests).wide_ip_blocks()


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Manifests from multi-document YAML files (or directories of *.yaml/*.yml), in order;
    `kind: List` documents are flattened."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")):
                if not doc:
                    continue
                docs.extend((doc.get("items") or []) if doc.get("kind") == "List" else [doc])
    return docs
