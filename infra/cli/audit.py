"""`rampart audit`: Lynis hardening index and ssh-audit findings for every inventory host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra import audit as auditing
from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE, fail

app = typer.Typer(add_completion=False, help=__doc__, rich_markup_mode=None)
console = Console()


def _error(message: str | None) -> str:
    return escape(f"error: {message}") if message else "not run"


def render(report: dict[str, Any]) -> Table:
    table = Table(title=escape(f"rampart audit — {report['inventory']} ({report['date']})"))
    for column in ("host", "address", "Lynis index", "points", "waivers", "ssh-audit fail",
                   "ssh-audit warn"):
        table.add_column(column)
    for name, host in report["hosts"].items():
        lynis, ssh = host.get("lynis"), host.get("ssh_audit")
        table.add_row(
            escape(name),
            escape(host["address"]),
            str(lynis["hardening_index"]) if lynis else _error(host.get("lynis_error")),
            f"{lynis['points_earned']}/{lynis['points_possible']}" if lynis else "-",
            str(len(lynis["waivers_applied"])) if lynis else "-",
            str(ssh["failures"]) if ssh else _error(host.get("ssh_audit_error")),
            str(ssh["warnings"]) if ssh else "-",
        )
    return table


def verdict(report: dict[str, Any], min_index: int) -> list[str]:
    """Reasons the audit fails: a host below the index, any ssh-audit finding, any error."""
    problems = []
    for name, host in report["hosts"].items():
        lynis, ssh = host.get("lynis"), host.get("ssh_audit")
        if host.get("lynis_error"):
            problems.append(f"{name}: Lynis failed")
        elif lynis and lynis["hardening_index"] < min_index:
            problems.append(f"{name}: Lynis index {lynis['hardening_index']} < {min_index}")
        if host.get("ssh_audit_error"):
            problems.append(f"{name}: ssh-audit failed")
        elif ssh and (ssh["failures"] or ssh["warnings"]):
            problems.append(f"{name}: ssh-audit {ssh['failures']} failures, "
                            f"{ssh['warnings']} warnings")
    if report["waivers_expired"]:
        problems.append(f"expired waivers: {', '.join(report['waivers_expired'])}")
    return problems


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
    min_index: Annotated[int, typer.Option(help="Fail below this Lynis index.")] = 85,
) -> None:
    """Print, per inventory host, the Lynis hardening index and ssh-audit failures/warnings;
    write the JSON report to --out (its directory keeps Rampart's manifest: a file Rampart
    did not write is not overwritten unless --force).

    Exit 1 when a host misses the bar, 2 (one line) on a bad inventory, waiver file or
    --out, 3 when no host could be audited at all (the lab is down or unreachable)."""
    from infra.outdir import OutputError, preflight, write_files

    if out.is_dir() or not out.name:
        raise fail(f"{out}: --out names the report file, and this is a directory", INPUT_ERROR)
    try:
        preflight(out.parent, [out.name], writer="audit", force=force)
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
    console.print(render(report))
    console.print(f"JSON report: {out}", markup=False, highlight=False)
    problems = verdict(report, min_index)
    for problem in problems:
        console.print(f"[red]✗[/red] {escape(problem)}")
    if unreachable(report):
        raise typer.Exit(UNAVAILABLE)
    if problems:
        raise typer.Exit(CHECK_FAILED)


def unreachable(report: dict[str, Any]) -> bool:
    """True when hosts were asked for and not one of them gave any result (exit 3)."""
    hosts = report["hosts"].values()
    return bool(hosts) and all(
        not host.get("lynis") and not host.get("ssh_audit")
        and (host.get("lynis_error") or host.get("ssh_audit_error")) for host in hosts)
