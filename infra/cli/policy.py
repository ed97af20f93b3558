"""`rampart policy`: the policy pack, offline, against a stack's real program."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Evaluate the policy pack offline (same rules as "
                       "`pulumi preview --policy-pack policies`).")


@app.callback()
def policy() -> None:
    """Policy-as-code checks (the `rampart` policy pack in policies/)."""


@app.command("check")
def check(
    stack: Annotated[str, typer.Option("--stack", "-s",
                                       help="Stack name: reads Pulumi.<stack>.yaml.")],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="text, json, sarif (2.1.0) or markdown.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", "-o",
                                             help="Write the report here instead of stdout.")]
    = None,
) -> None:
    """Render STACK under the recording engine and evaluate every rule of the pack.

    Exit 0 when no mandatory rule is violated, 1 when one is, 2 when the stack cannot be
    rendered at all."""
    # Imported here: rendering pulls in the Pulumi runtime, which `rampart --help` should not.
    from infra import policy_check
    from infra.model.errors import ValidationError
    from infra.secrets.provider import MissingSecretError
    from infra.traefik import EdgeConfigError

    if fmt not in policy_check.FORMATS:
        print(f"unknown format {fmt!r} (choose from {', '.join(policy_check.FORMATS)})",
              file=sys.stderr)
        raise typer.Exit(2)
    try:
        report = policy_check.check_stack(stack)
    except (ValidationError, EdgeConfigError, MissingSecretError) as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        raise typer.Exit(2) from None
    text = policy_check.render(report, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}: {len(report.mandatory)} mandatory, {len(report.advisory)} "
              f"advisory, {len(report.waived)} waived", file=sys.stderr)
    raise typer.Exit(report.exit_code)
