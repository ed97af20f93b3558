"""container-limits-set: every container has a CPU and a memory limit."""

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
    app_containers,
    cname,
    get,
    pod_spec,
)


def _positive(value: Any) -> bool:
    if value is UNKNOWN:
        return True  # computed later: nothing to judge yet
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        if not _positive(props.get("memory")):
            yield Finding("container has no memory limit (`memory`)", field="resources",
                          subject="memory")
        if not (_positive(props.get("cpus")) or _positive(props.get("cpuQuota"))):
            hint = (
                " (cpuShares is a relative weight, not a limit)" if props.get("cpuShares") else ""
            )
            yield Finding(f"container has no CPU limit (`cpus`){hint}", field="resources",
                          subject="cpus")
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for c in app_containers(spec):
        limits = get(c, "resources", "limits", default={})
        for key in ("cpu", "memory"):
            if limits is UNKNOWN:
                continue
            if not isinstance(limits, Mapping) or not limits.get(key):
                yield Finding(
                    f"container {cname(c)} has no resources.limits.{key}", field="resources",
                    subject=f"{cname(c)}/limits.{key}",
                )


RULE = Rule(
    name="container-limits-set",
    description="Every container has a CPU limit and a memory limit.",
    severity=Severity.MEDIUM,
    remediation="Set the service's resources in the catalog (defaults: 1 CPU / 1 GiB limit); "
    "the target turns them into `cpus`/`memory` (Docker) or resources.limits (Kubernetes).",
    check_resource=check,
    tags=("resources", "docker", "kubernetes"),
)
