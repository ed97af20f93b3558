"""`rampart render`: the Pulumi program, run offline, written out resource by resource."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer


def render(
    stack: Annotated[str, typer.Option("--stack", "-s",
                                       help="Stack name: reads Pulumi.<stack>.yaml.")],
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="Directory for index.json and resources/.")],
    vault: Annotated[bool, typer.Option(
        "--vault", help="Read and check every secret in Vault as `pulumi up` does (address "
                        "from rampart:vaultAddr or VAULT_ADDR); values still show as "
                        "[secret]. Without it Vault is never contacted.")] = False,
) -> None:
    """Run the Pulumi program under a recording mock engine and write every resource
    (type, logical name, inputs; secret values redacted) to OUT, with an index.

    Exit 2, with one line naming the file/service/field (or the secret, or the Vault address
    and path) and nothing written, when the stack must not be deployed."""
    # Imported here: rendering pulls in the Pulumi runtime, which `rampart --help` should not.
    from infra.model.errors import ValidationError
    from infra.render import INDEX, record_stack, summary, write
    from infra.secrets.errors import SecretsError
    from infra.traefik import EdgeConfigError

    started = time.perf_counter()
    try:
        recording = record_stack(stack, vault=vault)
    except (ValidationError, EdgeConfigError, SecretsError) as exc:
        # One line, nothing written: the stack or catalog must be fixed first.
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        write(recording, out)
    except FileExistsError as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from None
    elapsed = time.perf_counter() - started

    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    for title, rows in summary(recording).items():
        if not rows:
            continue
        table = Table(title=f"{title} ({len(rows)})", title_justify="left")
        for column in rows[0]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
    console.print(f"stack {stack}: wrote {out / INDEX} and {len(recording)} resource files "
                  f"in {elapsed:.2f} s")
