"""run-as-non-root (Kubernetes): the kubelet refuses to start a container as UID 0.

Judged as Pod Security "restricted" judges it: every container, init container and ephemeral
container runs with `runAsNonRoot: true` (its own, or the pod's when it sets none), no
container and not the pod sets `runAsUser: 0` (the pod's 0 counts even when every container
overrides it: admission refuses the pod), and the pod does not set `runAsNonRoot: false`.
Values arrive normalised: `"0"`, `" 00"` and `+0` are 0, and a misspelled key claims nothing
(policies/normalise.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    UNKNOWN,
    Context,
    Finding,
    Rule,
    Severity,
    cname,
    get,
    pod_containers_by_role,
    pod_spec,
)


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    pod_level = get(spec, "securityContext", "runAsNonRoot")
    pod_uid = get(spec, "securityContext", "runAsUser")
    if pod_uid == 0:
        yield Finding("pod runs as UID 0 (spec.securityContext.runAsUser: 0)", field="security",
                      subject="runAsUser")
    if pod_level is False:
        yield Finding("pod sets runAsNonRoot: false (spec.securityContext.runAsNonRoot)",
                      field="security", subject="runAsNonRoot")
    for role, c in pod_containers_by_role(spec):
        # The container's own securityContext overrides the pod's (normalise.py copies the
        # pod's settings into containers that set none).
        non_root = get(c, "securityContext", "runAsNonRoot", default=pod_level)
        uid = get(c, "securityContext", "runAsUser", default=pod_uid)
        if non_root is UNKNOWN or uid is UNKNOWN:
            continue
        if uid == 0:
            yield Finding(f"{role} {cname(c)} runs as UID 0 (securityContext.runAsUser)",
                          field="security", subject=f"{cname(c)}/runAsUser")
        elif non_root is not True:
            yield Finding(f"{role} {cname(c)} does not set runAsNonRoot: true "
                          "(securityContext.runAsNonRoot, on the container or the pod)",
                          field="security", subject=f"{cname(c)}/runAsNonRoot")


RULE = Rule(
    name="run-as-non-root",
    description="Kubernetes containers (init and ephemeral ones too) run with runAsNonRoot: "
    "true, and neither a container nor the pod sets runAsUser: 0.",
    severity=Severity.HIGH,
    remediation="Set the service's `security.user` (numeric uid:gid) in the catalog; the "
    "Kubernetes target emits runAsNonRoot/runAsUser from it on the pod and every container.",
    check_resource=check,
    tags=("isolation", "kubernetes"),
)
