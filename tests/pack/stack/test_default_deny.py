"""namespace-default-deny: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import DEPLOYMENT_PROPS, container, settings, waiver

from policies.core import CONTAINER, K8S_DEPLOYMENT, K8S_NAMESPACE, K8S_NETWORK_POLICY
from policies.stack import default_deny

pytestmark = pytest.mark.unit
RULE = default_deny.RULE
NAMESPACE = (K8S_NAMESPACE, "erp", {"metadata": {"name": "erp"}})
DENY = {"metadata": {"name": "default-deny", "namespace": "erp"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_namespace_with_default_deny_passes(harness):
    stack = [NAMESPACE, (K8S_DEPLOYMENT, "auth", DEPLOYMENT_PROPS),
             (K8S_NETWORK_POLICY, "erp-default-deny", DENY)]
    assert harness.stack(RULE, stack) == []


@pytest.mark.parametrize("spec", [
    {"podSelector": {"matchLabels": {"app": "auth"}}, "policyTypes": ["Ingress"]},
    {"podSelector": {}, "policyTypes": ["Egress"]},
    {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
])
def test_policies_that_are_not_default_deny_fail(harness, spec):
    policy = {"metadata": {"namespace": "erp"}, "spec": spec}
    found = harness.stack(RULE, [NAMESPACE, (K8S_NETWORK_POLICY, "p", policy)])
    assert [v.message for v in found] == [
        "namespace erp has no default-deny ingress NetworkPolicy"]
    assert found[0].urn.endswith("::erp")


def test_missing_policy_and_implicit_default_namespace(harness):
    found = harness.stack(RULE, [(K8S_DEPLOYMENT, "auth",
                                  {**DEPLOYMENT_PROPS, "metadata": {"name": "auth"}})])
    assert [v.message for v in found] == [
        "namespace default has no default-deny ingress NetworkPolicy"]


def test_docker_stacks_are_not_judged(harness):
    assert harness.stack(RULE, [(CONTAINER, "erp-auth-container", container())]) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "erp", subject="erp")
    assert harness.stack(RULE, [NAMESPACE], settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, [NAMESPACE], expired)) == 1
