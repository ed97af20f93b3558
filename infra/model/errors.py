"""The one error the model raises for bad input.

The CLI maps it to exit code 2 and prints `str(error)` as a single line on stderr, so the
message must stand alone: which file, which service, which field, what is wrong. Secret
values never appear in a message (only secret names do): readers refuse a literal secret
naming its field, and as the last line of defence every message, service and field is
passed through the detector's `redact` here, so a value quoted back by any reader
(`'https://ci:***@registry' is not valid`) never carries a password or a token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from infra.secrets.literals import redact


class ValidationError(Exception):
    """A catalog, versions file or stack setting that must not be deployed."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        service: str | None = None,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = str(file)
        self.service = None if service is None else redact(service)
        self.field = None if field is None else redact(field)
        self.message = redact(message)
        self.line = line  # where the parser saw the key at fault (1-based), when known
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.file if self.line is None else
                 f"{self.file}:{self.line}:{self.column or 1}"]
        if self.service is not None:
            parts.append(f"service '{self.service}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)

    # keep the keyword-only attributes when pickled (pytest-xdist, hypothesis)
    def __reduce__(self):  # type: ignore[override]
        return (_rebuild, (self.file, self.message, self.service, self.field, self.line,
                           self.column))

    def located(self, positions: Mapping[tuple[str | int, ...], tuple[int, int]],
                *prefix: str | int, by_service: bool = True) -> ValidationError:
        """This error at the parser's position of its service and field (the deepest key
        of `prefix` + service path + field path that the file has), when it has none yet.
        `by_service=False` for files whose fields are full paths (the versions file)."""
        if self.line is not None or not positions:
            return self
        path: tuple[str | int, ...] = tuple(prefix)
        if self.service is not None and by_service:
            path += ("services", self.service)
        found = positions.get(path)
        parts = _FIELD_PART.findall(self.field or "")
        i = 0
        while i < len(parts):
            step: tuple[str | int, ...]
            if parts[i].startswith("["):
                step, i = (int(parts[i][1:-1]),), i + 1
            else:
                # A key may itself contain dots (an environment variable `LOG.LEVEL`): the
                # longest run of parts that names a key the file has.
                run = next((k for k in range(len(parts), i, -1)
                            if not any(q.startswith("[") for q in parts[i:k])
                            and (*path, ".".join(parts[i:k])) in positions), None)
                if run is None:
                    break
                step, i = (".".join(parts[i:run]),), run
            if (*path, *step) not in positions:
                break
            path += step
            found = positions[path]
        if found is None:
            return self
        return ValidationError(self.file, self.message, service=self.service, field=self.field,
                               line=found[0], column=found[1])


# `a.b[2].c` -> a, b, [2], c
_FIELD_PART = re.compile(r"\[\d+\]|[^.\[\]]+")


def _rebuild(file: str, message: str, service: str | None, field: str | None,
             line: int | None = None, column: int | None = None) -> ValidationError:
    return ValidationError(file, message, service=service, field=field, line=line,
                           column=column)
