"""`rampart audit`: Lynis hardening index and ssh-audit findings for every inventory host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE, fail
from infra.hosts import audit as auditing

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)
console = Console()


@app.callback(invoke_without_command=True)
def run(
    out: Annotated[Path, typer.Option(help="Write the full JSON report to this file.")] = Path(
        "out/audit.json"),
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an --out file Rampart did not write (or that changed "
                        "since).")] = False,
    inventory: Annotated[str, typer.Option(help="Ansible inventory.")] = auditing.DEFAULT_INVENTORY,
    limit: Annotated[list[str] | None, typer.Option(help="Only this host (repeatable).")] = None,
    lynis: Annotated[bool, typer.Option(help="Run Lynis on each host.")] = True,
    ssh_audit: Annotated[bool, typer.Option(help="Run ssh-audit against each sshd.")] = True,
    waivers: Annotated[bool, typer.Option(help="Apply waivers/lynis.yml.")] = True,
    min_index: Annotated[int, typer.Option(
        help="Fail below this Lynis index.")] = auditing.MIN_INDEX,
) -> None:
    """Print, per inventory host, the Lynis hardening index and ssh-audit failures/warnings;
    write the JSON report to --out (its directory keeps Rampart's manifest: a file Rampart
    did not write is not overwritten unless --force).

    Exit 1 when a host misses the bar, 2 (one line) on a bad inventory, waiver file or
    --out, 3 when no host could be audited at all (the lab is down or unreachable)."""
    from infra.offline.outdir import OutputError, preflight_file, write_files

    try:
        preflight_file(out, writer="audit", force=force)
    except OutputError as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        report = auditing.audit(inventory=inventory, limit=limit, lynis=lynis, ssh=ssh_audit,
                                apply_waivers=waivers)
    except auditing.AuditError as exc:
        raise fail(exc, INPUT_ERROR, prefix="audit failed: ") from None
    try:
        write_files(out.parent, {out.name: json.dumps(report, indent=2) + "\n"},
                    writer="audit", force=force, prune=False)
    except OutputError as exc:
        raise fail(exc, INPUT_ERROR) from None
    console.print(auditing.table(report))
    console.print(f"JSON report: {out}", markup=False, highlight=False)
    problems = auditing.verdict(report, min_index)
    for problem in problems:
        console.print(f"[red]✗[/red] {escape(problem)}")
    if auditing.unreachable(report):
        raise typer.Exit(UNAVAILABLE)
    if problems:
        raise typer.Exit(CHECK_FAILED)
