"""no-new-privileges: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT
from policies.isolation import no_new_privileges

pytestmark = pytest.mark.unit
RULE = no_new_privileges.RULE


@pytest.mark.parametrize("opts", [["no-new-privileges:true"], ["no-new-privileges"],
                                  ["seccomp=default", "no-new-privileges=true"]])
def test_no_new_privileges_passes(harness, opts):
    assert harness.resource(RULE, container(securityOpts=opts)) == []


def test_other_security_opts_fail(harness):
    assert harness.resource(RULE, container(securityOpts=["no-new-privileges:false"])) == [
        "container lacks securityOpts no-new-privileges:true"]


def test_missing_security_opts_fail(harness):
    assert len(harness.resource(RULE, container(securityOpts=None))) == 1


def test_kubernetes_needs_explicit_false(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(securityContext={"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}})
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "container auth does not set allowPrivilegeEscalation: false "
        "(securityContext.allowPrivilegeEscalation)"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="securityOpts")
    props = container(securityOpts=None)
    assert harness.resource(RULE, props, stack=settings(w)) == []
    assert len(harness.resource(RULE, props, stack=settings(
        dict(w, expires="2026-11-22")))) == 1
