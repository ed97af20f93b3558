"""service-account-token-not-mounted: compliant, non-compliant, property missing, waiver."""

import pytest
from policy_harness import (
    K8S_TYPES,
    container,
    k8s_stack,
    pod_spec,
    service_account,
    settings,
    waiver,
    workload,
)

from policies.core import CONTAINER
from policies.stack import service_account_token

pytestmark = pytest.mark.unit
RULE = service_account_token.RULE


def stack_with(spec, *accounts, kind="Deployment"):
    return [*(accounts or (service_account(),)), workload(kind, spec)]


@pytest.mark.parametrize("kind", sorted(K8S_TYPES))
def test_pod_spec_false_passes_for_every_kind(harness, kind):
    assert harness.stack(RULE, stack_with(pod_spec(), kind=kind)) == []


def test_unset_pod_with_a_locked_service_account_passes(harness):
    spec = pod_spec()
    del spec["automountServiceAccountToken"]
    assert harness.stack(RULE, stack_with(spec)) == []


@pytest.mark.parametrize("value", [True, "true", "True", 1, "yes"])
def test_pod_spec_true_fails_whatever_the_service_account_says(harness, value):
    """The mutation: an automounted token."""
    spec = pod_spec()
    spec["automountServiceAccountToken"] = value
    found = harness.stack(RULE, stack_with(spec))
    assert [v.message for v in found] == [
        "Deployment erp/auth mounts its ServiceAccount token (pod spec "
        "automountServiceAccountToken: true)"]
    assert found[0].urn.endswith("::deployment-erp-auth")


@pytest.mark.parametrize("account, why", [
    (service_account(automount=None), "ServiceAccount erp/auth does not set "
                                      "automountServiceAccountToken: false either"),
    (service_account(automount=True), "ServiceAccount erp/auth does not set "
                                      "automountServiceAccountToken: false either"),
    (service_account(ns="other"), "ServiceAccount erp/auth is not declared by the stack, so "
                                  "it mounts the token by default"),
])
def test_unset_pod_inherits_the_service_accounts_default(harness, account, why):
    spec = pod_spec()
    del spec["automountServiceAccountToken"]
    found = harness.stack(RULE, stack_with(spec, account))
    assert [v.message for v in found] == [
        "Deployment erp/auth mounts its ServiceAccount token: the pod spec does not set "
        f"automountServiceAccountToken: false and its {why}"]


def test_missing_service_account_name_means_default(harness):
    """The property missing: no serviceAccountName, so the namespace's `default` account,
    which the stack does not declare."""
    spec = pod_spec()
    del spec["automountServiceAccountToken"], spec["serviceAccountName"]
    found = harness.stack(RULE, stack_with(spec))
    assert len(found) == 1 and "ServiceAccount erp/default is not declared" in \
        found[0].message
    assert harness.stack(RULE, stack_with(spec, service_account("default"))) == []


@pytest.mark.parametrize("key", ["AutomountServiceAccountToken", "automount_service_account_"
                                 "token", "automountserviceaccounttoken"])
def test_a_misspelled_false_claims_nothing(harness, key):
    """The API server drops a field it does not know: the pod then uses the account's
    default (here: an account that mounts the token)."""
    spec = pod_spec()
    del spec["automountServiceAccountToken"]
    spec[key] = False
    found = harness.stack(RULE, stack_with(spec, service_account(automount=None)))
    assert len(found) == 1, found


def test_a_misspelled_account_name_names_no_account(harness):
    spec = pod_spec()
    del spec["automountServiceAccountToken"], spec["serviceAccountName"]
    spec["ServiceAccountName"] = "auth"  # the locked account, but the API drops the key
    found = harness.stack(RULE, stack_with(spec))
    assert len(found) == 1 and "ServiceAccount erp/default" in found[0].message, found


def test_a_projected_token_is_mounted_whatever_automount_says(harness):
    spec = pod_spec()
    spec["volumes"] = [{"name": "vault-token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "audience": "vault"}}]}}]
    found = harness.stack(RULE, stack_with(spec))
    assert [v.message for v in found] == [
        "Deployment erp/auth mounts an API token through volume vault-token: a projected "
        "serviceAccountToken (spec.volumes[].projected.sources)"]
    w = waiver(RULE.name, "auth", subject="vault-token/serviceAccountToken")
    assert harness.stack(RULE, stack_with(spec), settings(w)) == []


def test_a_token_secret_volume_is_a_mounted_token(harness):
    token = ("kubernetes:core/v1:Secret", "secret-erp-auth-token", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "auth-token", "namespace": "erp", "annotations": {
            "kubernetes.io/service-account.name": "auth"}}})
    spec = pod_spec()
    spec["volumes"] = [{"name": "t", "secret": {"secretName": "auth-token"}}]
    found = harness.stack(RULE, [*stack_with(spec), token])
    assert len(found) == 1 and "ServiceAccount token Secret auth-token" in found[0].message
    # an ordinary Secret volume (the target's files) is no token
    assert harness.stack(RULE, [*stack_with(spec), (token[0], token[1], {
        **token[2], "type": "Opaque"})]) == []


def test_the_kubernetes_targets_stack_passes(harness):
    assert harness.stack(RULE, k8s_stack()) == []


def test_docker_containers_are_not_judged(harness):
    assert harness.stack(RULE, [(CONTAINER, "erp-auth-container", container())]) == []


def test_waiver_override(harness):
    spec = pod_spec()
    spec["automountServiceAccountToken"] = True
    stack = stack_with(spec)
    w = waiver(RULE.name, "auth", subject="automountServiceAccountToken")
    assert harness.stack(RULE, stack, settings(w)) == []
    assert len(harness.stack(RULE, stack, settings(dict(w, expires="2026-11-22")))) == 1
