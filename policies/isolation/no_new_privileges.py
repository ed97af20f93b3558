"""no-new-privileges: setuid binaries cannot raise a process's privileges."""

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
    pod_containers,
    pod_spec,
)

ACCEPTED = {"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"}


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        opts = props.get("securityOpts")
        if opts is UNKNOWN:
            return
        if not ACCEPTED & {str(o).strip().lower() for o in as_list(opts)}:
            yield Finding("container lacks securityOpts no-new-privileges:true", field="security",
                          subject="securityOpts")
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for c in pod_containers(spec):
        if get(c, "securityContext", "allowPrivilegeEscalation") is not False:
            yield Finding(
                f"container {cname(c)} does not set allowPrivilegeEscalation: false",
                field="security",
                subject=f"{cname(c)}/allowPrivilegeEscalation",
            )


RULE = Rule(
    name="no-new-privileges",
    description="Containers run with no-new-privileges (Docker) or "
    "allowPrivilegeEscalation: false (Kubernetes).",
    severity=Severity.HIGH,
    remediation="Keep the catalog default `no_new_privileges: true`.",
    check_resource=check,
    tags=("isolation",),
)
