"""no-host-namespaces: no container shares the host's network, PID or IPC namespace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import CONTAINER, Context, Finding, Rule, Severity, pod_spec

DOCKER_MODES = {"networkMode": "network", "pidMode": "PID", "ipcMode": "IPC"}
K8S_FLAGS = {"hostNetwork": "network", "hostPID": "PID", "hostIPC": "IPC"}


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        for key, what in DOCKER_MODES.items():
            if props.get(key) == "host":
                yield Finding(
                    f"container shares the host {what} namespace ({key}: host)", field="security",
                    subject=key,
                )
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for key, what in K8S_FLAGS.items():
        if spec.get(key) is True:
            yield Finding(f"pod shares the host {what} namespace ({key}: true)", field="security",
                          subject=key)


RULE = Rule(
    name="no-host-namespaces",
    description="No container uses the host network, PID or IPC namespace.",
    severity=Severity.CRITICAL,
    remediation="Attach the service to the platform networks (edge/backend) instead of the "
    "host's; publish through the edge proxy.",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
