"""stateful-backup-declared: every stateful service names a backup job the stack deploys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.stack.workloads import label, workloads


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    found = list(workloads(resources))
    deployed = {w.service for w in found}
    for w in found:
        if label(w, "stateful") != "true":
            continue
        backup = label(w, "backup")
        if label(w, "backup-exempt"):
            continue  # the catalog says why (backup_exempt); the report lists the label
        if not backup:
            yield Finding(
                f"stateful service {w.service} declares no backup job",
                urn=w.resource.urn,
                service=w.service,
                field="backup",
                subject="backup",
            )
        elif backup not in deployed:
            yield Finding(
                f"stateful service {w.service} names backup job {backup}, which "
                "the stack does not deploy",
                urn=w.resource.urn,
                service=w.service,
                field="backup",
                subject="backup",
            )


RULE = Rule(
    name="stateful-backup-declared",
    description="Every stateful service has a backup job declared and deployed.",
    severity=Severity.HIGH,
    remediation="Set `backup: <job>` on the stateful service in the catalog (or "
    "`backup_exempt: <reason>` for data that can be rebuilt).",
    check_stack=check,
    tags=("backup", "docker", "kubernetes", "stack"),
)
