"""no-privileged: no container runs privileged."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
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
    if resource_type == CONTAINER:
        if props.get("privileged") is True:
            yield Finding(
                "container runs privileged (all devices, all capabilities)", field="security",
                subject="privileged",
            )
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for role, c in pod_containers_by_role(spec):
        if get(c, "securityContext", "privileged") is True:
            yield Finding(f"{role} {cname(c)} runs privileged (securityContext.privileged)",
                          field="security", subject=f"{cname(c)}/privileged")


RULE = Rule(
    name="no-privileged",
    description="No container runs privileged.",
    severity=Severity.CRITICAL,
    remediation="Remove `privileged`; grant the one capability the service needs instead "
    "(catalog `security.cap_add`).",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
