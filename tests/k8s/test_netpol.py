"""The NetworkPolicy evaluator of tests/k8s/netpol.py, held to the semantics of the
networking.k8s.io/v1 API reference and the "Network Policies" concepts page: one test per
rule, then properties over generated namespaces, workloads and policies."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from k8s.netpol import (
    DIRECTIONS,
    NAME_LABEL,
    Network,
    Pod,
    WideBlock,
    allowed,
    dns_egress,
    isolated,
    load,
    pods,
    reachability,
    wide_ip_blocks,
)

pytestmark = pytest.mark.unit

Manifest = dict[str, Any]
HTTP = (("http", 8080, "TCP"),)


# --- manifest builders -------------------------------------------------------------------


def namespace(name: str, **labels: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def container_ports(ports: tuple[tuple[str | None, int, str], ...]) -> list[dict[str, Any]]:
    out = []
    for name, number, protocol in ports:
        entry: dict[str, Any] = {"containerPort": number, "protocol": protocol}
        if name:
            entry["name"] = name
        out.append(entry)
    return out


def deployment(
    name: str, ns: str, labels: dict[str, str] | None = None,
    ports: tuple[tuple[str | None, int, str], ...] = HTTP,
) -> Manifest:
    labels = {"app.kubernetes.io/name": name} if labels is None else labels
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "x",
                                         "ports": container_ports(ports)}]},
            },
        },
    }


def policy(
    name: str, ns: str, selector: dict[str, Any] | None = None, *,
    types: list[str] | None = None, ingress: list[Any] | None = None,
    egress: list[Any] | None = None,
) -> Manifest:
    spec: dict[str, Any] = {"podSelector": {} if selector is None else selector}
    if types is not None:
        spec["policyTypes"] = types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns}, "spec": spec,
    }


def default_deny(ns: str) -> Manifest:
    return policy("default-deny", ns, types=["Ingress", "Egress"])


def app(name: str) -> dict[str, Any]:
    return {"matchLabels": {"app.kubernetes.io/name": name}}


def ns_is(name: str) -> dict[str, Any]:
    return {"matchLabels": {NAME_LABEL: name}}


def tcp(port: int | str) -> dict[str, Any]:
    return {"port": port, "protocol": "TCP"}


def pod(manifests: list[Manifest], name: str) -> Pod:
    (found,) = [p for p in pods(manifests) if p.name == name]
    return found


def sources(manifests: list[Manifest], dst: str, port: int = 8080) -> set[str]:
    return {s for s, d, p, _ in reachability(manifests) if d.endswith(f"/{dst}") and p == port}


# --- isolation and the two halves of a connection -------------------------------------


def test_without_policies_every_workload_reaches_every_declared_port() -> None:
    m = [
        deployment("web", "a"),
        deployment("db", "b", ports=(("pg", 5432, "TCP"), ("metrics", 9187, "TCP"))),
    ]
    assert reachability(m) == {
        ("a/web", "b/db", 5432, "TCP"), ("a/web", "b/db", 9187, "TCP"),
        ("b/db", "a/web", 8080, "TCP"),
    }


def test_default_deny_isolates_both_ways() -> None:
    m = [deployment("web", "a"), deployment("api", "a"), deployment("open", "b"),
         deployment("open2", "b"), default_deny("a")]
    web, api, open_, open2 = (pod(m, n) for n in ("web", "api", "open", "open2"))
    assert isolated(m, web, "Ingress") and isolated(m, web, "Egress")
    assert not isolated(m, open_, "Ingress") and not isolated(m, open_, "Egress")
    assert not allowed(m, web, api, 8080), "within the denied namespace"
    assert not allowed(m, open_, web, 8080), "into the denied namespace (ingress side)"
    assert not allowed(m, web, open_, 8080), "out of the denied namespace (egress side)"
    assert allowed(m, open_, open2, 8080), "a namespace without policies stays open"


@pytest.mark.parametrize(
    ("with_egress", "with_ingress", "expected"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
    ids=["neither", "egress-only", "ingress-only", "both"],
)
def test_a_connection_needs_the_egress_and_the_ingress_half(
    with_egress: bool, with_ingress: bool, expected: bool
) -> None:
    m = [deployment("client", "c"), deployment("server", "s"), default_deny("c"),
         default_deny("s")]
    peer_to = [{"podSelector": app("server"), "namespaceSelector": ns_is("s")}]
    peer_from = [{"podSelector": app("client"), "namespaceSelector": ns_is("c")}]
    if with_egress:
        m.append(policy("client-egress", "c", app("client"), types=["Egress"],
                        egress=[{"to": peer_to, "ports": [tcp(8080)]}]))
    if with_ingress:
        m.append(policy("server-ingress", "s", app("server"), types=["Ingress"],
                        ingress=[{"from": peer_from, "ports": [tcp(8080)]}]))
    assert allowed(m, pod(m, "client"), pod(m, "server"), 8080) is expected
    assert not allowed(m, pod(m, "server"), pod(m, "client"), 8080), "rules are one-way"


def test_an_ingress_allow_suffices_when_the_source_is_not_egress_isolated() -> None:
    m = [deployment("client", "c"), deployment("server", "s"), default_deny("s"),
         policy("server-ingress", "s", app("server"),
                ingress=[{"from": [{"namespaceSelector": ns_is("c")}]}])]
    assert allowed(m, pod(m, "client"), pod(m, "server"), 8080)


# --- peers ------------------------------------------------------------------------------


def _peer_world(peers: list[dict[str, Any]]) -> list[Manifest]:
    return [
        namespace("alice", user="alice"), namespace("bob", user="bob"), namespace("srv"),
        deployment("a-client", "alice", {"role": "client"}),
        deployment("a-other", "alice", {"role": "other"}),
        deployment("b-client", "bob", {"role": "client"}),
        deployment("s-client", "srv", {"role": "client"}),
        deployment("server", "srv", {"role": "db"}),
        policy("db", "srv", {"matchLabels": {"role": "db"}}, ingress=[{"from": peers}]),
    ]


def test_pod_and_namespace_selector_in_one_peer_are_anded() -> None:
    m = _peer_world([{"namespaceSelector": {"matchLabels": {"user": "alice"}},
                      "podSelector": {"matchLabels": {"role": "client"}}}])
    assert sources(m, "server") == {"alice/a-client"}


def test_pod_and_namespace_selector_in_two_peers_are_ored() -> None:
    m = _peer_world([{"namespaceSelector": {"matchLabels": {"user": "alice"}}},
                     {"podSelector": {"matchLabels": {"role": "client"}}}])
    # every pod of alice's namespace, or role=client pods of the policy's own namespace
    assert sources(m, "server") == {"alice/a-client", "alice/a-other", "srv/s-client"}


def test_a_pod_selector_alone_stays_in_the_policy_namespace() -> None:
    m = _peer_world([{"podSelector": {"matchLabels": {"role": "client"}}}])
    assert sources(m, "server") == {"srv/s-client"}


def test_a_namespace_selector_alone_admits_every_pod_of_matching_namespaces() -> None:
    m = _peer_world([{"namespaceSelector": {}}])
    assert sources(m, "server") == {
        "alice/a-client", "alice/a-other", "bob/b-client", "srv/s-client"
    }


@pytest.mark.parametrize("rule", [{}, {"from": []}, {"ports": []}], ids=["absent", "empty",
                                                                        "empty-ports"])
def test_an_empty_or_missing_from_admits_every_source(rule: dict[str, Any]) -> None:
    m = _peer_world([])
    m[-1] = policy("db", "srv", {"matchLabels": {"role": "db"}}, ingress=[rule])
    assert sources(m, "server") == {
        "alice/a-client", "alice/a-other", "bob/b-client", "srv/s-client"
    }


def test_an_ip_block_matches_no_pod() -> None:
    m = _peer_world([{"ipBlock": {"cidr": "0.0.0.0/0"}}])
    assert sources(m, "server") == set()


def test_the_namespace_name_label_exists_without_a_manifest_and_cannot_be_spoofed() -> None:
    m = [namespace("liar", **{NAME_LABEL: "trusted"}), deployment("x", "liar"),
         deployment("y", "unlisted"), deployment("server", "srv"),
         policy("server", "srv", app("server"), ingress=[
             {"from": [{"namespaceSelector": ns_is("trusted")}]},
             {"from": [{"namespaceSelector": ns_is("unlisted")}]},
         ])]
    assert sources(m, "server") == {"unlisted/y"}
    assert Network(m).namespace_labels("liar")[NAME_LABEL] == "liar"


# --- ports ------------------------------------------------------------------------------


def _port_world(
    ports: list[dict[str, Any]] | None,
    server_ports: tuple[tuple[str | None, int, str], ...] = (
        ("http", 8080, "TCP"), ("alt", 9000, "TCP"), ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"),
    ),
) -> tuple[list[Manifest], Pod, Pod]:
    rule: dict[str, Any] = {"from": [{"podSelector": app("client")}]}
    if ports is not None:
        rule["ports"] = ports
    m = [deployment("client", "a"), deployment("server", "a", ports=server_ports),
         policy("server", "a", app("server"), ingress=[rule])]
    return m, pod(m, "client"), pod(m, "server")


def _allowed_ports(ports: list[dict[str, Any]] | None) -> set[tuple[int, str]]:
    m, client, server = _port_world(ports)
    probe = [(p, proto) for p in (53, 80, 7999, 8000, 8001, 8002, 8003, 8080, 9000)
             for proto in ("TCP", "UDP", "SCTP")]
    return {(p, proto) for p, proto in probe if allowed(m, client, server, p, proto)}


def test_missing_ports_admit_every_port_and_protocol() -> None:
    assert len(_allowed_ports(None)) == 27


def test_a_port_entry_without_port_admits_every_port_of_its_protocol() -> None:
    assert _allowed_ports([{"protocol": "UDP"}]) == {
        (p, "UDP") for p in (53, 80, 7999, 8000, 8001, 8002, 8003, 8080, 9000)
    }


def test_protocol_defaults_to_tcp() -> None:
    assert _allowed_ports([{"port": 53}]) == {(53, "TCP")}


def test_end_port_makes_an_inclusive_range() -> None:
    assert _allowed_ports([{"port": 8000, "endPort": 8002}]) == {
        (8000, "TCP"), (8001, "TCP"), (8002, "TCP")
    }


def test_a_named_port_resolves_against_the_destination_containers() -> None:
    assert _allowed_ports([{"port": "http"}]) == {(8080, "TCP")}
    assert _allowed_ports([{"port": "dns", "protocol": "UDP"}]) == {(53, "UDP")}
    assert _allowed_ports([{"port": "dns"}]) == set(), "name matches, protocol (TCP) does not"
    assert _allowed_ports([{"port": "nope"}]) == set()
    # the same policy means another number on a pod whose container names it differently
    m, client, _ = _port_world([{"port": "http"}], server_ports=(("http", 9000, "TCP"),))
    server = pod(m, "server")
    assert allowed(m, client, server, 9000) and not allowed(m, client, server, 8080)


def test_a_named_port_in_an_egress_rule_resolves_against_the_destination() -> None:
    m = [deployment("client", "a"), deployment("s1", "a", ports=(("http", 8080, "TCP"),)),
         deployment("s2", "a", ports=(("http", 3000, "TCP"), ("admin", 8080, "TCP"))),
         policy("client", "a", app("client"), types=["Egress"],
                egress=[{"ports": [{"port": "http"}]}])]
    got = {(d, p) for s, d, p, _ in reachability(m) if s == "a/client"}
    assert got == {("a/s1", 8080), ("a/s2", 3000)}


def test_unnamed_ports_and_native_sidecars_are_declared() -> None:
    m = deployment("x", "a", ports=((None, 8080, "TCP"),))
    spec = m["spec"]["template"]["spec"]
    spec["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "ports": [{"containerPort": 15090,
                                                                   "name": "stats"}]},
        {"name": "init", "ports": [{"containerPort": 1, "name": "never"}]},
    ]
    (x,) = pods([m])
    assert dict(x.ports) == {"8080/TCP": (8080, "TCP"), "stats": (15090, "TCP")}


# --- selectors and policyTypes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "values", "labels", "selected"),
    [
        ("In", ["db", "cache"], {"role": "db"}, True),
        ("In", ["db"], {"role": "web"}, False),
        ("In", ["db"], {}, False),
        ("NotIn", ["db"], {"role": "web"}, True),
        ("NotIn", ["db"], {"role": "db"}, False),
        ("NotIn", ["db"], {}, True),
        ("Exists", [], {"role": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"role": "db"}, False),
    ],
)
def test_match_expressions(
    operator: str, values: list[str], labels: dict[str, str], selected: bool
) -> None:
    expr: dict[str, Any] = {"key": "role", "operator": operator}
    if values:
        expr["values"] = values
    m = [deployment("x", "a", labels), policy("p", "a", {"matchExpressions": [expr]})]
    assert isolated(m, pod(m, "x"), "Ingress") is selected


def test_match_labels_and_match_expressions_are_anded() -> None:
    selector = {"matchLabels": {"tier": "back"},
                "matchExpressions": [{"key": "role", "operator": "In", "values": ["db"]}]}
    m = [deployment("both", "a", {"tier": "back", "role": "db"}),
         deployment("one", "a", {"tier": "back", "role": "web"}),
         policy("p", "a", selector)]
    assert isolated(m, pod(m, "both"), "Ingress") and not isolated(m, pod(m, "one"), "Ingress")


EGRESS_RULE: list[dict[str, Any]] = [{"to": [{"podSelector": {}}]}]
INGRESS_RULE: list[dict[str, Any]] = [{"from": [{"podSelector": {}}]}]


@pytest.mark.parametrize(
    ("types", "ingress", "egress", "isolates"),
    [
        (None, None, None, {"Ingress"}),
        (None, INGRESS_RULE, None, {"Ingress"}),
        (None, None, EGRESS_RULE, {"Ingress", "Egress"}),
        (None, None, [], {"Ingress"}),
        ([], None, EGRESS_RULE, {"Ingress", "Egress"}),
        ([], None, None, {"Ingress"}),
        (["Egress"], INGRESS_RULE, None, {"Egress"}),
        (["Ingress", "Egress"], None, None, {"Ingress", "Egress"}),
    ],
    ids=["bare", "ingress-rules", "egress-rules", "empty-egress", "empty-types-egress",
         "empty-types-bare", "egress-only-types", "both-types"],
)
def test_policy_types_default(
    types: list[str] | None, ingress: Any, egress: Any, isolates: set[str]
) -> None:
    m = [deployment("x", "a"), policy("p", "a", types=types, ingress=ingress, egress=egress)]
    x = pod(m, "x")
    assert {d for d in DIRECTIONS if isolated(m, x, d)} == isolates


def test_rules_of_a_type_the_policy_lacks_are_inert() -> None:
    m = [deployment("x", "a"), deployment("y", "b"),
         policy("p", "a", types=["Egress"], ingress=INGRESS_RULE)]
    assert allowed(m, pod(m, "y"), pod(m, "x"), 8080), "ingress not isolated by this policy"
    assert not allowed(m, pod(m, "x"), pod(m, "y"), 8080), "egress isolated, no egress rule"


def test_a_policy_in_another_namespace_does_not_select_pods_here() -> None:
    m = [deployment("x", "a"), deployment("x2", "b"), default_deny("b"),
         policy("all", "b", ingress=[{"from": [{"namespaceSelector": {}}]}])]
    x = pod(m, "x")
    assert not isolated(m, x, "Ingress") and not isolated(m, x, "Egress")
    assert isolated(m, pod(m, "x2"), "Egress")


def test_an_empty_pod_selector_selects_every_pod_of_its_namespace() -> None:
    m = [deployment("p1", "a", {"app": "one"}), deployment("p2", "a", {}),
         deployment("p3", "a", {"x": "y", "z": "w"}), deployment("other", "b", {}),
         policy("all", "a", {})]
    for name in ("p1", "p2", "p3"):
        assert isolated(m, pod(m, name), "Ingress"), name
    assert not isolated(m, pod(m, "other"), "Ingress")


# --- ipBlocks wide open -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "types", "wide"),
    [
        ({"cidr": "0.0.0.0/0"}, None, True),
        ({"cidr": "::/0"}, None, True),
        ({"cidr": "0.0.0.0/0", "except": []}, None, True),
        ({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}, None, False),
        ({"cidr": "10.0.0.0/8"}, None, False),
        ({"cidr": "0.0.0.0/0"}, ["Ingress"], False),  # egress rules inert without Egress
    ],
)
def test_wide_ip_blocks(block: dict[str, Any], types: list[str] | None, wide: bool) -> None:
    m = [policy("p", "a", types=types, egress=[{"to": [{"ipBlock": block}]}])]
    expected = [WideBlock("a", "p", "Egress", block["cidr"])] if wide else []
    assert wide_ip_blocks(m) == expected


def test_wide_ip_blocks_in_ingress_rules_are_reported() -> None:
    m = [policy("p", "a", ingress=[{"from": [{"ipBlock": {"cidr": "::/0"}}]}])]
    assert [str(w) for w in wide_ip_blocks(m)] == ["a/p ingress ipBlock ::/0"]


# --- workloads --------------------------------------------------------------------------


def _template(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80,
                                                             "name": "http"}]}]}}


@pytest.mark.parametrize(
    ("manifest", "labels", "ports"),
    [
        ({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "namespace": "n"},
          "spec": {"template": _template({"k": kind})}}, {"k": kind}, {"http": (80, "TCP")})
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
    ] + [
        ({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "w", "namespace": "n"},
          "spec": {"template": _template({"k": "job"})}}, {"k": "job"}, {"http": (80, "TCP")}),
        ({"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "w", "namespace": "n"},
          "spec": {"jobTemplate": {"spec": {"template": _template({"k": "cron"})}}}},
         {"k": "cron"}, {"http": (80, "TCP")}),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w", "namespace": "n",
                                                          "labels": {"k": "pod"}},
          "spec": _template({})["spec"]}, {"k": "pod"}, {"http": (80, "TCP")}),
        ({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
          "metadata": {"name": "w", "namespace": "n"},
          "spec": {"instances": 2, "inheritedMetadata": {"labels": {"team": "db"}}}},
         {"team": "db", "cnpg.io/cluster": "w", "cnpg.io/podRole": "instance"},
         {"postgresql": (5432, "TCP"), "metrics": (9187, "TCP"), "status": (8000, "TCP")}),
        ({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
          "metadata": {"name": "w", "namespace": "n"},
          "spec": {"podMetadata": {"labels": {"extra": "1"}}}},
         {"extra": "1", "app.kubernetes.io/name": "prometheus", "prometheus": "w",
          "app.kubernetes.io/managed-by": "prometheus-operator",
          "app.kubernetes.io/instance": "w", "operator.prometheus.io/name": "w",
          "operator.prometheus.io/shard": "0"},
         {"web": (9090, "TCP"), "reloader-web": (8080, "TCP")}),
        ({"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
          "metadata": {"name": "w", "namespace": "n"}, "spec": {}},
         {"app.kubernetes.io/name": "alertmanager", "alertmanager": "w",
          "app.kubernetes.io/managed-by": "prometheus-operator",
          "app.kubernetes.io/instance": "w"},
         {"web": (9093, "TCP"), "mesh-tcp": (9094, "TCP"), "mesh-udp": (9094, "UDP"),
          "reloader-web": (8080, "TCP")}),
    ],
    ids=["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
         "cnpg-Cluster", "Prometheus", "Alertmanager"],
)
def test_pods_of_every_workload_kind(
    manifest: Manifest, labels: dict[str, str], ports: dict[str, tuple[int, str]]
) -> None:
    (found,) = pods([manifest])
    assert (found.id, found.kind) == ("n/w", manifest["kind"])
    assert dict(found.labels) == labels
    assert dict(found.ports) == ports


def test_services_and_unrelated_kinds_are_not_workloads() -> None:
    m = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
         "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}},
        {"apiVersion": "other.example/v1", "kind": "Cluster", "metadata": {"name": "k"}},
        namespace("n"),
    ]
    assert pods(m) == []


def test_two_workloads_with_one_name_in_one_namespace_are_refused() -> None:
    job = deployment("w", "n")
    job["kind"], job["apiVersion"] = "StatefulSet", "apps/v1"
    with pytest.raises(ValueError, match="n/w"):
        pods([deployment("w", "n"), job])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "podSelector is required"),
        ({"podSelector": {}, "ingress": [{"from": [{}]}]}, "a peer needs"),
        ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                                     "podSelector": {}}]}]}, "ipBlock cannot"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Gt",
                                                "values": ["1"]}]}}, "unknown selector"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
         "at least one value"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists",
                                                "values": ["x"]}]}}, "takes no values"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
         "endPort needs a numeric port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"endPort": 90}]}]},
         "endPort needs a numeric port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 100, "endPort": 90}]}]},
         "endPort 90"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]},
         "unknown protocol"),
        ({"podSelector": {}, "policyTypes": ["Inbound"]}, "policyTypes"),
    ],
)
def test_policies_the_api_server_would_reject_are_refused(
    spec: dict[str, Any], message: str
) -> None:
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "bad", "namespace": "a"}, "spec": spec}
    with pytest.raises(ValueError, match=message):
        Network([bad])


# --- DNS and a platform in the target's shape ------------------------------------------


def allow_dns(ns: str, pod_labels: dict[str, str] | None = None, port: int = 53) -> Manifest:
    to = [{"namespaceSelector": ns_is("kube-system"),
           "podSelector": {"matchLabels": pod_labels or {"k8s-app": "kube-dns"}}}]
    return policy("allow-dns", ns, types=["Egress"], egress=[{
        "to": to, "ports": [{"port": port, "protocol": "UDP"}, {"port": port, "protocol": "TCP"}],
    }])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], True),
        ([default_deny("a")], False),
        ([default_deny("a"), allow_dns("a")], True),
        ([default_deny("a"), allow_dns("a", {"k8s-app": "coredns"})], False),
        ([default_deny("a"), allow_dns("a", port=5353)], False),
        ([default_deny("a"), allow_dns("b")], False),
    ],
    ids=["no-policy", "deny", "deny+dns", "wrong-labels", "wrong-port", "other-namespace"],
)
def test_dns_egress(extra: list[Manifest], expected: bool) -> None:
    m = [deployment("x", "a"), *extra]
    x = pod(m, "x")
    assert dns_egress(m, x) is expected
    assert dns_egress(m, x, "TCP") is expected


def _platform(drop: str | None = None) -> list[Manifest]:
    """Namespaces, workloads and policies in the shape the Kubernetes target renders."""
    edges = [("erp-edge", "traefik", "erp-business", "api", 8080),
             ("erp-business", "api", "erp-core", "auth", 3001),
             ("erp-business", "api", "erp-infra", "erp-db", 5432),
             ("erp-platform", "prometheus", "erp-core", "auth", 9100)]
    m: list[Manifest] = []
    for ns in ("erp-edge", "erp-business", "erp-core", "erp-infra", "erp-platform"):
        m += [namespace(ns, **{"pod-security.kubernetes.io/enforce": "restricted"}),
              default_deny(ns), allow_dns(ns)]
    m += [deployment("traefik", "erp-edge", ports=(("web", 8443, "TCP"),)),
          deployment("api", "erp-business", ports=(("http", 8080, "TCP"),)),
          deployment("auth", "erp-core", ports=(("http", 3001, "TCP"), ("metrics", 9100, "TCP"))),
          deployment("batch", "erp-core", ports=(("http", 3002, "TCP"),)),
          {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
           "metadata": {"name": "erp-db", "namespace": "erp-infra"}, "spec": {"instances": 2}},
          {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
           "metadata": {"name": "prometheus", "namespace": "erp-platform"}, "spec": {}}]
    selector = {"erp-db": {"matchLabels": {"cnpg.io/cluster": "erp-db"}},
                "prometheus": {"matchLabels": {"prometheus": "prometheus"}}}
    for src_ns, src, dst_ns, dst, port in edges:
        src_sel, dst_sel = selector.get(src, app(src)), selector.get(dst, app(dst))
        if drop != f"{dst}-ingress-{port}":
            m.append(policy(f"{dst}-ingress-{port}", dst_ns, dst_sel, types=["Ingress"], ingress=[{
                "from": [{"podSelector": src_sel, "namespaceSelector": ns_is(src_ns)}],
                "ports": [tcp(port)]}]))
        if drop != f"{src}-egress-{port}":
            m.append(policy(f"{src}-egress-{port}", src_ns, src_sel, types=["Egress"], egress=[{
                "to": [{"podSelector": dst_sel, "namespaceSelector": ns_is(dst_ns)}],
                "ports": [tcp(port)]}]))
    return m


PLATFORM_EDGES = {
    ("erp-edge/traefik", "erp-business/api", 8080, "TCP"),
    ("erp-business/api", "erp-core/auth", 3001, "TCP"),
    ("erp-business/api", "erp-infra/erp-db", 5432, "TCP"),
    ("erp-platform/prometheus", "erp-core/auth", 9100, "TCP"),
}


def test_a_platform_in_the_target_shape_reaches_exactly_its_edges() -> None:
    m = _platform()
    assert reachability(m) == PLATFORM_EDGES
    assert all(dns_egress(m, p) for p in pods(m))
    assert wide_ip_blocks(m) == []


@pytest.mark.parametrize("dropped", ["auth-ingress-3001", "api-egress-3001",
                                     "erp-db-ingress-5432", "prometheus-egress-9100"])
def test_dropping_either_half_of_an_edge_removes_exactly_that_edge(dropped: str) -> None:
    gone = {e for e in PLATFORM_EDGES if dropped.split("-")[-1] == str(e[2])}
    assert reachability(_platform(dropped)) == PLATFORM_EDGES - gone


def test_manifests_load_from_multi_document_yaml(tmp_path: Path) -> None:
    (tmp_path / "10-namespaces.yaml").write_text(
        yaml.safe_dump_all([namespace("erp-core")]), encoding="utf-8")
    (tmp_path / "20-workloads.yml").write_text(
        "---\n" + yaml.safe_dump_all([{"apiVersion": "v1", "kind": "List",
                                       "items": [deployment("a", "erp-core")]}, None]),
        encoding="utf-8")
    assert [d["kind"] for d in load([tmp_path])] == ["Namespace", "Deployment"]


# --- properties ------------------------------------------------------------------------

NAMESPACES = ("a", "b")
LABEL_KEYS: Mapping[str, tuple[str, ...]] = {"app": ("web", "api"), "tier": ("front", "back")}
PORT_CHOICES = (("http", 80, "TCP"), ("pg", 5432, "TCP"), ("dns", 53, "UDP"), (None, 8080, "TCP"))


@st.composite
def label_sets(draw: st.DrawFn) -> dict[str, str]:
    return {k: draw(st.sampled_from(v)) for k, v in LABEL_KEYS.items() if draw(st.booleans())}


@st.composite
def selectors(draw: st.DrawFn, keys: Mapping[str, tuple[str, ...]] = LABEL_KEYS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["matchLabels"] = {k: draw(st.sampled_from(v)) for k, v in keys.items()
                              if draw(st.booleans())}
    if draw(st.booleans()):
        exprs = []
        for key, values in keys.items():
            op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", None]))
            if op in ("In", "NotIn"):
                exprs.append({"key": key, "operator": op,
                              "values": draw(st.lists(st.sampled_from(values), min_size=1,
                                                      max_size=2, unique=True))})
            elif op is not None:
                exprs.append({"key": key, "operator": op})
        out["matchExpressions"] = exprs
    return out


NS_KEYS: Mapping[str, tuple[str, ...]] = {"team": ("x", "y"), NAME_LABEL: NAMESPACES}
peers = st.one_of(
    st.builds(lambda s: {"podSelector": s}, selectors()),
    st.builds(lambda s: {"namespaceSelector": s}, selectors(NS_KEYS)),
    st.builds(lambda p, n: {"podSelector": p, "namespaceSelector": n}, selectors(),
              selectors(NS_KEYS)),
    st.just({"ipBlock": {"cidr": "10.0.0.0/8"}}),
)
port_entries = st.sampled_from([
    {"protocol": "UDP"}, {"port": 80}, {"port": "http"}, {"port": "pg", "protocol": "TCP"},
    {"port": 5000, "endPort": 9000}, {"port": 53, "protocol": "UDP"}, {"port": "dns"},
])


@st.composite
def rules(draw: st.DrawFn, peers_key: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule[peers_key] = draw(st.lists(peers, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(port_entries, max_size=2))
    return rule


@st.composite
def policies(draw: st.DrawFn, name: str) -> Manifest:
    types = draw(st.sampled_from([None, [], ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    ingress = draw(st.none() | st.lists(rules("from"), max_size=2))
    egress = draw(st.none() | st.lists(rules("to"), max_size=2))
    return policy(name, draw(st.sampled_from(NAMESPACES)), draw(selectors()), types=types,
                  ingress=ingress, egress=egress)


@st.composite
def worlds(draw: st.DrawFn) -> list[Manifest]:
    m: list[Manifest] = [namespace(n, **({"team": draw(st.sampled_from(["x", "y"]))}
                                         if draw(st.booleans()) else {}))
                         for n in NAMESPACES]
    for i in range(draw(st.integers(1, 4))):
        ports = tuple(draw(st.lists(st.sampled_from(PORT_CHOICES), min_size=1, max_size=3,
                                    unique=True)))
        m.append(deployment(f"w{i}", draw(st.sampled_from(NAMESPACES)), draw(label_sets()),
                            ports))
    m += [draw(policies(f"p{i}")) for i in range(draw(st.integers(0, 3)))]
    return m


def _every_connection(m: list[Manifest]) -> set[tuple[str, str, int, str]]:
    ps = pods(m)
    return {(s.id, d.id, port, proto) for s in ps for d in ps if s.id != d.id
            for port, proto in d.declared()}


PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(worlds(), policies("extra"))
def test_once_isolated_more_policies_never_shrink_what_is_allowed(
    m: list[Manifest], extra: Manifest
) -> None:
    before, after = Network(m), Network([*m, extra])
    grown = after.reachability()
    by_id = {p.id: p for p in before.pods}
    for conn in before.reachability():
        src, dst = by_id[conn[0]], by_id[conn[1]]
        if before.isolated(src, "Egress") and before.isolated(dst, "Ingress"):
            assert conn in grown, conn


@PROPERTY
@given(worlds(), policies("extra"))
def test_a_new_policy_removes_a_connection_only_by_isolating_one_end(
    m: list[Manifest], extra: Manifest
) -> None:
    before, after = Network(m), Network([*m, extra])
    by_id = {p.id: p for p in before.pods}
    for s, d, port, proto in before.reachability() - after.reachability():
        src, dst = by_id[s], by_id[d]
        newly_egress = after.isolated(src, "Egress") and not before.isolated(src, "Egress")
        newly_ingress = after.isolated(dst, "Ingress") and not before.isolated(dst, "Ingress")
        assert newly_egress or newly_ingress, (s, d, port, proto)


@PROPERTY
@given(worlds())
def test_without_network_policies_everything_is_reachable(m: list[Manifest]) -> None:
    bare = [x for x in m if x["kind"] != "NetworkPolicy"]
    assert reachability(bare) == _every_connection(m)
    assert reachability(m) <= _every_connection(m)


@PROPERTY
@given(worlds(), st.randoms(use_true_random=False))
def test_policy_order_does_not_matter(m: list[Manifest], rnd: Any) -> None:
    shuffled = list(m)
    rnd.shuffle(shuffled)
    assert reachability(shuffled) == reachability(m)


@PROPERTY
@given(worlds(), policies("one"), policies("two"))
def test_under_default_deny_policies_only_add(
    m: list[Manifest], one: Manifest, two: Manifest
) -> None:
    base = [*m, *(default_deny(n) for n in NAMESPACES)]
    assert reachability([*base, one]) | reachability([*base, two]) <= reachability(
        [*base, one, two]
    )
