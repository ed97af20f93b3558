"""Where a finding comes from: the catalog, versions or stack file line that caused it.

Positions come from the YAML parser (infra/model/source.py `positions`): the stack's were
kept when the stack file was read (`Stack.positions`), the catalog and its versions file are
composed here once per check. A finding about a service points at the service's key in the
catalog (or at the field it is about, or at the pin of its image in the versions file); a
finding about a stack setting or a waiver points at that key or entry in the stack file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.model.errors import ValidationError
from infra.model.source import Positions, parse_yaml_with_positions
from infra.stack import Stack
from policies.pack import Outcome


@dataclass(frozen=True)
class Location:
    file: str  # relative to the project directory
    line: int
    column: int = 1


# Which catalog keys a finding's `field` is about, most specific first.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "resources": ("resources",),
    "health": ("health",),
    "security": ("security", "read_only_root", "cap_add", "user"),
    "writable_root": ("writable_root", "writable_paths"),
    "volumes": ("volumes",),
    "env": ("environment", "secrets"),
    "port": ("port", "exposure", "ports"),
    "logs": ("logs",),
    "restart": ("restart",),
    "backup": ("backup", "backup_exempt", "stateful"),
    "metrics": ("metrics",),
    "route": ("route", "exposure"),
    "replicas": ("replicas",),
}

# Edge findings caused by a stack setting, when the stack file sets it.
EDGE_STACK_KEYS = {
    "traefik-cors-not-wildcard": "corsOrigins",
    "traefik-tls-minimum": "minTlsVersion",
    "traefik-cors-origins-https": "corsOrigins",
    "traefik-allowlist-bounded": "adminAllowlist",
}


@dataclass(frozen=True)
class _Parsed:
    path: Path
    data: Any
    positions: Positions


def _parse(path: Path | None) -> _Parsed | None:
    """The file and its positions; None when it cannot be read (the program would have
    refused it before any finding existed, so this only happens for an edited tree)."""
    if path is None:
        return None
    try:
        data, where = parse_yaml_with_positions(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ValidationError):
        return None
    return _Parsed(path, data, where)


class Locator:
    """Finds the position of a service, a key inside it, a top-level block or a stack key."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.root = stack.project_dir
        self.catalog = _parse(stack.catalog)
        versions = None
        if self.catalog is not None and isinstance(self.catalog.data, Mapping):
            name = self.catalog.data.get("versions", "versions.yaml")
            if isinstance(name, str):
                versions = stack.catalog.parent / name
        self.versions = _parse(versions)
        self.waivers = {w.id: w for w in stack.policy.waivers}

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def _at(self, parsed: _Parsed | None, *path: str | int) -> Location | None:
        if parsed is None:
            return None
        where = parsed.positions.get(tuple(path))
        return Location(self.rel(parsed.path), *where) if where else None

    def service_line(self, service: str, fld: str | None) -> Location | None:
        if not service:
            return None
        if fld == "image":
            pinned = self._image_pin(service)
            if pinned is not None:
                return pinned
        for key in FIELD_KEYS.get(fld or "", ()):
            found = self._at(self.catalog, "services", service, key)
            if found is not None:
                return found
        return self._at(self.catalog, "services", service)

    def _image_pin(self, service: str) -> Location | None:
        """Images are keys into the versions file: point at the pin itself."""
        if self.catalog is None or not isinstance(self.catalog.data, Mapping):
            return None
        entry = (self.catalog.data.get("services") or {}).get(service)
        key = entry.get("image") if isinstance(entry, Mapping) else None
        if not isinstance(key, str):
            return None
        return self._at(self.versions, "images", key)

    def top_level(self, key: str) -> Location | None:
        return self._at(self.catalog, key)

    def stack_key_line(self, key: str) -> Location | None:
        where = self.stack.position(key)
        return Location(self.stack.source, *where) if where else None

    def stack_line(self, key: str | None = None) -> Location:
        return (self.stack_key_line(key) if key else None) or Location(self.stack.source, 1)

    def _waiver_line(self, line: int | None) -> Location | None:
        return Location(self.stack.source, line) if line else None

    def locate(self, outcome: Outcome, service: str | None) -> Location:
        f = outcome.finding
        if f.field and f.field.startswith("waiver:"):
            wid = f.field.removeprefix("waiver:")
            waiver = self.waivers.get(wid)
            found = self._waiver_line(waiver.line if waiver is not None else None)
            # A stack setting about waivers (rampart:policyWaiverMaxDays) is its own line.
            return found or self.stack_key_line(wid) or self.stack_line("policyWaivers")
        if outcome.status == "waiver-expired" and outcome.waiver:
            # The finding is back because the waiver expired: the stack file is what changed.
            found = self._waiver_line(outcome.waiver.line)
            if found is not None:
                return found
        if outcome.rule.name == "image-digest-required" and service:
            # Caused by the pin lacking a digest; the stack setting only made it mandatory.
            found = self.service_line(service, "image")
            if found is not None:
                return found
        if f.field == "edge":
            # Edge settings come from the stack (rampart:corsOrigins, ...) or the catalog's
            # `edge:` block; what Traefik does beyond them is the traefik service's entry.
            key = EDGE_STACK_KEYS.get(outcome.rule.name)
            found = self.stack_key_line(key) if key else None
            found = found or self.top_level("edge") or self.service_line("traefik", None)
            if found is not None:
                return found
        if service:
            found = self.service_line(service, f.field)
            if found is not None:
                return found
        if self.catalog is not None:
            return Location(self.rel(self.catalog.path), 1)
        return self.stack_line()
