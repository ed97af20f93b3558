"""no-literal-secret-env: no secret-looking environment variable carries a literal value.

Secrets reach containers as files (`<NAME>_FILE=/run/secrets/...`) or as Pulumi secrets
(recorded as `[secret]`); a plain value in `POSTGRES_PASSWORD=...` ends up in `docker
inspect`, in the state file and in every render.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    UNKNOWN,
    Context,
    Finding,
    Rule,
    Severity,
    as_list,
    cname,
    docker_envs,
    pod_containers,
    pod_spec,
)

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS($|_)|SECRET|TOKEN|PEPPER|CREDENTIAL|PRIVATE|"
    r"API_?KEY|(^|_)KEYS?($|_)",
    re.IGNORECASE,
)
# Names that contain a secret word but hold no secret: where the secret is, or what it is.
NOT_SECRET_SUFFIX = re.compile(
    r"_(FILE|PATH|PREFIX|NAME|ID|URL|URI|HOST|PORT|USER|USERNAME|ALGORITHM|TTL|EXPIRY|"
    r"EXPIRES_IN|LENGTH|ROTATION_DAYS|ENABLED)$",
    re.IGNORECASE,
)
SECRET_FILE_DIRS = ("/run/secrets/", "/var/run/secrets/")


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_SUFFIX.search(name)


def _literal(value: Any) -> bool:
    if value is UNKNOWN or value in (SECRET, "", None):
        return False
    return not (isinstance(value, str) and value.startswith(SECRET_FILE_DIRS))


def check(resource_type: str, props: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    if resource_type == CONTAINER:
        for name, value in docker_envs(props):
            if looks_secret(name) and _literal(value):
                # Never echo the value: the report would leak what the rule protects.
                yield Finding(f"environment variable {name} has a literal value", field="env")
        return
    spec = pod_spec(resource_type, props)
    if spec is None:
        return
    for c in pod_containers(spec):
        for env in as_list(c.get("env")):
            if not isinstance(env, Mapping):
                continue
            name = str(env.get("name", ""))
            if looks_secret(name) and "valueFrom" not in env and _literal(env.get("value")):
                yield Finding(
                    f"container {cname(c)}: environment variable {name} has a literal value",
                    field="env",
                )


RULE = Rule(
    name="no-literal-secret-env",
    description="No secret-looking environment variable (PASSWORD, SECRET, TOKEN, KEY, "
    "PEPPER, ...) carries a literal value.",
    severity=Severity.CRITICAL,
    remediation="Declare the secret in the catalog's `secrets:`; it is read from Vault at "
    "deploy time and mounted as a file (`<NAME>_FILE`), or set from a Kubernetes Secret.",
    check_resource=check,
    tags=("secrets",),
)
