"""capabilities-dropped: every container drops ALL capabilities and adds only allowed ones.

Docker: `drops` holds ALL (any case, `CAP_` prefix or not, as Docker reads it) and `adds`
only capabilities of `rampart:policyAllowedCapabilities`. Kubernetes: what Pod Security
"restricted" admits, compared as admission compares, exactly: `drop` contains `ALL` (`all`
and `CAP_ALL` are other words to it) and `add` holds nothing but `NET_BIND_SERVICE`, in
every container, init container and ephemeral container.
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


def _norm(caps: Any) -> set[str]:
    return {str(c).upper().removeprefix("CAP_") for c in as_list(caps)}


def _judge(who: str, drops: Any, adds: Any, ctx: Context, drop_field: str) -> Iterator[Finding]:
    if drops is UNKNOWN or adds is UNKNOWN:
        return
    if "ALL" not in _norm(drops):
        yield Finding(f"{who} does not drop ALL capabilities", field="security",
                      subject=drop_field)
    # One finding per capability: a waiver names the one capability it accepts.
    for cap in sorted(_norm(adds) - ctx.allowed_capabilities):
        yield Finding(
            f"{who} adds capabilities outside the allowed list: {cap}",
            field="security",
            subject=cap,
        )


# The one capability Pod Security "restricted" lets a container add.
K8S_ALLOWED = "NET_BIND_SERVICE"
K8S_ALL = "ALL"


def _judge_k8s(role: str, c: Mapping[str, Any]) -> Iterator[Finding]:
    caps = get(c, "securityContext", "capabilities", default={})
    if caps is UNKNOWN:
        return
    caps = caps if isinstance(caps, Mapping) else {}
    drops, adds = caps.get("drop"), caps.get("add")
    if drops is UNKNOWN or adds is UNKNOWN:
        return
    who = f"{role} {cname(c)}"
    if K8S_ALL not in as_list(drops):
        spelled = [d for d in as_list(drops) if str(d).strip().upper().removeprefix("CAP_")
                   == K8S_ALL]
        hint = f" ({spelled[0]!r} is not {K8S_ALL!r} to Pod Security admission)" \
            if spelled else ""
        yield Finding(f"{who} does not drop ALL capabilities (securityContext.capabilities."
                      f"drop){hint}", field="security", subject=f"{cname(c)}/capabilities.drop")
    for cap in dict.fromkeys(str(a) for a in as_list(adds)):
        if cap != K8S_ALLOWED:
            yield Finding(f"{who} adds capability {cap} (securityContext.capabilities.add); "
                          f"Pod Security restricted allows only {K8S_ALLOWED}",
                          field="security", subject=f"{cname(c)}/{cap}")


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        caps = props.get("capabilities")
        if caps is UNKNOWN:
            return
        caps = caps if isinstance(caps, Mapping) else {}
        yield from _judge("container", caps.get("drops"), caps.get("adds"), ctx,
                          "capabilities.drops")
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for role, c in pod_containers_by_role(spec):
        yield from _judge_k8s(role, c)


RULE = Rule(
    name="capabilities-dropped",
    description="Every container drops ALL Linux capabilities and adds back only allowed ones.",
    severity=Severity.HIGH,
    remediation="Keep the catalog default `cap_drop: [ALL]`; list the few capabilities the "
    "service needs in `cap_add` (Docker: rampart:policyAllowedCapabilities, default CHOWN, "
    "DAC_OVERRIDE, FOWNER, SETGID, SETUID, NET_BIND_SERVICE; Kubernetes: NET_BIND_SERVICE "
    "only, spelled exactly, with `drop: [ALL]`).",
    check_resource=check,
    tags=("isolation", "docker", "kubernetes"),
)
