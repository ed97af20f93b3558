"""`rampart render`: the Pulumi program, run offline, written out resource by resource."""

from __future__ import annotations

import os
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE, fail

if TYPE_CHECKING:
    from infra.stack import Stack


class Format(StrEnum):
    """What `render` writes: every resource with an index, or the Kubernetes objects."""

    RESOURCES = "resources"
    MANIFESTS = "manifests"


def render(
    stack: Annotated[str, typer.Option("--stack", "-s",
                                       help="Stack name: reads Pulumi.<stack>.yaml.")],
    out: Annotated[Path, typer.Option("--out", "-o",
                                      help="Directory for index.json and resources/ (or "
                                           "manifests/ with --format manifests).")],
    fmt: Annotated[Format, typer.Option(
        "--format", help="resources: every resource (type, name, inputs) with an index; "
                         "manifests: the Kubernetes objects as multi-document YAML, one file "
                         "per kind and namespace in apply order, for kubectl apply -f "
                         "OUT/manifests.")] = Format.RESOURCES,
    vault: Annotated[bool, typer.Option(
        "--vault/--no-vault", help="Read and check every secret in Vault as `pulumi up` does "
                                   "(address from rampart:vaultAddr or VAULT_ADDR); values "
                                   "still show as [secret]. Without it Vault is never "
                                   "contacted.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite or delete files in OUT that Rampart did not write (or that "
                        "changed since it wrote them).")] = False,
) -> None:
    """Run the Pulumi program under a recording mock engine and write every resource
    (type, logical name, inputs; secret values redacted) to OUT, with an index; or, with
    --format manifests, the stack's Kubernetes objects (secret values redacted, every value
    of a Secret too) to OUT/manifests.

    OUT keeps a manifest (.rampart-manifest.json) of the files Rampart wrote: a re-render,
    in either format, replaces and removes only those, and refuses to touch anything else
    unless --force.

    Exit 0 when written; 1 with --vault when a secret is missing or weak; 2, with one line
    naming the file/service/field (or the secret, the Vault address, the file in the way)
    and nothing written, when the stack must not be deployed, has no Kubernetes objects for
    --format manifests, or OUT cannot be written; 3 with --vault when Vault is unavailable."""
    # Imported here: rendering pulls in the Pulumi runtime, which `rampart --help` should not.
    from infra import stack as stacks
    from infra.edge.traefik import EdgeConfigError
    from infra.model.errors import ValidationError
    from infra.offline import manifests
    from infra.offline.outdir import OutputError, preflight
    from infra.offline.render import INDEX, record, summary, write
    from infra.secrets.errors import SecretsError, VaultAccessError, WeakSecretsError

    started = time.perf_counter()
    try:
        # Before the long part. The manifests' names are known only after it: the directory
        # itself is checked now, the files again when they are written.
        preflight(out, [INDEX] if fmt is Format.RESOURCES else [], writer="render",
                  force=force)
    except OutputError as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        parsed = stacks.load(stack)
        if vault:
            _vault_preflight(parsed)
        recording = record(parsed, vault=vault)
    except (ValidationError, EdgeConfigError) as exc:
        # One line, nothing written: the stack or catalog must be fixed first.
        raise fail(exc, INPUT_ERROR) from None
    except WeakSecretsError as exc:
        raise fail(exc, CHECK_FAILED) from None
    except VaultAccessError as exc:
        raise fail(exc, UNAVAILABLE) from None
    except SecretsError as exc:  # the catalog's secret declarations, a bad address
        raise fail(exc, INPUT_ERROR) from None
    try:
        if fmt is Format.MANIFESTS:
            found = manifests.collect(recording)
            manifests.write_manifests(found, out, force=force)
            tables = manifests.summary(found)
            done = (f"wrote {len(found)} Kubernetes objects in {len(found.files)} files under "
                    f"{out / manifests.MANIFESTS_DIR}")
        else:
            write(recording, out, force=force)
            tables = summary(recording)
            done = f"wrote {out / INDEX} and {len(recording)} resource files"
    except (manifests.ManifestError, OutputError) as exc:
        raise fail(exc, INPUT_ERROR) from None
    elapsed = time.perf_counter() - started

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=True)
    for title, rows in tables.items():
        if not rows:
            continue
        table = Table(title=f"{title} ({len(rows)})", title_justify="left")
        for column in rows[0]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(value) for value in row.values()))
        console.print(table)
    console.print(f"stack {stack}: {done} in {elapsed:.2f} s", markup=False, highlight=False)


def _vault_preflight(stack: Stack) -> None:
    """With --vault: the address and credentials are checked before the program runs, so
    a missing or unsafe address is an input error (2) and only a Vault that cannot be used
    is "unavailable" (3)."""
    from infra.cli.secrets import SecretsInputError, vault_settings

    if not stack.secrets.addr and not os.environ.get("VAULT_ADDR"):
        raise SecretsInputError(
            f"stack {stack.name}: no Vault address: set rampart:vaultAddr in {stack.source} "
            "or export VAULT_ADDR (secrets come only from Vault; docs/secrets.md)")
    vault_settings(stack.secrets.addr, stack.secrets.mount, stack.secrets.allow_insecure_http)
