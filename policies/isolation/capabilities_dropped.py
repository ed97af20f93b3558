"""capabilities-dropped: every container drops ALL capabilities and adds only allowed ones."""

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


def _norm(caps: Any) -> set[str]:
    return {str(c).upper().removeprefix("CAP_") for c in as_list(caps)}


def _judge(who: str, drops: Any, adds: Any, ctx: Context, drop_field: str,
           prefix: str = "") -> Iterator[Finding]:
    if drops is UNKNOWN or adds is UNKNOWN:
        return
    if "ALL" not in _norm(drops):
        yield Finding(f"{who} does not drop ALL capabilities", field="security",
                      subject=prefix + drop_field)
    # One finding per capability: a waiver names the one capability it accepts.
    for cap in sorted(_norm(adds) - ctx.allowed_capabilities):
        yield Finding(
            f"{who} adds capabilities outside the allowed list: {cap}",
            field="security",
            subject=prefix + cap,
        )


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
    for c in pod_containers(spec):
        caps = get(c, "securityContext", "capabilities", default={})
        if not isinstance(caps, Mapping):
            caps = {}
        yield from _judge(f"container {cname(c)}", caps.get("drop"), caps.get("add"), ctx,
                          "capabilities.drop", f"{cname(c)}/")


RULE = Rule(
    name="capabilities-dropped",
    description="Every container drops ALL Linux capabilities and adds back only allowed ones.",
    severity=Severity.HIGH,
    remediation="Keep the catalog default `cap_drop: [ALL]`; list the few capabilities the "
    "service needs in `cap_add` (allowed: rampart:policyAllowedCapabilities, default CHOWN, "
    "DAC_OVERRIDE, FOWNER, SETGID, SETUID, NET_BIND_SERVICE).",
    check_resource=check,
    tags=("isolation",),
)
