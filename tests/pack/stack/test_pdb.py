"""replicated-workloads-have-pdb: compliant, non-compliant, property missing, waiver."""

import pytest
from policy_harness import hpa, k8s_stack, namespace, pdb, settings, waiver, workload

from policies.core import Level
from policies.stack import pdb as rule_module

pytestmark = pytest.mark.unit
RULE = rule_module.RULE
NO_PDB = ("{who} is replicated ({why}) but no PodDisruptionBudget in namespace erp selects "
          "its pods and keeps at least one of them")


def without_pdb(*others):
    return [r for r in k8s_stack(*others) if not r[1].startswith("poddisruptionbudget-")]


def test_is_mandatory():
    assert RULE.level is Level.MANDATORY and "kubernetes" in RULE.tags


def test_replicated_deployment_with_pdb_passes(harness):
    assert harness.stack(RULE, k8s_stack()) == []


def test_replicated_deployment_without_pdb_fails(harness):
    """The mutation: the target's PodDisruptionBudget removed."""
    found = harness.stack(RULE, without_pdb())
    assert [v.message for v in found] == [
        NO_PDB.format(who="Deployment erp/auth", why="spec.replicas: 2")]
    assert found[0].urn.endswith("::deployment-erp-auth")


@pytest.mark.parametrize("change", [
    {"selector": {"matchLabels": {"app.kubernetes.io/name": "crm"}}},
    # the Deployment's own metadata carries this label, its pods do not
    {"selector": {"matchLabels": {"rampart.io/owner": "platform"}}},
    {"selector": None},  # a missing selector selects nothing
    {"selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn",
                                        "values": ["auth"]}]}},
    {"maxUnavailable": "100%"},
    {"maxUnavailable": 2},
    {"maxUnavailable": None, "minAvailable": 0},
    {"maxUnavailable": None, "minAvailable": "0%"},
    {"maxUnavailable": None},  # neither field: every eviction is allowed
])
def test_a_budget_that_does_not_protect_the_pods_does_not_count(harness, change):
    _, name, budget = pdb()
    for key, value in change.items():
        if value is None:
            budget["spec"].pop(key, None)
        else:
            budget["spec"][key] = value
    stack = without_pdb()
    (deployment,) = [props for _, name, props in stack if name == "deployment-erp-auth"]
    deployment["metadata"]["labels"]["rampart.io/owner"] = "platform"
    found = harness.stack(RULE, [*stack, ("kubernetes:policy/v1:PodDisruptionBudget", name,
                                          budget)])
    assert len(found) == 1 and "no PodDisruptionBudget" in found[0].message, found


@pytest.mark.parametrize("change", [
    {"selector": {}},  # an empty selector selects every pod of the namespace
    {"selector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                        "values": ["auth", "crm"]}]}},
    {"maxUnavailable": None, "minAvailable": 1},
    {"maxUnavailable": "50%"},
])
def test_other_budgets_that_protect_pass(harness, change):
    _, name, budget = pdb()
    for key, value in change.items():
        if value is None:
            budget["spec"].pop(key, None)
        else:
            budget["spec"][key] = value
    stack = [*without_pdb(), ("kubernetes:policy/v1:PodDisruptionBudget", name, budget)]
    assert harness.stack(RULE, stack) == []


def test_a_budget_in_another_namespace_does_not_count(harness):
    assert len(harness.stack(RULE, [*without_pdb(), pdb(ns="other")])) == 1


@pytest.mark.parametrize("minimum, replicated", [(3, True), (2, True), (1, False),
                                                 (None, False)])
def test_an_autoscaler_with_min_replicas_makes_it_replicated(harness, minimum, replicated):
    stack = [namespace(), workload("Deployment"), hpa(min_replicas=minimum)]  # no replicas
    found = harness.stack(RULE, stack)
    if replicated:
        assert [v.message for v in found] == [NO_PDB.format(
            who="Deployment erp/auth",
            why=f"HorizontalPodAutoscaler auth minReplicas: {minimum}")]
    else:
        assert found == []
    assert harness.stack(RULE, [*stack, pdb()]) == []


def test_an_autoscaler_for_another_workload_does_not_count(harness):
    stack = [namespace(), workload("Deployment"), hpa(target="crm")]
    assert harness.stack(RULE, stack) == []
    stack = [namespace(), workload("Deployment"), hpa(kind="StatefulSet")]
    assert harness.stack(RULE, stack) == []


def test_statefulsets_are_judged_daemonsets_and_jobs_are_not(harness):
    found = harness.stack(RULE, [workload("StatefulSet", replicas=3)])
    assert [v.message for v in found] == [
        NO_PDB.format(who="StatefulSet erp/auth", why="spec.replicas: 3")]
    assert harness.stack(RULE, [workload("DaemonSet"), workload("Job", name="migrate")]) == []


def test_missing_replicas_means_one(harness):
    assert harness.stack(RULE, [workload("Deployment")]) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="PodDisruptionBudget")
    stack = without_pdb()
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
