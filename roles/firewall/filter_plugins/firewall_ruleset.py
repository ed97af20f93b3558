"""Filters of the firewall role: is the loaded table the one the ruleset file defines?

Both sides are `nft -s -j list table` listings: the live table, and the same table loaded
from the file into a scratch network namespace (its ruleset starts empty), so the file is
parsed by the same nft that loads it and "equal" means what the kernel holds, not how the
file is spelled. The drift check (roles/drift/files/rampart-drift.py, `table_hash`) judges
the same way; tests/unit/test_drift_checker.py keeps the two in step.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class RulesetListingError(ValueError):
    """A listing is not nft's JSON for one table."""


def _strip(value: Any) -> Any:
    """What the rules are, not their runtime state: handles (they change on every load) and
    the members of dynamic sets (the SSH rate meter fills with traffic) are left out."""
    if isinstance(value, dict):
        out = {k: _strip(v) for k, v in value.items() if k != "handle"}
        flags = out.get("flags", [])
        flags = [flags] if isinstance(flags, str) else flags
        if "elem" in out and ("dynamic" in flags or "timeout" in flags):
            del out["elem"]
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def table_digest(listing: Any, what: str = "the listing") -> str:
    """sha256 of one table's stateless listing (`nft -s -j list table ...` output)."""
    try:
        parsed = json.loads(str(listing))
        items = parsed["nftables"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RulesetListingError(f"{what} is not `nft -j` output: {exc}") from exc
    if not isinstance(items, list):
        raise RulesetListingError(f"{what}: 'nftables' is not a list")
    body = [i for i in items if not (isinstance(i, dict) and "metainfo" in i)]
    if not any(isinstance(i, dict) and "table" in i for i in body):
        raise RulesetListingError(f"{what} holds no table")
    text = json.dumps(_strip(body), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"firewall_table_digest": table_digest}
