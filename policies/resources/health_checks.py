"""health-check-defined: Docker health check; Kubernetes readiness and liveness probes."""

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
    as_list,
    cname,
    is_batch,
    is_one_shot,
    pod_spec,
)


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        if is_one_shot(resource_type, props):
            return  # exits by design: nothing to keep healthy
        hc = props.get("healthcheck")
        if hc is UNKNOWN:
            return
        tests = as_list(hc.get("tests")) if isinstance(hc, Mapping) else []
        if not tests:
            yield Finding("container has no health check (`healthcheck.tests`)", field="health",
                          subject="healthcheck")
        elif tests[0] == "NONE":
            yield Finding("container disables its image's health check (NONE)", field="health",
                          subject="healthcheck")
        return
    spec = pod_spec(resource_type, props)
    if spec is None or is_batch(resource_type):
        return  # a Job's pods exit by design: nothing to probe
    for c in app_containers(spec):
        for probe in ("readinessProbe", "livenessProbe"):
            if not c.get(probe):
                yield Finding(f"container {cname(c)} has no {probe}", field="health",
                              subject=f"{cname(c)}/{probe}")


RULE = Rule(
    name="health-check-defined",
    description="Every container has a health check (Docker) or readiness and liveness probes "
    "(Kubernetes).",
    severity=Severity.MEDIUM,
    remediation="Declare the service's health endpoint in the catalog (/health/live, "
    "/health/ready; interval 30 s, timeout 10 s, retries 3, start period 60 s).",
    check_resource=check,
    tags=("reliability", "docker", "kubernetes"),
)
