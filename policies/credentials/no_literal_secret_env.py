"""no-literal-secret-env: no environment variable carries a literal secret.

Secrets reach containers as files (`<NAME>_FILE=/run/secrets/...`), as Pulumi secrets
(recorded as `[secret]`) or, on Kubernetes, from a Secret (`valueFrom.secretKeyRef`); a plain
value in `POSTGRES_PASSWORD=...` ends up in `docker inspect` (or the pod spec), in the state
file and in every render. Judged by the one detector the model uses
too (`infra.secrets.literals`, through policies/credentials/scan.py): credential names in any
spelling (`POSTGRES_PWD`, `smtpPass`), passwords in URL userinfo (`DATABASE_URL`), credential
files outside /run/secrets, known default passwords and high-entropy values. A finding names
the variable and the reason, never the value.
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
    cname,
    docker_envs,
    pod_containers_by_role,
    pod_spec,
)
from policies.credentials import scan

NAMES_A_CREDENTIAL = "names a credential"


def _message(name: str, reasons: list[str]) -> str:
    # Never echo the value: the report would leak what the rule protects.
    text = f"environment variable {name} has a literal value"
    other = [r for r in reasons if r != NAMES_A_CREDENTIAL]
    return f"{text} ({'; '.join(other)})" if other else text


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        for name, reasons in scan.env(docker_envs(props)):
            yield Finding(_message(name, reasons), field="env", subject=name)
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for role, c in pod_containers_by_role(spec):
        # A `value` is judged even next to a `valueFrom`: the API refuses the pair, but the
        # literal is already in the program, the state and every render.
        pairs = [(str(e.get("name", "")), e.get("value")) for e in as_list(c.get("env"))
                 if isinstance(e, Mapping) and e.get("value") is not None]
        for name, reasons in scan.env(pairs):
            yield Finding(f"{role} {cname(c)}: {_message(name, reasons)} (env[].value)",
                          field="env", subject=f"{cname(c)}/{name}")


RULE = Rule(
    name="no-literal-secret-env",
    description="No environment variable carries a literal secret: a credential name "
    "(PASSWORD, PWD, SECRET, TOKEN, KEY, PEPPER, ...) with a value, a password in a URL, a "
    "known default password or a high-entropy value.",
    severity=Severity.CRITICAL,
    remediation="Declare the secret in the catalog's `secrets:`; it is read from Vault at "
    "deploy time and mounted as a file (`<NAME>_FILE`), or set from a Kubernetes Secret.",
    check_resource=check,
    tags=("secrets", "docker", "kubernetes"),
)
