"""no-literal-secret-args: no literal secret in a container's command line, health check or
labels.

The environment is no-literal-secret-env's. Everything else that reaches a container is
judged here with the same detector (`infra.secrets.literals`): Docker's `entrypoints` +
`command` (judged as the one argv Docker runs), `healthcheck.tests` and `labels`;
Kubernetes' `command` + `args` of every container. It finds `--requirepass X`,
`--es.password=X`, `redis-cli -a X`, `mysql -pX`, `PGPASSWORD=x psql` inside `sh -c`,
passwords in URL userinfo, known default passwords and high-entropy values. Arguments are
visible to every process on the host (`ps`), in `docker inspect` and in the state file: a
secret is read from its file (`$(cat /run/secrets/x)`, `--password-file`), never passed.
A finding names the field, the item and the reason, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    Context,
    Finding,
    Rule,
    Severity,
    cname,
    docker_labels,
    pod_containers,
    pod_spec,
)
from policies.credentials import scan


def _finding(where: str, reasons: list[str], field: str, who: str = "") -> Finding:
    prefix = f"container {who}: " if who else ""
    # The waiver subject: `command.2`, `auth/args.1` (brackets would read as a pattern).
    subject = re.sub(r"\[(\d+)\]", r".\1", where)
    return Finding(f"{prefix}{where} holds a literal secret ({'; '.join(reasons)})",
                   field=field, subject=f"{who}/{subject}" if who else subject)


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        for where, reasons in scan.argv([("entrypoints", props.get("entrypoints")),
                                         ("command", props.get("command"))]):
            yield _finding(where, reasons, "command")
        hc = props.get("healthcheck")
        tests = hc.get("tests") if isinstance(hc, Mapping) else None
        if isinstance(tests, list) and tests:
            # The first item says how to run the rest (CMD, CMD-SHELL), not what runs.
            keyword = isinstance(tests[0], str) and tests[0] in ("CMD", "CMD-SHELL", "NONE")
            for where, reasons in scan.argv([("healthcheck.tests", tests[1:] if keyword
                                              else tests)]):
                if keyword:  # back to the item's index in `tests`
                    head, _, index = where.rpartition("[")
                    where = f"{head}[{int(index.rstrip(']')) + 1}]"
                yield _finding(where, reasons, "health")
        for where, reasons in scan.labels(docker_labels(props)):
            yield _finding(where, reasons, "labels")
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for c in pod_containers(spec):
        for where, reasons in scan.argv([("command", c.get("command")),
                                         ("args", c.get("args"))]):
            yield _finding(where, reasons, "command", cname(c))


RULE = Rule(
    name="no-literal-secret-args",
    description="No literal secret in a container's entrypoint, command, arguments, health "
    "check or labels (credential flags and option pairs, URL passwords, known defaults, "
    "high-entropy values).",
    severity=Severity.CRITICAL,
    remediation="Declare the secret in the catalog's `secrets:` so it is mounted as a file "
    "under /run/secrets, and have the command read it (`--password-file`, "
    "`$(cat /run/secrets/<name>)`, the image's `<NAME>_FILE` variable).",
    check_resource=check,
    tags=("secrets", "docker", "kubernetes"),
)
