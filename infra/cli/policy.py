"""`rampart policy`: the policy pack, offline, against a stack's real program."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.errors import INPUT_ERROR, fail

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
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
                                             help="Write the report to this file instead of "
                                                  "stdout.")]
    = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an --out file Rampart did not write (or that changed since "
                        "it wrote it).")] = False,
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", metavar="DIR",
        help="Also write the result (as SARIF, whatever --format) as readiness evidence into "
             "DIR (default: RAMPART_EVIDENCE_DIR when set; docs/readiness.md).")] = None,
) -> None:
    """Render STACK under the recording engine and evaluate every rule of the pack.

    With --out, the file's directory keeps a manifest (.rampart-manifest.json) of the files
    Rampart wrote; a file it did not write is not overwritten unless --force.

    With --evidence DIR (or RAMPART_EVIDENCE_DIR) the result is also written as readiness
    evidence: the SARIF log kept as the artefact, a record per rule (policy:<rule>) and one
    for the pack (policy:pack), for STACK; a failing check's too.

    Exit 0 when no mandatory rule is violated, 1 when one is, 2 (one line naming the file)
    when the stack cannot be rendered, or --out or the evidence directory cannot be
    written."""
    from infra import stack as stack_config
    from infra.model.errors import ValidationError

    # The stack file first: a broken one is the error to show, whatever else is missing.
    try:
        stack_config.load(stack)
    except ValidationError as exc:
        raise fail(exc, INPUT_ERROR) from None
    # Imported here: rendering pulls in the Pulumi runtime, which `rampart --help` should not.
    from infra.edge.traefik import EdgeConfigError
    from infra.offline import reporters
    from infra.offline.outdir import OutputError, preflight_file, write_files
    from infra.offline.report import check_stack
    from infra.readiness.collect import Recorder
    from infra.readiness.evidence import EvidenceError
    from infra.secrets.provider import MissingSecretError

    if fmt not in reporters.FORMATS:
        raise fail(f"unknown format {fmt!r} (choose from {', '.join(reporters.FORMATS)})",
                   INPUT_ERROR)
    try:
        if out is not None:
            preflight_file(out, writer="policy check", force=force)
        recorder = Recorder.start(evidence)
    except (OutputError, EvidenceError) as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        report = check_stack(stack)
    except (ValidationError, EdgeConfigError, MissingSecretError) as exc:
        raise fail(exc, INPUT_ERROR) from None
    text = reporters.render(report, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            write_files(out.parent, {out.name: text}, writer="policy check", force=force,
                        prune=False)
        except OutputError as exc:
            raise fail(exc, INPUT_ERROR) from None
        print(f"wrote {out}: {len(report.mandatory)} mandatory, {len(report.advisory)} "
              f"advisory, {len(report.waived)} waived", file=sys.stderr)
    if recorder is not None:
        sarif = text if fmt == "sarif" else reporters.render(report, "sarif")
        try:
            path = recorder.record("sarif", f"policy-{stack}.sarif", sarif, stack=stack)
        except EvidenceError as exc:
            raise fail(exc, INPUT_ERROR, prefix="evidence not written: ") from None
        print(f"evidence: {path}", file=sys.stderr)
    raise typer.Exit(report.exit_code)
