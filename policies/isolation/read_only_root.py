"""Read-only root filesystem: mandatory, advisory when the service declares writable paths.

Two rules share one judgement. A container whose root is writable although it declares no
writable paths breaks `read-only-root-filesystem` (mandatory). One that declares writable
paths (tmpfs, volumes, `rampart.writable-paths`) but still keeps its root writable only
breaks `read-only-root-with-writable-paths` (advisory): some images write outside the paths
they document, and the catalog owner decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    UNKNOWN,
    Context,
    Finding,
    Level,
    Rule,
    Severity,
    app_containers,
    as_list,
    cname,
    docker_labels,
    get,
    pod_spec,
)

K8S_WRITABLE_ROOT = "rampart.io/writable-root"
# Where targets deliver secret files: a volume there is not a path the service writes.
SECRET_DIRS = ("/run/secrets", "/var/run/secrets")


def _docker_writable_paths(props: Mapping[str, Any]) -> list[str]:
    labels = docker_labels(props)
    paths = [p for p in labels.get("rampart.writable-paths", "").split(",") if p]
    if labels.get("rampart.writable-root"):
        # The catalog's `writable_root: <reason>`: the whole root is the declared path.
        paths.append("/")
    tmpfs = props.get("tmpfs")
    if isinstance(tmpfs, Mapping):
        paths += list(tmpfs)
    for m in as_list(props.get("mounts")):
        if (
            isinstance(m, Mapping)
            and m.get("type") in ("tmpfs", "volume")
            and not m.get("readOnly")
        ):
            paths.append(str(m.get("target")))
    for v in as_list(props.get("volumes")):
        if isinstance(v, Mapping) and v.get("volumeName") and not v.get("readOnly"):
            paths.append(str(v.get("containerPath")))
    return [p for p in paths if p not in SECRET_DIRS]


def _writable_roots(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, bool]]:
    """(who, declares writable paths) for every container whose root is writable."""
    if resource_type == CONTAINER:
        if props.get("readOnly") is not True and props.get("readOnly") is not UNKNOWN:
            yield "container", bool(_docker_writable_paths(props))
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    # The catalog's `writable_root: <reason>` on Kubernetes: the workload's annotation.
    declared = bool(_k8s_writable_root(props))
    for c in app_containers(spec):
        if get(c, "securityContext", "readOnlyRootFilesystem") is not True:
            mounts = [m for m in as_list(c.get("volumeMounts")) if not get(m, "readOnly")]
            yield f"container {cname(c)}", bool(mounts) or declared


def _k8s_writable_root(props: Mapping[str, Any]) -> str | None:
    notes = get(props, "metadata", "annotations", default={})
    reason = notes.get(K8S_WRITABLE_ROOT) if isinstance(notes, Mapping) else None
    return reason if isinstance(reason, str) and reason.strip() else None


def _subject(who: str) -> str:
    """`readOnly` (Docker) or `<container>/readOnlyRootFilesystem` (Kubernetes)."""
    if who == "container":
        return "readOnly"
    return f"{who.removeprefix('container ')}/readOnlyRootFilesystem"


def check_mandatory(
    resource_type: str, props: Mapping[str, Any], ctx: Context
) -> Iterator[Finding]:
    for who, declares in _writable_roots(resource_type, props):
        if not declares:
            yield Finding(f"{who} has a writable root filesystem", field="security",
                          subject=_subject(who))


def check_advisory(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    reason = docker_labels(props).get("rampart.writable-root") if resource_type == CONTAINER \
        else _k8s_writable_root(props)
    for who, declares in _writable_roots(resource_type, props):
        if declares and reason:
            # the catalog's own words, so the report says why this one is accepted
            yield Finding(f"{who} has a writable root filesystem (catalog writable_root: "
                          f"{reason})", field="writable_root", subject=_subject(who))
        elif declares:
            yield Finding(
                f"{who} has a writable root filesystem although it declares writable paths",
                field="security",
                subject=_subject(who),
            )


RULE = Rule(
    name="read-only-root-filesystem",
    description="Containers run with a read-only root filesystem.",
    severity=Severity.MEDIUM,
    remediation="Keep the catalog default `read_only_root: true`; list the paths the service "
    "writes in `writable_paths` (tmpfs or volume).",
    check_resource=check_mandatory,
    tags=("isolation", "docker", "kubernetes"),
)

ADVISORY_RULE = Rule(
    name="read-only-root-with-writable-paths",
    description="Services that declare writable paths should still run with a read-only root.",
    severity=Severity.LOW,
    remediation="Mount every path the image writes (tmpfs/volume) and set `read_only_root: "
    "true` in the catalog.",
    level=Level.ADVISORY,
    check_resource=check_advisory,
    tags=("isolation", "docker", "kubernetes"),
)
