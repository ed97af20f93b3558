"""no-host-mounts: no host path and no Docker socket inside a container.

A read-only socket for the edge proxy (Traefik's Docker provider) is still a finding: it is
allowed only through a waiver in the stack config, so the exception is visible and expires.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    Context,
    Finding,
    Rule,
    Severity,
    as_list,
    get,
    pod_spec,
)

SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "podman.sock")


def _is_socket(path: str) -> bool:
    return any(path.endswith(s) for s in SOCKETS)


def _finding(path: str, target: str, read_only: bool) -> Finding:
    if _is_socket(path):
        mode = "read-only" if read_only else "read-write"
        return Finding(
            f"mounts the container runtime socket {path} ({mode}) at {target}: root on the host",
            field="volumes",
        )
    return Finding(f"mounts host path {path} at {target}", field="volumes")


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        for m in as_list(props.get("mounts")):
            if not isinstance(m, Mapping):
                continue
            source = m.get("source")
            if m.get("type") == "bind" and isinstance(source, str):
                yield _finding(source, str(m.get("target")), m.get("readOnly") is True)
        for v in as_list(props.get("volumes")):
            if isinstance(v, Mapping) and isinstance(v.get("hostPath"), str) and v["hostPath"]:
                yield _finding(
                    v["hostPath"], str(v.get("containerPath")), v.get("readOnly") is True
                )
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for vol in as_list(spec.get("volumes")):
        path = get(vol, "hostPath", "path")
        if isinstance(path, str):
            yield _finding(path, f"volume {vol.get('name')}", False)


RULE = Rule(
    name="no-host-mounts",
    description="No hostPath/bind mounts and no container runtime socket in any container.",
    severity=Severity.CRITICAL,
    remediation="Use a named volume (data), a tmpfs (scratch) or an uploaded file (config). "
    "The edge proxy may read the Docker socket read-only only through a waiver "
    "(rampart:policyWaivers) with a reason and an expiry.",
    check_resource=check,
    tags=("isolation",),
)
