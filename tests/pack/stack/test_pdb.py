"""replicated-workloads-have-pdb (advisory): compliant, non-compliant, missing, waiver."""

import copy

import pytest
from policy_harness import DEPLOYMENT_PROPS, settings, waiver

from policies.core import K8S_DEPLOYMENT, K8S_PDB, Level
from policies.stack import pdb

pytestmark = pytest.mark.unit
RULE = pdb.RULE
PDB = {"metadata": {"name": "auth", "namespace": "erp"},
       "spec": {"maxUnavailable": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "auth"}}}}


def test_is_advisory():
    assert RULE.level is Level.ADVISORY


def test_replicated_deployment_with_pdb_passes(harness):
    stack = [(K8S_DEPLOYMENT, "auth", DEPLOYMENT_PROPS), (K8S_PDB, "auth", PDB)]
    assert harness.stack(RULE, stack) == []


def test_replicated_deployment_without_matching_pdb_fails(harness):
    other = copy.deepcopy(PDB)
    other["spec"]["selector"]["matchLabels"] = {"app.kubernetes.io/name": "crm"}
    found = harness.stack(RULE, [(K8S_DEPLOYMENT, "auth", DEPLOYMENT_PROPS), (K8S_PDB, "x", other)])
    assert [v.message for v in found] == ["auth runs 2 replicas without a PodDisruptionBudget"]


def test_missing_replicas_means_one(harness):
    single = copy.deepcopy(DEPLOYMENT_PROPS)
    del single["spec"]["replicas"]
    assert harness.stack(RULE, [(K8S_DEPLOYMENT, "auth", single)]) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="PodDisruptionBudget")
    stack = [(K8S_DEPLOYMENT, "auth", DEPLOYMENT_PROPS)]
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
