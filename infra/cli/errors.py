"""Exit codes and error lines shared by every `rampart` command (DESIGN §5).

| code | meaning |
|---|---|
| 0 | ok |
| 1 | a check failed: a mandatory policy violation, a weak or missing secret, an audit below
      the bar, a check-and-set conflict in `secrets rotate` (nothing written) |
| 2 | usage or input error, nothing changed: unknown option or stack, a bad stack file,
      catalog or setting, an unusable `--out`, a file in the way, a bad Vault address |
| 3 | an external service is unavailable: Vault down, sealed, refusing the token, missing
      the mount; no lab host reachable |

Typer/click usage errors keep click's own code, 2. Every refusal is one line on stderr that
names the file (service, field, address, path), never a traceback.
"""

from __future__ import annotations

import sys

import typer

from infra.secrets.literals import redact

OK = 0
CHECK_FAILED = 1
INPUT_ERROR = 2
UNAVAILABLE = 3


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (messages are written to stand alone)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fail(message: str | BaseException, code: int = INPUT_ERROR, *, prefix: str = "") -> typer.Exit:
    """Print one line on stderr and return the `typer.Exit` to raise. The line is redacted
    (infra/secrets/literals.py `redact`): whatever an error quotes back, a password in a URL
    or a random-looking token is never printed."""
    line = one_line(message) if isinstance(message, BaseException) else message
    print(redact(f"{prefix}{line}"), file=sys.stderr)
    return typer.Exit(code)
