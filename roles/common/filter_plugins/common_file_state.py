"""Filters for the common role's one-probe-per-host file checks (tasks/file_state.yml).

The probe prints one line per path: `path|absent` or `path|<stat %F>|owner:group|<octal
mode>|<sha256 of a regular file's content, else ->`. A task whose wanted state the probe
already shows is skipped without a module call on the host; any doubt (path not probed,
another type, owner, mode or content) lets the module run, so a skip is never wrong.
"""

from __future__ import annotations

import hashlib
from typing import Any

_KINDS = {"file": ("regular file", "regular empty file"), "directory": ("directory",)}


def common_file_state(lines: list[str]) -> dict[str, list[str]]:
    """Probe output -> {path: [kind, owner:group, mode, sha256]} (or [absent])."""
    state: dict[str, list[str]] = {}
    for line in lines:
        path, _, rest = line.partition("|")
        if path:
            state[path] = rest.split("|")
    return state


def common_file_differs(states: dict[str, list[str]] | None, path: str, state: str = "file",
                        mode: Any = None, content: str | None = None, owner: str = "root",
                        group: str = "root") -> bool:
    """True unless the probe shows `path` exactly as wanted (so the task must run)."""
    seen = (states or {}).get(path)
    if seen is None:
        return True
    if state == "absent":
        return seen != ["absent"]
    if len(seen) != 4 or seen[0] not in _KINDS.get(state, ()):
        return True
    kind, owners, seen_mode, digest = seen
    if owners != f"{owner}:{group}":
        return True
    if mode is not None:
        wanted = mode if isinstance(mode, int) else int(str(mode), 8)  # 420 or "0644"
        if int(seen_mode, 8) != wanted:
            return True
    if content is not None:
        return digest != hashlib.sha256(content.encode("utf-8")).hexdigest()
    return False


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"common_file_state": common_file_state, "common_file_differs": common_file_differs}
