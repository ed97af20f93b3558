"""container-runs-as-non-root (Docker) and its advisory companion root-init-confined.

Docker starts a container as its image's `USER` unless `user` says otherwise, and most images
leave that as root. The rule reads `user` as the normalisation layer resolved it (a name or
uid[:gid] in any numeric spelling: `0`, `00`, `0000`, `+0`, ` 0`, `0:0`, `00:00`, `root` and
`root:root` are all uid 0) and refuses uid 0, and a missing user: the image's own `USER` is
invisible to the pack, so "not set" is judged as the root it usually is. The group may be 0
(images built for arbitrary uids, such as Elasticsearch and Grafana, run as uid:0); names
other than root are resolved only inside the image and are accepted.

One exception is reported instead of refused: a one-shot ownership hand-off (the Docker
target's `volume-init` containers) must be uid 0 to chown a fresh volume for its service. It
is advisory only while it is *confined*: it runs once (`attach`, restart `no`), without a
network, with ALL capabilities dropped and only CHOWN/FOWNER added, no-new-privileges, a
read-only root, no host namespaces and no host paths. Missing any of these, it is the
mandatory finding like every other root container.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    UNKNOWN,
    Context,
    Finding,
    Level,
    Rule,
    Severity,
    as_list,
    docker_labels,
)
from policies.normalise import MAX_UID, to_int

INIT_ROLE = "volume-init"
INIT_CAPABILITIES = frozenset({"CHOWN", "FOWNER"})


def resolve(user: Any) -> tuple[str, Any]:
    """(verdict, uid) for a normalised Docker `user`: verdict is one of "unknown", "missing",
    "secret", "root", "invalid", "ok"."""
    if user is UNKNOWN:
        return "unknown", None
    if user is None:
        return "missing", None
    if user == SECRET:
        return "secret", None
    if not isinstance(user, str):
        return "invalid", None
    uid = to_int(user.partition(":")[0])
    if not isinstance(uid, int):
        return "ok", uid  # a name other than root: resolved inside the image
    if uid == 0:
        return "root", 0
    if not 0 < uid <= MAX_UID:
        return "invalid", uid
    return "ok", uid


def _unconfined(props: Mapping[str, Any]) -> list[str]:
    """What a root one-shot init lacks to count as confined (empty: confined)."""
    missing = []
    if docker_labels(props).get("rampart.role") != INIT_ROLE:
        missing.append(f"label rampart.role={INIT_ROLE}")
    if props.get("attach") is not True or props.get("restart") not in (None, "no"):
        missing.append("runs once (attach, restart no)")
    networks = [n for n in as_list(props.get("networksAdvanced")) if n]
    if props.get("networkMode") != "none" or networks:
        missing.append("no network (networkMode none)")
    caps = props.get("capabilities")
    caps = caps if isinstance(caps, Mapping) else {}
    drops = {str(c) for c in as_list(caps.get("drops"))}
    adds = {str(c) for c in as_list(caps.get("adds"))}
    if "ALL" not in drops or not adds <= INIT_CAPABILITIES:
        missing.append("capabilities: drop ALL, add only CHOWN/FOWNER")
    if "no-new-privileges:true" not in as_list(props.get("securityOpts")):
        missing.append("no-new-privileges")
    if props.get("readOnly") is not True:
        missing.append("read-only root")
    if props.get("privileged") is True or any(
            props.get(k) == "host" for k in ("pidMode", "ipcMode", "usernsMode")):
        missing.append("not privileged, no host namespaces")
    host_paths = [m for m in as_list(props.get("mounts"))
                  if isinstance(m, Mapping) and m.get("type") == "bind"]
    host_paths += [v for v in as_list(props.get("volumes"))
                   if isinstance(v, Mapping) and v.get("hostPath")]
    if host_paths or as_list(props.get("devices")):
        missing.append("no host paths or devices")
    if as_list(props.get("ports")) or props.get("publishAllPorts") is True:
        missing.append("no published ports")
    return missing


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type != CONTAINER:
        return
    user = props.get("user")
    verdict, uid = resolve(user)
    if verdict == "missing":
        yield Finding("container sets no user, so it runs as its image's default user (root "
                      "in most images)", field="security", subject="user")
    elif verdict == "secret":
        yield Finding("container's user is hidden behind a secret, so it cannot be shown not "
                      "to be root", field="security", subject="user")
    elif verdict == "invalid":
        yield Finding(f"container's user {user!r} is not a valid user or uid "
                      f"(1-{MAX_UID})", field="security", subject="user")
    elif verdict == "root":
        missing = _unconfined(props)
        if not missing:
            return  # a confined one-shot init: root-init-confined reports it
        if docker_labels(props).get("rampart.role") == INIT_ROLE:
            yield Finding(f"one-shot init runs as root (user {user}) without being confined: "
                          f"lacks {'; '.join(missing)}", field="security", subject="user")
        else:
            yield Finding(f"container runs as root (user {user})", field="security",
                          subject="user")


def check_init(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type != CONTAINER:
        return
    verdict, _ = resolve(props.get("user"))
    if verdict == "root" and not _unconfined(props):
        yield Finding(f"one-shot init runs as root (user {props.get('user')}) to hand a volume "
                      "to its service; confined: no network, only CHOWN/FOWNER, read-only "
                      "root, runs once", field="security", subject="user")


RULE = Rule(
    name="container-runs-as-non-root",
    description="Docker containers run as a non-root user: `user` is set and does not "
    "resolve to uid 0 (root, 0, 00:00, +0, ...).",
    severity=Severity.HIGH,
    remediation="Set the service's `security.user` (uid:gid) in the catalog, e.g. `1000:1000` "
    "or the uid the image documents; never 0/root. Only a confined one-shot volume-init may "
    "run as root.",
    check_resource=check,
    tags=("isolation", "docker"),
)

ADVISORY_RULE = Rule(
    name="root-init-confined",
    description="Lists one-shot volume-init containers that run as root, confined (no network, "
    "only CHOWN/FOWNER, read-only root, run once).",
    severity=Severity.LOW,
    remediation="Nothing while the init stays confined; pre-create volumes with the right "
    "owner to remove it.",
    level=Level.ADVISORY,
    check_resource=check_init,
    tags=("isolation", "docker"),
)
