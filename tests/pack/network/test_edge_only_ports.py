"""only-edge-publishes-ports: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, K8S_SERVICE
from policies.network import edge_only_ports

pytestmark = pytest.mark.unit
RULE = edge_only_ports.RULE
TRAEFIK_LABELS = [{"label": "rampart.service", "value": "traefik"}]
WEB_PORTS = [{"internal": 80, "external": 80, "protocol": "tcp"},
             {"internal": 443, "external": 443, "protocol": "tcp"}]


def test_edge_proxy_publishes_80_and_443(harness):
    props = container(labels=TRAEFIK_LABELS, ports=WEB_PORTS)
    assert harness.resource(RULE, props, name="erp-traefik-container") == []


def test_service_without_ports_passes(harness):
    assert harness.resource(RULE, container(ports=None)) == []
    assert harness.resource(RULE, container(ports=[])) == []


@pytest.mark.parametrize("changes, expected", [
    ({"ports": [{"internal": 3001, "external": 3001}]}, "publishes port 3001 but is not the edge"),
    ({"ports": [{"internal": 5432, "external": 15432}]}, "publishes the PostgreSQL port"),
    ({"publishAllPorts": True}, "publishAllPorts"),
])
def test_non_edge_publishing_fails(harness, changes, expected):
    found = harness.resource(RULE, container(**changes))
    assert len(found) == 1 and expected in found[0], found


def test_edge_proxy_never_publishes_data_ports(harness):
    props = container(labels=TRAEFIK_LABELS, ports=[*WEB_PORTS, {"internal": 6379,
                                                                 "external": 6379}])
    assert harness.resource(RULE, props, name="erp-traefik-container") == [
        "container publishes the Redis port 6379"]


def test_kubernetes_node_ports_and_host_ports(harness):
    svc = {"metadata": {"name": "auth"}, "spec": {"type": "NodePort",
                                                   "ports": [{"port": 3001, "targetPort": 3001}]}}
    assert len(harness.resource(RULE, svc, K8S_SERVICE, "auth")) == 1
    cluster_ip = {"metadata": {"name": "auth"}, "spec": {"ports": [{"port": 3001}]}}
    assert harness.resource(RULE, cluster_ip, K8S_SERVICE, "auth") == []
    pod = deployment(ports=[{"containerPort": 5432, "hostPort": 5432}])
    assert harness.resource(RULE, pod, K8S_DEPLOYMENT, "auth") == [
        "container auth (hostPort) publishes the PostgreSQL port 5432"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="3001")
    props = container(ports=[{"internal": 3001, "external": 3001}])
    assert harness.resource(RULE, props, stack=settings(w)) == []
    assert len(harness.resource(RULE, props, stack=settings(
        dict(w, expires="2026-11-22")))) == 1
