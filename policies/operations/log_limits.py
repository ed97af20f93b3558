"""docker-log-limits: every container's local logs are size-limited and rotated."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import CONTAINER, UNKNOWN, Context, Finding, Rule, Severity

LOCAL_DRIVERS = {"json-file", "local"}  # write to the host disk: need max-size/max-file
SHIPPING_DRIVERS = {"journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "loki"}


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type != CONTAINER:
        return
    driver = props.get("logDriver")
    opts = props.get("logOpts")
    if driver is UNKNOWN or opts is UNKNOWN:
        return
    if driver in SHIPPING_DRIVERS:
        return
    if driver == "none":
        yield Finding("container discards its logs (logDriver: none)", field="logs",
                      subject="logDriver")
        return
    if driver not in LOCAL_DRIVERS:
        # Unset means the daemon default: json-file with no limit.
        yield Finding(
            f"container's log driver is {driver or 'unset (daemon default, unbounded)'}; "
            "set json-file or local with limits",
            field="logs",
            subject="logDriver",
        )
        return
    opts = opts if isinstance(opts, Mapping) else {}
    for key in ("max-size", "max-file"):
        if not opts.get(key):
            yield Finding(f"container's {driver} logs have no {key}", field="logs",
                          subject=f"logOpts.{key}")


RULE = Rule(
    name="docker-log-limits",
    description="Docker containers rotate their logs (json-file/local with max-size and max-file).",
    severity=Severity.MEDIUM,
    remediation="Keep the catalog log defaults (json-file, 10m x 3).",
    check_resource=check,
    tags=("operations", "docker"),
)
