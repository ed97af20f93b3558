"""`rampart readiness`: the production-readiness certificate from recorded evidence."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, fail

DEFAULT_EVIDENCE = Path("out/evidence")
DEFAULT_HTML = Path("out/readiness.html")


def readiness(
    stack: Annotated[str, typer.Option("--stack", "-s",
                                       help="Stack the evidence is judged for (Pulumi.<stack>"
                                            ".yaml); records about other stacks are ignored.")]
    = "dev",
    evidence: Annotated[Path, typer.Option(
        "--evidence", "-e", help="The evidence directory (what the checks wrote with "
                                 "RAMPART_EVIDENCE_DIR set).")] = DEFAULT_EVIDENCE,
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="html, markdown or json.")] = "html",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the report here (html: default out/readiness.html; "
                            "markdown and json: default stdout).")] = None,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", help="Exit 1 when the overall score (0-100) is below this.")] = None,
    max_age: Annotated[float, typer.Option(
        "--max-age", help="Evidence older than this many days is stale.")] = 7.0,
    catalog: Annotated[Path | None, typer.Option(
        "--catalog", help="Requirements file (default: infra/readiness/requirements.yaml).")]
    = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an --out file Rampart did not write (or that changed "
                        "since).")] = False,
) -> None:
    """The production-readiness certificate, from recorded evidence.

    Judges every requirement of the catalog against the evidence: proven, failed, not run
    or stale (older than --max-age, or recorded at another commit than the checked-out one),
    each citing the record that shows it; score per category and overall, from evidence only.

    Exit 1 when a blocker failed (verdict "not ready") or the score is under --fail-under;
    2 (one line naming the file) for a missing evidence directory, an unknown stack or a
    malformed requirements file."""
    from infra import stack as stack_config
    from infra.model.errors import ValidationError
    from infra.offline.outdir import OutputError, preflight_file, write_files
    from infra.readiness import catalog as catalogs
    from infra.readiness import evidence as evidences
    from infra.readiness import git, html, reports, score

    if fmt not in reports.FORMATS:
        raise fail(f"--format {fmt!r} is not one of {', '.join(reports.FORMATS)}", INPUT_ERROR)
    if fail_under is not None and not 0 <= fail_under <= 100:
        raise fail(f"--fail-under {fail_under:g} is not a score between 0 and 100", INPUT_ERROR)
    if not max_age > 0:
        raise fail(f"--max-age {max_age:g} must be a positive number of days", INPUT_ERROR)
    root = stack_config.project_dir()
    try:
        stack_config.check_stack_name(stack)
    except ValidationError as exc:
        raise fail(exc, INPUT_ERROR) from None
    stack_path = stack_config.stack_file(stack, root)
    if not stack_path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise fail(f"{stack_path.name}: no such stack file (unknown stack {stack!r}; stacks "
                   f"here: {', '.join(known) or 'none'})", INPUT_ERROR)
    try:
        cat = catalogs.load(catalog or catalogs.DEFAULT_CATALOG)
    except catalogs.CatalogError as exc:
        raise fail(exc, INPUT_ERROR) from None
    try:
        loaded = evidences.load_dir(evidence)
    except evidences.EvidenceError as exc:
        raise fail(exc, INPUT_ERROR) from None
    target = out if out is not None else (DEFAULT_HTML if fmt == "html" else None)
    if target is not None:
        try:
            preflight_file(target, writer="readiness", force=force)
        except OutputError as exc:
            raise fail(exc, INPUT_ERROR) from None

    head, _dirty = git.head(root)
    result = score.evaluate(
        cat, loaded.records, loaded.problems, stack=stack, head=head,
        now=dt.datetime.now(dt.UTC), max_age_days=max_age,
        describe=lambda recorded, current: git.difference(root, recorded, current),
        evidence_files=loaded.files)
    doc = reports.to_dict(result, root=root)
    if fmt == "json":
        text = reports.render_json(doc)
    elif fmt == "markdown":
        text = reports.render_markdown(doc)
    else:
        assert target is not None
        text = html.render_html(doc, evidence_dir=evidence, out=target)
    if target is None:
        sys.stdout.write(text)
    else:
        try:
            write_files(target.parent, {target.name: text}, writer="readiness", force=force,
                        prune=False)
        except OutputError as exc:
            raise fail(exc, INPUT_ERROR) from None
    under = fail_under is not None and result.score < fail_under
    blockers = [r.requirement.id for r in result.failed_blockers]
    print(f"readiness of stack {stack}: {result.verdict.upper()}, score {result.score:.1f}/100 "
          f"({result.counts['proven']} proven, {result.counts['failed']} failed, "
          f"{result.counts['stale']} stale, {result.counts['not run']} not run; "
          f"{len(result.problems)} evidence problem(s))"
          + (f"; failed blockers: {', '.join(blockers)}" if blockers else "")
          + (f"; under --fail-under {fail_under:g}" if under else "")
          + (f"; report: {target}" if target is not None else ""), file=sys.stderr)
    if blockers or under:
        raise typer.Exit(CHECK_FAILED)
