"""Literal secrets in the catalog and the stack settings, found before anything else reads them.

The one detector (infra/secrets/literals.py, shared with the policy pack) judges every value
of a service that reaches a container — environment, entrypoint + command (as the one argv
Docker runs), the health check, and every other field (labels are made from `backup`,
`backup_exempt`, `writable_root`, `one_shot`; paths, hosts and names end up in the container's
spec or the edge's routers) — except `description`, which is documentation only.

It runs on the raw mapping, first: the typed readers that come after quote a bad value back
(`'<value>' is not valid`), and a secret must never reach a message. A finding becomes one
`ValidationError` naming the file, the service and the field, with the detector's reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.secrets.literals import WHY_DEFAULT, LiteralSecret, scan_argv, scan_env, scan_text

# Catalog keys that never reach a container.
DOCUMENTATION_KEYS = frozenset({"description"})
_ARGV_INDEX = re.compile(r"argv\[(\d+)\]")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _key(key: Any, parent: str) -> list[LiteralSecret]:
    """A mapping key is a name (`JWT_SECRET` is on the denylist of default *values*), but
    it reaches containers (variable names) and messages: a URL with a password or a random
    token as a key is refused too, and reported at the parent (the key is the secret)."""
    if not isinstance(key, str):
        return []
    return [LiteralSecret(parent, f"{found.why}, in a key")
            for found in scan_text(key, parent) if found.why != WHY_DEFAULT]


def _walk(value: Any, where: str) -> list[LiteralSecret]:
    """Every string below `value`, and the mapping keys (see `_key`)."""
    if isinstance(value, str):
        return scan_text(value, where)
    found: list[LiteralSecret] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            found += _key(key, where)
            found += _walk(item, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += _walk(item, f"{where}[{index}]")
    return found


def _argv(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    # a non-string item is refused by the reader later; keep the positions of the others
    return [item if isinstance(item, str) else "" for item in value]


def service_findings(data: Mapping[str, Any]) -> list[LiteralSecret]:
    """Literal secrets in one raw catalog service, most specific first."""
    found: list[LiteralSecret] = []
    entrypoint, command = _argv(data.get("entrypoint")), _argv(data.get("command"))
    if entrypoint is not None or command is not None:
        # One argv, as the runtime runs it: `redis-cli` in the entrypoint and `-a X` in the
        # command are judged together.
        head = entrypoint or []
        for finding in scan_argv([*head, *(command or [])], "argv"):
            match = _ARGV_INDEX.fullmatch(finding.where)
            index = int(match[1]) if match else 0
            field = (f"entrypoint[{index}]" if index < len(head)
                     else f"command[{index - len(head)}]")
            found.append(LiteralSecret(field, finding.why))
    for key, value in data.items():
        found += _key(key, "")
        if key in DOCUMENTATION_KEYS:
            continue
        if key in ("entrypoint", "command") and _argv(value) is not None:
            continue
        if key == "environment" and isinstance(value, Mapping):
            found += scan_env({str(k): v for k, v in value.items() if _scalar(v)}, key)
            for name, item in value.items():
                found += _key(name, key)
                if not _scalar(item):
                    found += _walk(item, f"{key}.{name}")
            continue
        if key == "health" and isinstance(value, Mapping):
            probe = _argv(value.get("command"))
            if probe is not None:
                found += scan_argv(probe, "health.command")
            found += _walk({k: v for k, v in value.items()
                            if not (k == "command" and probe is not None)}, "health")
            continue
        found += _walk(value, str(key))
    return list(dict.fromkeys(found))


def settings_findings(data: Mapping[str, Any], skip: frozenset[str] | set[str]
                      ) -> list[LiteralSecret]:
    """Literal secrets in the stack's `rampart:` settings the model owns (`skip`: keys other
    modules read and judge)."""
    found: list[LiteralSecret] = []
    for key, value in data.items():
        found += _key(key, "")
        if key in skip:
            continue
        found += _walk(value, str(key))
    return list(dict.fromkeys(found))


def message(finding: LiteralSecret) -> str:
    """The one-line reason; the field is named by the error itself, never the value."""
    return (f"secret declared with a literal value ({finding.why}); declare it under "
            "`secrets` so the secret store delivers it as a file under /run/secrets, and "
            "let the program read that file")
