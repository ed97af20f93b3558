"""Shared by the CLI tests: a refusal is one line on stderr, with its exit code, no traceback."""

from __future__ import annotations

from typing import Any


def assert_one_line(result: Any, code: int, *fragments: str) -> str:
    """The one stderr line of a CliRunner result, after checking code, fragments and that
    nothing crashed."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {output}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]
