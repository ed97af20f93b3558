"""seccomp-profile-required: every container runs under a seccomp profile.

Kubernetes, as Pod Security "restricted" admits it: the pod's `securityContext.seccompProfile`
or every container's own (init and ephemeral containers included) has type `RuntimeDefault`
or `Localhost` (with a `localhostProfile`); `Unconfined`, any other word or no profile at all
is refused, and a pod-level `Unconfined` is refused even when each container overrides it.
Without a profile the kubelet runs the container unconfined unless it was started with
`--seccomp-default`, which the pack cannot see. Types are compared exactly, as the API does.

Docker applies its default profile unless told otherwise: `securityOpts` must not hold
`seccomp=unconfined` (or `seccomp:unconfined`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    UNKNOWN,
    Context,
    Finding,
    Rule,
    Severity,
    as_list,
    cname,
    get,
    pod_containers_by_role,
    pod_spec,
)
from policies.normalise import SECCOMP_CONFINED

ALLOWED = " or ".join(SECCOMP_CONFINED)


def _problem(profile: Any) -> str | None:
    """What is wrong with a (normalised) seccompProfile, or None when it confines."""
    if not isinstance(profile, Mapping):
        return "sets no seccompProfile, so it runs Unconfined unless the kubelet defaults " \
            "to RuntimeDefault"
    kind = profile.get("type")
    if kind not in SECCOMP_CONFINED:
        return f"uses seccompProfile type {kind!r}, not {ALLOWED}"
    if kind == "Localhost" and not profile.get("localhostProfile"):
        return "uses seccompProfile type Localhost without a localhostProfile"
    return None


def _docker(props: Mapping[str, Any]) -> Iterator[Finding]:
    opts = props.get("securityOpts")
    if opts is UNKNOWN:
        return
    for opt in as_list(opts):
        if not isinstance(opt, str):
            continue
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if sep and key.strip().lower() == "seccomp" and value.strip().lower() == "unconfined":
            yield Finding(f"container disables seccomp (securityOpts {opt})", field="security",
                          subject="securityOpts")


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        yield from _docker(props)
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    pod_profile = get(spec, "securityContext", "seccompProfile")
    pod_problem = None
    if pod_profile is not None and pod_profile is not UNKNOWN:
        pod_problem = _problem(pod_profile)
        if pod_problem:
            yield Finding(f"pod {pod_problem} (spec.securityContext.seccompProfile)",
                          field="security", subject="seccompProfile")
    for role, c in pod_containers_by_role(spec):
        profile = get(c, "securityContext", "seccompProfile")
        if profile is UNKNOWN:
            continue
        if pod_problem and profile == pod_profile:
            continue  # inherited from the pod: reported there
        problem = _problem(profile)
        if problem:
            yield Finding(f"{role} {cname(c)} {problem} (securityContext.seccompProfile, on "
                          "the container or the pod)", field="security",
                          subject=f"{cname(c)}/seccompProfile")


RULE = Rule(
    name="seccomp-profile-required",
    description="Every Kubernetes container runs under a seccomp profile of type "
    "RuntimeDefault or Localhost (pod level or per container; Unconfined refused); no Docker "
    "container sets seccomp=unconfined.",
    severity=Severity.HIGH,
    remediation="Keep the Kubernetes target's pod-level `seccompProfile: {type: "
    "RuntimeDefault}` (and never override it with Unconfined in a container); on Docker, "
    "drop `seccomp=unconfined` from securityOpts.",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
