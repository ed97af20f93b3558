"""`rampart drill list | run NAME | run --all`: fault drills on the lab (docs/drills.md).

Each drill injects one fault on a lab host, waits for the expected alert in Alertmanager
within its bound (scrape interval + rule `for` + evaluation interval + group_wait + the
drill's own delay + slack, from the live settings), applies the fix its runbook documents,
waits for the alert to resolve, checks nothing was lost, and reverts the fault in every
case, also on Ctrl-C or SIGTERM. Run it inside the lab lock:

    flock /tmp/rampart-lab.lock rampart drill run --all --json out/drills.json

Exit codes: 0 every drill passed; 1 a drill failed (late or missing alert, a runbook fix
that does not fix, something lost, a cleanup that failed); 2 usage or input error, nothing
touched (unknown drill, a runbook without its drill block, a bad inventory or --json path);
3 the lab, Prometheus or Alertmanager unavailable; 130 interrupted (the fault reverted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE, fail

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  rich_markup_mode=None)


@app.command("list")
def list_() -> None:
    """Every drill: its host, whether it is in the fast (CI) subset, what it expects and
    which runbook blocks fix it."""
    from rich.console import Console
    from rich.table import Table

    from infra.drills.catalog import drills

    table = Table(title="Fault drills (docs/drills.md)")
    for col in ("drill", "host", "set", "expects", "fixed by"):
        table.add_column(col)
    for d in drills():
        expects = ", ".join(f"{e.alert}{f' ({e.severity})' if e.severity else ''}"
                            for e in d.expects())
        fixes = ", ".join(f"{f.alert}.md#{f.key}" for f in d.fixes) or "(remedy: lift the ban)"
        table.add_row(d.name, d.host, "fast" if d.fast else "slow", expects, fixes)
    Console().print(table)


@app.command("run")
def run_(
    names: Annotated[list[str] | None, typer.Argument(metavar="[NAME]...",
                                                      help="Drills to run, in order.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every drill.")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="Run the fast (CI) subset.")] = False,
    inventory: Annotated[Path, typer.Option(help="Lab inventory (where Prometheus is).")] = Path(
        "inventories/lab/hosts.yml"),
    json_out: Annotated[Path | None, typer.Option(
        "--json", metavar="OUT", help="Write every drill's figures to this JSON file.")] = None,
    timeout: Annotated[float, typer.Option(help="Longest one drill may take (s).")] = 900.0,
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", metavar="DIR",
        help="Also write the figures as readiness evidence into DIR (default: "
             "RAMPART_EVIDENCE_DIR when set; docs/readiness.md).")] = None,
) -> None:
    """Run drills on the default lab and print each one's time-to-alert against its bound.

    With --evidence DIR (or RAMPART_EVIDENCE_DIR) the figures are also written as readiness
    evidence (drill:<name> per drill, drills:all), failed drills' too; none when the run was
    interrupted or the lab was unavailable for every drill."""
    from infra.drills import DrillError, DrillInterrupted
    from infra.drills.catalog import by_name, drills
    from infra.drills.engine import run
    from infra.drills.runner import context

    chosen_flags = sum([bool(names), all_, fast])
    if chosen_flags != 1:
        raise fail("name drills, or give --all or --fast (exactly one of them)", INPUT_ERROR)
    if timeout <= 0:
        raise fail(f"--timeout must be positive, got {timeout:g}", INPUT_ERROR)
    if json_out is not None and (json_out.is_dir() or not json_out.parent.is_dir()):
        raise fail(f"--json {json_out}: not a file in an existing directory", INPUT_ERROR)
    from infra.readiness.collect import Recorder
    from infra.readiness.evidence import EvidenceError

    try:
        recorder = Recorder.start(evidence)
    except EvidenceError as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        selected = ([by_name(n) for n in names or []] if names else
                    [d for d in drills() if all_ or d.fast])
        ctx = context([d.host for d in selected], inventory, log=typer.echo)
    except DrillError as exc:
        raise fail(exc, exc.exit_code) from None

    results = []
    try:
        for drill in selected:
            typer.echo(f"== {drill.name}: {drill.summary}")
            result = run(drill, ctx, timeout)
            results.append(result)
            _print(result)
    except DrillInterrupted as exc:
        _write(json_out, results)
        raise fail(exc, DrillInterrupted.exit_code) from None
    _write(json_out, results)
    failed = [r.drill for r in results if not r.passed]
    codes = {r.exit_code for r in results if not r.passed}
    if recorder is not None and results and not (failed and len(failed) == len(results)
                                                 and codes == {UNAVAILABLE}):
        text = json.dumps([r.as_dict() for r in results], indent=2) + "\n"
        try:
            path = recorder.record("drills", "drills.json", text)
        except EvidenceError as exc:
            raise fail(exc, INPUT_ERROR, prefix="evidence not written: ") from None
        typer.echo(f"evidence: {path}", err=True)
    if failed:
        typer.echo(f"FAILED: {', '.join(failed)}", err=True)
        raise typer.Exit(UNAVAILABLE if codes == {UNAVAILABLE} else CHECK_FAILED)
    typer.echo(f"ok: {len(results)} drills passed")


def _print(result: object) -> None:
    from infra.drills.engine import DrillResult

    assert isinstance(result, DrillResult)
    for a in result.arrivals:
        what = f"{a.alert}{f' ({a.severity})' if a.severity else ''}"
        got = "never" if a.time_to_alert_s is None else f"{a.time_to_alert_s:g} s"
        typer.echo(f"   {what}: time-to-alert {got}, bound {a.bound_s:g} s")
    if result.time_to_resolve_s is not None:
        typer.echo(f"   resolved {result.time_to_resolve_s:g} s after the fix")
    verdict = "PASS" if result.passed else f"FAIL: {result.error or result.cleanup_error}"
    if result.passed and result.cleanup_error:
        verdict = f"FAIL (cleanup): {result.cleanup_error}"
    typer.echo(f"   {verdict} ({result.seconds:g} s)")


def _write(out: Path | None, results: list) -> None:
    if out is None:
        return
    out.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
