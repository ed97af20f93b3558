"""The one error the model raises for bad input.

The CLI maps it to exit code 2 and prints `str(error)` as a single line on stderr, so the
message must stand alone: which file, which service, which field, what is wrong. Secret
values never appear in a message (only secret names do): readers refuse a literal secret
naming its field, and as the last line of defence every message, service and field is
passed through the detector's `redact` here, so a value quoted back by any reader
(`'https://ci:***@registry' is not valid`) never carries a password or a token.
"""

from __future__ import annotations

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
    ) -> None:
        self.file = str(file)
        self.service = None if service is None else redact(service)
        self.field = None if field is None else redact(field)
        self.message = redact(message)
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.file]
        if self.service is not None:
            parts.append(f"service '{self.service}'")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)

    # keep the keyword-only attributes when pickled (pytest-xdist, hypothesis)
    def __reduce__(self):  # type: ignore[override]
        return (_rebuild, (self.file, self.message, self.service, self.field))


def _rebuild(file: str, message: str, service: str | None, field: str | None) -> ValidationError:
    return ValidationError(file, message, service=service, field=field)
