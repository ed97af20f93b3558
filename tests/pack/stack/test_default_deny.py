"""namespace-default-deny: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import (
    DEPLOYMENT_PROPS,
    allow_dns,
    container,
    default_deny,
    k8s_stack,
    namespace,
    network_policy,
    settings,
    waiver,
    workload,
)

from policies.core import CONTAINER, K8S_DEPLOYMENT
from policies.stack import default_deny as rule_module

pytestmark = pytest.mark.unit
RULE = rule_module.RULE
MISSING = ("namespace erp has no default-deny NetworkPolicy for {} (podSelector: {{}}, "
           "policyTypes: [Ingress, Egress], no rules)")


def test_namespace_with_default_deny_passes(harness):
    assert harness.stack(RULE, k8s_stack()) == []


def test_deny_split_over_two_policies_passes(harness):
    stack = [namespace(), workload(),
             network_policy("deny-in", podSelector={}, policyTypes=["Ingress"]),
             network_policy("deny-out", podSelector={}, policyTypes=["Egress"])]
    assert harness.stack(RULE, stack) == []


@pytest.mark.parametrize("spec, missing", [
    ({"podSelector": {"matchLabels": {"app": "auth"}}, "policyTypes": ["Ingress", "Egress"]},
     "Ingress and Egress"),
    ({"podSelector": {}, "policyTypes": ["Egress"]}, "Ingress"),
    ({"podSelector": {}, "policyTypes": ["Ingress"]}, "Egress"),
    # policyTypes left out means Ingress only, whatever the name says
    ({"podSelector": {}}, "Egress"),
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
      "ingress": [{"from": [{"podSelector": {}}]}]}, "Ingress"),
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
      "egress": [{"to": [{"podSelector": {}}]}]}, "Egress"),
    # the API reads `policyTypes` as written: another spelling is no field at all
    ({"podSelector": {}, "PolicyTypes": ["Ingress", "Egress"]}, "Egress"),
])
def test_policies_that_are_not_default_deny_fail(harness, spec, missing):
    stack = [namespace(), workload(), network_policy("default-deny", **spec)]
    found = harness.stack(RULE, stack)
    assert [v.message for v in found] == [MISSING.format(missing)], found
    assert found[0].urn.endswith("::namespace-erp")


def test_missing_network_policy_is_a_finding(harness):
    """The mutation: the Kubernetes target's `default-deny` policy removed."""
    stack = [r for r in k8s_stack() if r[1] != "networkpolicy-erp-default-deny"]
    found = harness.stack(RULE, stack)
    # allow-dns governs Egress but allows DNS: it denies nothing by default
    assert [v.message for v in found] == [MISSING.format("Ingress and Egress")], found
    assert found[0].urn.endswith("::namespace-erp")


def test_missing_policy_and_implicit_default_namespace(harness):
    found = harness.stack(RULE, [(K8S_DEPLOYMENT, "auth",
                                  {**DEPLOYMENT_PROPS, "metadata": {"name": "auth"}})])
    assert [v.message for v in found] == [
        MISSING.format("Ingress and Egress").replace("namespace erp", "namespace default")]


@pytest.mark.parametrize("kind", ["Job", "CronJob", "Pod", "StatefulSet", "DaemonSet"])
def test_every_kind_of_workload_puts_its_namespace_under_judgement(harness, kind):
    found = harness.stack(RULE, [workload(kind, ns="batch")])
    assert [v.message for v in found] == [
        MISSING.format("Ingress and Egress").replace("namespace erp", "namespace batch")]


def test_cluster_scoped_objects_are_in_no_namespace(harness):
    cluster_role = ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "traefik",
                    {"metadata": {"name": "traefik"}, "rules": []})
    assert harness.stack(RULE, [*k8s_stack(), cluster_role]) == []


@pytest.mark.parametrize("rule, direction", [
    ({}, "ingress"),
    ({"from": [{"namespaceSelector": {}}]}, "ingress"),
    ({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}, "ingress"),
    ({"to": [{"namespaceSelector": {}, "podSelector": {}}]}, "egress"),
    ({}, "egress"),
])
def test_a_rule_admitting_everything_undoes_the_deny(harness, rule, direction):
    kind = "Ingress" if direction == "ingress" else "Egress"
    allow = network_policy("allow-all", podSelector={}, policyTypes=[kind],
                           **{direction: [rule]})
    found = harness.stack(RULE, [*k8s_stack(), allow])
    assert [v.message for v in found] == [
        f"NetworkPolicy erp/allow-all admits all {direction} (a rule with no "
        f"`{'from' if direction == 'ingress' else 'to'}` restriction and no `ports`), which "
        "undoes the namespace's default deny for the pods it selects"], found
    assert found[0].urn.endswith("::networkpolicy-erp-allow-all")


def test_narrow_rules_do_not_undo_the_deny(harness):
    edge_in = network_policy("traefik-ingress", podSelector={"matchLabels": {
        "app.kubernetes.io/name": "traefik"}}, policyTypes=["Ingress"],
        ingress=[{"ports": [{"port": 8443}]}])
    api = network_policy("auth-ingress", podSelector={"matchLabels": {
        "app.kubernetes.io/name": "auth"}}, policyTypes=["Ingress"], ingress=[{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "erp-edge"}},
             "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}],
            "ports": [{"port": 3001}]}])
    assert harness.stack(RULE, [*k8s_stack(), edge_in, api, allow_dns()]) == []


def test_docker_stacks_are_not_judged(harness):
    assert harness.stack(RULE, [(CONTAINER, "erp-auth-container", container())]) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "namespace-erp", subject="erp")
    stack = [namespace(), default_deny("other")]
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
