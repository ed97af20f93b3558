"""Who may talk to whom: the catalog's edges, and the NetworkPolicies that allow exactly them.

Each namespace denies all ingress and egress by default and allows DNS; then every edge
(client -> server:port) is allowed twice, as the server's ingress and the client's egress.
Edges are the catalog's dependencies, the edge proxy to each routed service, Prometheus to
each metrics port, plus the platform's own: named here, one place (`Edge.why`).

Short names keep working across namespaces: a client's namespace gets an ExternalName alias
`<server>` -> `<server>.<namespace>.svc.cluster.local` for each server living elsewhere.

May import: infra.model and this package's objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.model.types import Platform
from infra.targets.kubernetes.objects import NAMESPACE_NAME, labels, metadata

DNS_PORT = 53
# The API server as pods reach it (its Service's endpoints, after DNAT): control-plane
# addresses vary by cluster, so the stack narrows these (rampart:kubernetes.apiServerCidrs).
API_SERVER_PORTS = (443, 6443)


@dataclass(frozen=True, order=True)
class Peer:
    """A set of pods: a namespace and the labels selecting them."""

    namespace: str
    name: str  # the workload, as reports and errors name it
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True, order=True)
class Edge:
    client: Peer
    server: Peer
    port: int
    why: str  # "depends_on", "route", "scrape", or the platform reason


@dataclass(frozen=True, order=True)
class External:
    """Egress from a workload to addresses outside the cluster's pods."""

    client: Peer
    cidrs: tuple[str, ...]
    excepted: tuple[str, ...]
    ports: tuple[int, ...]
    why: str
    direction: str = "egress"  # or "ingress": from those addresses to the workload


def _peer_term(peer: Peer) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(peer.labels)},
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME: peer.namespace}}}


def _ports(ports: Sequence[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": p, "protocol": protocol} for p in sorted(set(ports))]


def _ip_peers(x: External) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": c, **({"except": list(x.excepted)} if x.excepted else {})}}
            for c in x.cidrs]


def policies(platform: Platform, namespaces: Sequence[str], edges: Sequence[Edge],
             externals: Sequence[External], *, own: set[str]) -> list[dict[str, Any]]:
    """Every NetworkPolicy: per namespace default-deny and DNS, per workload of the `own`
    namespaces its ingress and egress allows (peers elsewhere, such as an operator, only
    appear as sources)."""
    meta_labels = labels(platform)
    out: list[dict[str, Any]] = []
    for ns in sorted(namespaces):
        out.append({"metadata": metadata("default-deny", ns, meta_labels), "spec": {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
        out.append({"metadata": metadata("allow-dns", ns, meta_labels), "spec": {
            "podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": _ports([DNS_PORT], "UDP") + _ports([DNS_PORT], "TCP")}]}})
    servers: dict[Peer, list[Edge]] = {}
    clients: dict[Peer, list[Edge]] = {}
    for e in sorted(set(edges)):
        servers.setdefault(e.server, []).append(e)
        clients.setdefault(e.client, []).append(e)
    inbound_ext: dict[Peer, list[External]] = {}
    by_client_ext: dict[Peer, list[External]] = {}
    for x in sorted(set(externals)):
        (inbound_ext if x.direction == "ingress" else by_client_ext).setdefault(
            x.client, []).append(x)
    for server in sorted(set(servers) | set(inbound_ext)):
        if server.namespace not in own:
            continue
        inbound = servers.get(server, [])
        rules = []
        for port in sorted({e.port for e in inbound}):
            sources = sorted({e.client for e in inbound if e.port == port})
            rules.append({"from": [_peer_term(c) for c in sources], "ports": _ports([port])})
        for x in inbound_ext.get(server, []):
            rules.append({"from": _ip_peers(x), "ports": _ports(x.ports)})
        out.append({"metadata": metadata(f"{server.name}-ingress", server.namespace,
                                         meta_labels), "spec": {
            "podSelector": {"matchLabels": dict(server.labels)},
            "policyTypes": ["Ingress"], "ingress": rules}})
    for client in sorted(set(clients) | set(by_client_ext)):
        if client.namespace not in own:
            continue
        rules = []
        outbound = clients.get(client, [])
        for port in sorted({e.port for e in outbound}):
            targets = sorted({e.server for e in outbound if e.port == port})
            rules.append({"to": [_peer_term(s) for s in targets], "ports": _ports([port])})
        for x in by_client_ext.get(client, []):
            rules.append({"to": _ip_peers(x), "ports": _ports(x.ports)})
        out.append({"metadata": metadata(f"{client.name}-egress", client.namespace,
                                         meta_labels), "spec": {
            "podSelector": {"matchLabels": dict(client.labels)},
            "policyTypes": ["Egress"], "egress": rules}})
    return out


def aliases(platform: Platform, edges: Sequence[Edge], service_names: Mapping[Peer, str],
            *, own: set[str]) -> list[dict[str, Any]]:
    """ExternalName Services so a client finds a server of another namespace by its short
    name, as on the Docker network (`postgres`, `http://minio:9000`)."""
    wanted: dict[tuple[str, str], str] = {}
    for e in edges:
        name = service_names.get(e.server)
        if name is None or e.client.namespace == e.server.namespace \
                or e.client.namespace not in own:
            continue
        wanted[(e.client.namespace, name)] = e.server.namespace
    return [{"metadata": metadata(name, ns, {**labels(platform), "rampart.io/alias-of": target}),
             "spec": {"type": "ExternalName",
                      "externalName": f"{name}.{target}.svc.cluster.local"}}
            for (ns, name), target in sorted(wanted.items())]
