"""no-new-privileges: setuid binaries cannot raise a process's privileges.

Docker: `securityOpts` holds `no-new-privileges:true`. Kubernetes: every container, init
container and ephemeral container sets `allowPrivilegeEscalation: false` explicitly (unset
means true, and a misspelled key is unset to the API server).
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
    for role, c in pod_containers_by_role(spec):
        value = get(c, "securityContext", "allowPrivilegeEscalation")
        if value is not False and value is not UNKNOWN:
            yield Finding(
                f"{role} {cname(c)} does not set allowPrivilegeEscalation: false "
                "(securityContext.allowPrivilegeEscalation)",
                field="security",
                subject=f"{cname(c)}/allowPrivilegeEscalation",
            )


RULE = Rule(
    name="no-new-privileges",
    description="Containers run with no-new-privileges (Docker) or "
    "allowPrivilegeEscalation: false (Kubernetes).",
    severity=Severity.HIGH,
    remediation="Keep the catalog default `no_new_privileges: true`; on Kubernetes every "
    "container (init containers included) sets `allowPrivilegeEscalation: false`.",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
