"""only-edge-publishes-ports: only the edge proxy publishes ports; data ports never.

Database, cache and broker ports are never published, not even by the edge proxy: they are
reached on the internal backend network only. On Kubernetes no pod binds a `hostPort` at all
(Pod Security forbids it): the edge proxy is published by a LoadBalancer/NodePort Service.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    K8S_SERVICE,
    Context,
    Finding,
    Rule,
    Severity,
    as_list,
    cname,
    get,
    is_edge_proxy,
    pod_containers_by_role,
    pod_spec,
)

DATA_PORTS = {
    5432: "PostgreSQL",
    6379: "Redis",
    9092: "Kafka",
    9093: "Kafka",
    2181: "ZooKeeper",
    9200: "Elasticsearch",
    9300: "Elasticsearch transport",
    7233: "Temporal",
    9000: "MinIO",
    5672: "RabbitMQ",
    15672: "RabbitMQ management",
    2113: "EventStoreDB",
    3306: "MySQL",
    27017: "MongoDB",
    8200: "Vault",
}


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _judge(who: str, internal: int | None, external: int | None, edge: bool) -> Iterator[Finding]:
    data = DATA_PORTS.get(internal or -1) or DATA_PORTS.get(external or -1)
    shown = f"{external or internal}"
    if data:
        yield Finding(f"{who} publishes the {data} port {shown}", field="port", subject=shown)
    elif not edge:
        yield Finding(f"{who} publishes port {shown} but is not the edge proxy", field="port",
                      subject=shown)


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    edge = is_edge_proxy(resource_type, props, ctx)
    if resource_type == CONTAINER:
        if props.get("publishAllPorts") is True and not edge:
            yield Finding("container publishes all exposed ports (publishAllPorts)", field="port",
                          subject="publishAllPorts")
        for p in as_list(props.get("ports")):
            if isinstance(p, Mapping):
                yield from _judge(
                    "container", _port(p.get("internal")), _port(p.get("external")), edge
                )
        return
    if resource_type == K8S_SERVICE:
        kind = get(props, "spec", "type", default="ClusterIP")
        if kind in ("NodePort", "LoadBalancer"):
            for p in as_list(get(props, "spec", "ports")):
                yield from _judge(
                    f"{kind} service", _port(get(p, "targetPort")), _port(get(p, "port")), edge
                )
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for role, c in pod_containers_by_role(spec):
        for p in as_list(c.get("ports")):
            if not get(p, "hostPort"):
                continue
            # A host port bypasses Services and NetworkPolicies; Pod Security forbids it for
            # every pod, the edge proxy's included (it is published by its Service).
            container_port, host_port = _port(get(p, "containerPort")), _port(get(p, "hostPort"))
            data = DATA_PORTS.get(container_port or -1) or DATA_PORTS.get(host_port or -1)
            if data:
                yield from _judge(f"{role} {cname(c)} (hostPort)", container_port, host_port,
                                  edge)
            else:
                shown = str(host_port if host_port is not None else get(p, "hostPort"))
                yield Finding(f"{role} {cname(c)} binds host port {shown} (ports[].hostPort); "
                              "publish through a Service instead", field="port", subject=shown)


RULE = Rule(
    name="only-edge-publishes-ports",
    description="Only the edge proxy publishes ports to the host; database, cache and broker "
    "ports are never published.",
    severity=Severity.HIGH,
    remediation="Set the service's exposure to `public` or `admin` so the edge proxy routes "
    "it over TLS, or `internal` (no route); never publish a data store port.",
    check_resource=check,
    tags=("network", "docker", "kubernetes"),
)
