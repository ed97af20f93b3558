"""seccomp-profile-required: compliant, non-compliant, property missing, waiver override."""

import copy

import pytest
from policy_harness import K8S_TYPES, container, pod_spec, settings, waiver, workload

from policies.isolation import seccomp_profile

pytestmark = pytest.mark.unit
RULE = seccomp_profile.RULE
UNSET = ("sets no seccompProfile, so it runs Unconfined unless the kubelet defaults to "
         "RuntimeDefault (securityContext.seccompProfile, on the container or the pod)")


def judge(harness, spec, kind="Deployment", **kw):
    kind_type, name, props = workload(kind, spec)
    return harness.resource(RULE, props, kind_type, name, **kw)


@pytest.mark.parametrize("kind", sorted(K8S_TYPES))
def test_pod_level_runtime_default_passes_for_every_kind(harness, kind):
    assert judge(harness, pod_spec(), kind) == []


@pytest.mark.parametrize("profile", [
    {"type": "RuntimeDefault"}, {"type": "Localhost", "localhostProfile": "profiles/erp.json"}])
def test_container_level_profiles_pass_without_a_pod_profile(harness, profile):
    spec = pod_spec()
    del spec["securityContext"]["seccompProfile"]
    spec["containers"][0]["securityContext"]["seccompProfile"] = profile
    assert judge(harness, spec) == []


def test_pod_level_unconfined_fails(harness):
    spec = pod_spec()
    spec["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    assert judge(harness, spec) == [
        "pod uses seccompProfile type 'Unconfined', not RuntimeDefault or Localhost "
        "(spec.securityContext.seccompProfile)"]


def test_pod_level_unconfined_fails_even_when_every_container_overrides_it(harness):
    spec = pod_spec()
    spec["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    spec["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert len(judge(harness, spec)) == 1


@pytest.mark.parametrize("role", ["containers", "initContainers", "ephemeralContainers"])
def test_a_container_overriding_the_pod_with_unconfined_fails(harness, role):
    spec = pod_spec()
    extra = copy.deepcopy(spec["containers"][0])
    extra["name"] = "sidecar"
    extra["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    spec.setdefault(role, []).append(extra)
    found = judge(harness, spec, "Pod")
    assert len(found) == 1 and "sidecar uses seccompProfile type 'Unconfined'" in found[0]
    assert "securityContext.seccompProfile" in found[0]


def test_missing_profile_fails_for_every_container(harness):
    """The property missing: no profile on the pod nor on the containers."""
    spec = pod_spec()
    del spec["securityContext"]["seccompProfile"]
    spec["initContainers"] = [{**copy.deepcopy(spec["containers"][0]), "name": "migrate"}]
    assert judge(harness, spec, "Job") == [
        f"init container migrate {UNSET}", f"container auth {UNSET}"]


def test_localhost_without_a_profile_file_fails(harness):
    spec = pod_spec()
    spec["securityContext"]["seccompProfile"] = {"type": "Localhost"}
    assert judge(harness, spec) == [
        "pod uses seccompProfile type Localhost without a localhostProfile "
        "(spec.securityContext.seccompProfile)"]


@pytest.mark.parametrize("opt", ["seccomp=unconfined", "seccomp:unconfined",
                                 "Seccomp=Unconfined", " seccomp = unconfined "])
def test_docker_seccomp_unconfined_fails(harness, opt):
    props = container(securityOpts=["no-new-privileges:true", opt])
    found = harness.resource(RULE, props)
    assert len(found) == 1 and found[0].startswith("container disables seccomp"), found


def test_docker_default_profile_passes(harness):
    assert harness.resource(RULE, container()) == []
    assert harness.resource(RULE, container(securityOpts=[
        "no-new-privileges:true", "seccomp=/etc/docker/seccomp/erp.json"])) == []


def test_waiver_override(harness):
    spec = pod_spec()
    spec["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    w = waiver(RULE.name, "auth", subject="seccompProfile")
    assert judge(harness, spec, stack=settings(w)) == []
    assert len(judge(harness, spec, stack=settings(dict(w, expires="2026-11-22")))) == 1
