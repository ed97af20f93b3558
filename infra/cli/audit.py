"""`rampart audit`: Lynis hardening index and ssh-audit findings for every inventory host."""

from __future__ import annotations

import json
import sys
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
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", metavar="DIR",
        help="Also write the result as readiness evidence into DIR (default: "
             "RAMPART_EVIDENCE_DIR when set; docs/readiness.md).")] = None,
) -> None:
    """Print, per inventory host, the Lynis hardening index and ssh-audit failures/warnings;
    write the JSON report to --out (its directory keeps Rampart's manifest: a file Rampart
    did not write is not overwritten unless --force).

    With --evidence DIR (or RAMPART_EVIDENCE_DIR) the result is also written as readiness
    evidence (audit:lynis and audit:ssh-audit per host, audit:waivers), a failing audit's
    too; not when no host could be audited (exit 3: the audit did not run).

    Exit 1 when a host misses the bar, 2 (one line) on a bad inventory, waiver file, --out
    or evidence directory, 3 when no host could be audited at all (the lab is down or
    unreachable)."""
    from infra.offline.outdir import OutputError, preflight_file, write_files
    from infra.readiness.collect import Recorder
    from infra.readiness.evidence import EvidenceError

    try:
        preflight_file(out, writer="audit", force=force)
        recorder = Recorder.start(evidence)
    except (OutputError, EvidenceError) as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        report = auditing.audit(inventory=inventory, limit=limit, lynis=lynis, ssh=ssh_audit,
                                apply_waivers=waivers)
    except auditing.AuditError as exc:
        raise fail(exc, INPUT_ERROR, prefix="audit failed: ") from None
    text = json.dumps(report, indent=2) + "\n"
    try:
        write_files(out.parent, {out.name: text}, writer="audit", force=force, prune=False)
    except OutputError as exc:
        raise fail(exc, INPUT_ERROR) from None
    console.print(auditing.table(report))
    console.print(f"JSON report: {out}", markup=False, highlight=False)
    problems = auditing.verdict(report, min_index)
    for problem in problems:
        console.print(f"[red]✗[/red] {escape(problem)}")
    if auditing.unreachable(report):
        raise typer.Exit(UNAVAILABLE)
    if recorder is not None:
        try:
            path = recorder.record("audit", out.name, text)
        except EvidenceError as exc:
            raise fail(exc, INPUT_ERROR, prefix="evidence not written: ") from None
        print(f"evidence: {path}", file=sys.stderr)
    if problems:
        raise typer.Exit(CHECK_FAILED)

