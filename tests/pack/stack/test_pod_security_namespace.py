"""namespace-pod-security-restricted: compliant, non-compliant, property missing, waiver."""

import pytest
from policy_harness import (
    NAMESPACE_TYPE,
    container,
    k8s_stack,
    namespace,
    settings,
    waiver,
    workload,
)

from policies.core import CONTAINER
from policies.stack import pod_security_namespace

pytestmark = pytest.mark.unit
RULE = pod_security_namespace.RULE
ENFORCE = "pod-security.kubernetes.io/enforce"


def with_enforce(value):
    kind, name, props = namespace()
    if value is None:
        del props["metadata"]["labels"][ENFORCE]
    else:
        props["metadata"]["labels"][ENFORCE] = value
    return [(kind, name, props), workload()]


def test_restricted_namespace_passes(harness):
    assert harness.stack(RULE, k8s_stack()) == []


@pytest.mark.parametrize("value", ["baseline", "privileged", "Restricted", "RESTRICTED",
                                   " restricted", "restricted ", ""])
def test_other_levels_fail(harness, value):
    found = harness.stack(RULE, with_enforce(value))
    assert [v.message for v in found] == [
        f"namespace erp enforces Pod Security {value!r}, not 'restricted' (metadata.labels), "
        "so admission lets in pods that restricted refuses"]
    assert found[0].urn.endswith("::namespace-erp")


def test_missing_label_fails(harness):
    found = harness.stack(RULE, with_enforce(None))
    assert [v.message for v in found] == [
        f"namespace erp has no {ENFORCE} label (metadata.labels), so admission lets in pods "
        "that restricted refuses"]


def test_a_label_key_in_another_case_is_another_label(harness):
    kind, name, props = namespace()
    labels = props["metadata"]["labels"]
    labels["Pod-Security.kubernetes.io/enforce"] = labels.pop(ENFORCE)
    assert len(harness.stack(RULE, [(kind, name, props)])) == 1


@pytest.mark.parametrize("version, ok", [("v1.31", True), ("latest", True), ("v1.23", True),
                                          ("v1.22", False), ("v1.9", False), ("1.31", False),
                                          ("v1.31.0", False)])
def test_a_pinned_version_of_the_standard_is_recent_enough(harness, version, ok):
    kind, name, props = namespace(**{"pod-security.kubernetes.io/enforce-version": version})
    found = harness.stack(RULE, [(kind, name, props), workload()])
    if ok:
        assert found == []
    else:
        assert len(found) == 1 and found[0].message.startswith(
            "namespace erp enforces restricted, but pod-security.kubernetes.io/enforce-version")


def test_audit_and_warn_alone_enforce_nothing(harness):
    kind, name, props = namespace()
    props["metadata"]["labels"] = {"pod-security.kubernetes.io/audit": "restricted",
                                   "pod-security.kubernetes.io/warn": "restricted"}
    assert len(harness.stack(RULE, [(kind, name, props)])) == 1


@pytest.mark.parametrize("ns", [None, "kube-system", "erp-other"])
def test_workloads_in_a_namespace_the_stack_does_not_declare_fail(harness, ns):
    kind, name, props = workload("Job", name="migrate", ns=ns or "erp")
    if ns is None:
        del props["metadata"]["namespace"]
    found = harness.stack(RULE, [namespace(), (kind, name, props)])
    where = ns or "default"
    shown = f"Job {where}/migrate" if ns else "Job migrate"
    assert [v.message for v in found] == [
        f"{shown} runs in namespace {where}, which the stack does not declare "
        "(metadata.namespace), so nothing shows it enforces Pod Security restricted"]
    assert found[0].urn.endswith(f"::{name}")


def test_a_namespace_named_only_by_its_logical_name(harness):
    props = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"labels": {
        ENFORCE: "restricted"}}}
    assert harness.stack(RULE, [(NAMESPACE_TYPE, "erp", props), workload()]) == []


def test_docker_stacks_are_not_judged(harness):
    assert harness.stack(RULE, [(CONTAINER, "erp-auth-container", container())]) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "namespace-erp", subject=ENFORCE)
    stack = with_enforce("baseline")
    assert harness.stack(RULE, stack, settings(w)) == []
    assert len(harness.stack(RULE, stack, settings(dict(w, expires="2026-11-22")))) == 1
