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
from policies.normalise import DOCKER_VOLUME, host_path

SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "podman.sock", "docker_engine")
# Where runtimes put their sockets: mounting one of these directories hands over the socket
# as surely as mounting the socket itself (`/var/run` is a symlink to `/run` on the host).
SOCKET_PATHS = (
    "/run/docker.sock", "/var/run/docker.sock",
    "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock",
    "/run/docker/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock",
    "/run/crio/crio.sock", "/var/run/crio/crio.sock",
    "/run/podman/podman.sock", "/var/run/podman/podman.sock",
)
# Broader still, but reported as what they are (the host's root or /var), not as a socket.
NOT_A_SOCKET_DIR = ("/", "/var")


def socket_in(path: str) -> str | None:
    """The runtime socket a host path exposes (the path itself, or one inside the directory
    it names), or None. Paths arrive normalised (policies.normalise.host_path)."""
    if path.endswith(SOCKETS):
        return path
    if path in NOT_A_SOCKET_DIR:
        return None
    prefix = path.rstrip("/") + "/"
    return next((s for s in SOCKET_PATHS if s.startswith(prefix)), None)


def is_socket(path: str) -> bool:
    return socket_in(path) is not None


_is_socket = is_socket


def _finding(path: str, target: str, read_only: bool) -> Finding:
    socket = socket_in(path)
    if socket is not None:
        mode = "read-only" if read_only else "read-write"
        what = f"the container runtime socket {path}" if socket == path else \
            f"{path}, which holds the container runtime socket {socket},"
        return Finding(
            f"mounts {what} ({mode}) at {target}: root on the host",
            field="volumes",
            subject=path,
        )
    return Finding(f"mounts host path {path} at {target}", field="volumes", subject=path)


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == DOCKER_VOLUME:
        # The local driver with `o: bind` turns a "named" volume into a host directory.
        device = _bound_device(props)
        if device is not None:
            yield Finding(f"volume binds host path {device} (driver local, o=bind)",
                          field="volumes", subject=device)
        return
    if resource_type == CONTAINER:
        for d in as_list(props.get("devices")):
            path = d.get("hostPath") if isinstance(d, Mapping) else None
            if isinstance(path, str) and path:
                yield Finding(f"passes host device {path} into the container as "
                              f"{d.get('containerPath') or path}", field="volumes", subject=path)
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
            # A hostPath volume is writable unless every mount says otherwise, and even a
            # read-only one exposes the host: judged read-write, as the waiver rules do.
            yield _finding(path, f"volume {vol.get('name')} (spec.volumes[].hostPath)", False)


def _bound_device(props: Mapping[str, Any]) -> str | None:
    opts = props.get("driverOpts")
    if props.get("driver") not in (None, "local") or not isinstance(opts, Mapping):
        return None
    o, device = opts.get("o"), opts.get("device")
    binds = isinstance(o, str) and "bind" in [p.strip().lower() for p in o.split(",")]
    return host_path(device) if binds and isinstance(device, str) and device.strip() else None


RULE = Rule(
    name="no-host-mounts",
    description="No hostPath/bind mounts, host devices or host-bound volumes, and no container "
    "runtime socket, in any container.",
    severity=Severity.CRITICAL,
    remediation="Use a named volume (data), a tmpfs (scratch) or an uploaded file (config). "
    "The edge proxy may read the Docker socket read-only only through a waiver "
    "(rampart:policyWaivers) with a reason and an expiry.",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
