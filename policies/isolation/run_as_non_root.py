"""run-as-non-root (Kubernetes): the kubelet refuses to start a container as UID 0."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import Context, Finding, Rule, Severity, cname, get, pod_containers, pod_spec


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    pod_level = get(spec, "securityContext", "runAsNonRoot")
    pod_uid = get(spec, "securityContext", "runAsUser")
    for c in pod_containers(spec):
        # The container's own securityContext overrides the pod's.
        non_root = get(c, "securityContext", "runAsNonRoot", default=pod_level)
        uid = get(c, "securityContext", "runAsUser", default=pod_uid)
        if uid == 0:
            yield Finding(f"container {cname(c)} runs as UID 0", field="security",
                          subject=f"{cname(c)}/runAsUser")
        elif non_root is not True:
            yield Finding(f"container {cname(c)} does not set runAsNonRoot: true", field="security",
                          subject=f"{cname(c)}/runAsNonRoot")


RULE = Rule(
    name="run-as-non-root",
    description="Kubernetes containers set runAsNonRoot: true (and never runAsUser: 0).",
    severity=Severity.HIGH,
    remediation="Set the service's `security.user` (uid:gid) in the catalog; the Kubernetes "
    "target emits runAsNonRoot/runAsUser from it.",
    check_resource=check,
    tags=("isolation", "kubernetes"),
)
