"""Typed reads from parsed YAML/config mappings, each failure a `ValidationError`.

A `Fields` wraps one mapping (a service, its `health:` block, the stack settings, ...) and
remembers where it came from, so every message names the file, the service and the dotted
field. `done()` turns any key nobody asked for into an error: a typo'd key must never be
silently ignored (it usually means a hardening setting that was meant but not applied).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from infra.model.errors import ValidationError

_MISSING: Any = object()


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def show_key(key: Any) -> str:
    """A key as it may appear in a message (bounded, printable)."""
    text = str(key)
    text = re.sub(r"[^\x20-\x7e]", "?", text)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """Reads one mapping; errors name `file`, `service` and `prefix.key`."""

    def __init__(
        self,
        data: Any,
        *,
        file: str,
        service: str | None = None,
        prefix: str | None = None,
        what: str = "this block",
    ) -> None:
        self.file = file
        self.service = service
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise self.error(f"{what} must be a mapping, got {type_name(data)}", field=prefix)
        for key in data:
            if not isinstance(key, str):
                raise self.error(
                    f"keys must be strings, got {type_name(key)} '{show_key(key)}'", field=prefix
                )
        self.data: Mapping[str, Any] = data
        self.seen: set[str] = set()

    # -- plumbing -------------------------------------------------------------------------
    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, message: str, *, field: str | None = None) -> ValidationError:
        return ValidationError(self.file, message, service=self.service, field=field)

    def fail(self, key: str, message: str) -> ValidationError:
        return self.error(message, field=self.path(key))

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self.seen.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.fail(key, "is required")
        return default

    def has(self, key: str) -> bool:
        return key in self.data

    def only(self, allowed: frozenset[str]) -> None:
        """Refuse unknown keys up front, so a typo'd key is reported as the typo rather than
        as whatever its absence causes later (e.g. `helth:` as "no health path")."""
        for key in self.data:
            if key not in allowed:
                raise self.fail(key, f"unknown key (allowed here: {', '.join(sorted(allowed))})")

    def done(self, *, ignore_prefix: str | None = None) -> None:
        for key in self.data:
            if key in self.seen or (ignore_prefix and key.startswith(ignore_prefix)):
                continue
            allowed = ", ".join(sorted(self.seen))
            raise self.fail(key, f"unknown key (allowed here: {allowed})")

    def sub(self, key: str, *, required: bool = False, what: str | None = None) -> Fields | None:
        value = self.raw(key, _MISSING if required else None)
        if value is None:
            return None
        return Fields(
            value,
            file=self.file,
            service=self.service,
            prefix=self.path(key),
            what=what or f"'{key}'",
        )

    # -- scalars ----------------------------------------------------------------------------
    def str_(self, key: str, default: Any = _MISSING, *, pattern: str | None = None,
             hint: str = "") -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type_name(value)}")
        if not value:
            raise self.fail(key, "must not be empty")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(key, f"'{show_key(value)}' is not valid{': ' + hint if hint else ''}")
        return value

    def int_(self, key: str, default: Any = _MISSING, *, minimum: int | None = None,
             maximum: int | None = None) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {type_name(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(key, f"must be at most {maximum}, got {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {type_name(value)}")
        if not math.isfinite(value):
            raise self.fail(key, "must be a finite number")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def bool_(self, key: str, default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {type_name(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or value not in choices:
            shown = show_key(value) if isinstance(value, str) else type_name(value)
            raise self.fail(key, f"'{shown}' is not one of: {', '.join(choices)}")
        return value

    def str_list(self, key: str, default: Any = _MISSING, *, pattern: str | None = None,
                 hint: str = "", unique: bool = True) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of strings, got {type_name(value)}")
        items: list[str] = []
        for index, item in enumerate(value):
            where = f"{key}[{index}]"
            if not isinstance(item, str) or not item:
                raise self.fail(where, f"must be a non-empty string, got {type_name(item)}")
            if pattern is not None and not re.fullmatch(pattern, item):
                suffix = f": {hint}" if hint else ""
                raise self.fail(where, f"'{show_key(item)}' is not valid{suffix}")
            if unique and item in items:
                raise self.fail(where, f"'{show_key(item)}' is listed twice")
            items.append(item)
        return tuple(items)
