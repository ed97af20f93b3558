"""docker-restart-policy: every long-running container restarts after a crash or reboot."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import CONTAINER, UNKNOWN, Context, Finding, Rule, Severity, is_one_shot

RESTARTING = {"always", "unless-stopped", "on-failure"}


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type != CONTAINER:
        return
    if is_one_shot(resource_type, props):
        return  # runs to completion once; restarting it would loop
    restart = props.get("restart")
    if restart is UNKNOWN or restart in RESTARTING:
        return
    # pulumi-docker's default is "no": a crashed service stays down.
    shown = restart if restart else "unset (provider default: no)"
    yield Finding(f"container's restart policy is {shown}", field="restart", subject="restart")


RULE = Rule(
    name="docker-restart-policy",
    description="Docker containers have a restart policy (unless-stopped, always or on-failure).",
    severity=Severity.MEDIUM,
    remediation="Keep the catalog default `restart: unless-stopped`.",
    check_resource=check,
    tags=("operations", "docker"),
)
