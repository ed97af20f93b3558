"""Record one tool output as evidence: run its adapter, keep a copy of the output under
`<evidence>/artefacts/` (the artefact the records cite) and write the evidence file.

    python -m infra.readiness.collect KIND FILE [--evidence DIR] [--stack S] [--host H]
    python -m infra.readiness.collect --demo OUT [--only KIND]... [--evidence DIR] [--stack S]

KIND is one of infra/readiness/adapters.py ADAPTERS (sarif, audit, promtool, drill, backup,
secrets-check, drills, benchmark). Exit 0 when written, 2 (one line naming the file) when
FILE is not what the adapter reads or the directory cannot be written. The records' own
outcomes do not change the exit code: judging them is `rampart readiness`'s job.

The checks that write their own evidence (`rampart audit`, `rampart policy check`, `rampart
secrets check`, `rampart drill run`, with `--evidence DIR` or RAMPART_EVIDENCE_DIR) go
through `Recorder` below: the same adapters, the same artefact copy, the same redaction.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.readiness import adapters, evidence

DEFAULT_EVIDENCE = Path("out/evidence")
ARTEFACTS = "artefacts"


def collect(kind: str, source: Path, directory: Path, *, root: Path, stack: str | None = None,
            host: str | None = None, redactor: evidence.Redactor | None = None,
            tools: dict[str, str] | None = None) -> Path:
    if kind not in adapters.ADAPTERS:
        raise adapters.AdapterError(f"unknown adapter {kind!r} (one of "
                                    f"{', '.join(sorted(adapters.ADAPTERS))})")
    if not source.is_file():
        raise adapters.AdapterError(f"{source}: no such file")
    ctx = evidence.context(root, stack=stack, tools=tools)
    records = adapters.ADAPTERS[kind](source, ctx, stack=stack, host=host)
    redactor = redactor or evidence.Redactor.from_env()
    # The artefact is kept beside the evidence, redacted like the records when it is text.
    artefact = Path(ARTEFACTS) / f"{kind}-{ctx.run}-{source.name}"
    target = directory / artefact
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            shutil.copyfile(source, target)
        else:
            target.write_text(redactor.text(text), encoding="utf-8")
    except OSError as exc:
        raise evidence.EvidenceError(f"{target}: cannot keep the artefact: "
                                     f"{exc.strerror or exc}") from None
    for record in records:
        record["artefact"] = artefact.as_posix()
    return evidence.write(directory, kind, records, ctx, redactor)


# What `rampart demo` leaves in its out directory, by adapter: (kind, glob). Logs are numbered
# by step (logs/NN-<step>.log); the newest match of each is collected.
DEMO_OUTPUTS = (
    ("audit", "audit.json"),
    ("secrets-check", "logs/*-secrets-check.log"),
    ("backup", "logs/*-backup.log"),
    ("drill", "logs/*-restore-drill.log"),
    ("promtool", "logs/*-promtool-check.log"),
    ("promtool", "logs/*-amtool-check.log"),
    ("benchmark", "edge-load.json"),
    ("drills", "fault-drill.json"),
)


def demo_outputs(out: Path, only: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """The demo outputs present in `out`, newest match per pattern (only those of the
    adapters in `only`, when given: the steps that wrote their own evidence are left out)."""
    found = []
    for kind, pattern in DEMO_OUTPUTS:
        if only and kind not in only:
            continue
        matches = sorted(out.glob(pattern))
        if matches:
            found.append((kind, matches[-1]))
    return found


# --- The checks' own evidence ----------------------------------------------------------------


def requested(option: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where a check writes its evidence: its --evidence option, else RAMPART_EVIDENCE_DIR
    (the variable the pytest plugin honours), else nowhere (None)."""
    if option is not None:
        return option
    value = (os.environ if environ is None else environ).get(evidence.ENV_DIR, "")
    return Path(value) if value.strip() else None


def prepare(directory: Path) -> Path:
    """Make sure evidence can be written into `directory` before the check runs: create it
    (and its parents) if missing, refuse a file in the way, and prove it writable by writing
    and removing a probe file (permission bits do not say it for root or a read-only mount).
    EvidenceError naming the directory otherwise."""
    shown = f"evidence directory {directory}"
    if directory.exists() and not directory.is_dir():
        raise evidence.EvidenceError(f"{shown}: is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise evidence.EvidenceError(f"{shown}: cannot be created: "
                                     f"{exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise evidence.EvidenceError(f"{shown}: is not writable: {exc.strerror or exc}"
                                     ) from None
    return directory


def rampart_version() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {"rampart": version("rampart")}
    except PackageNotFoundError:
        return {}


@dataclass(frozen=True)
class Recorder:
    """A check's evidence destination, prepared (writable) before the check runs."""

    directory: Path
    root: Path

    @classmethod
    def start(cls, option: Path | None, environ: Mapping[str, str] | None = None
              ) -> Recorder | None:
        """None when no evidence was asked for; EvidenceError for a bad directory."""
        directory = requested(option, environ)
        if directory is None:
            return None
        from infra.readiness.git import toplevel

        return cls(prepare(directory), toplevel(Path.cwd()))

    def record(self, kind: str, name: str, text: str, *, stack: str | None = None,
               host: str | None = None, tools: Mapping[str, str] | None = None) -> Path:
        """The check's output `text` (as its --out file or stdout would hold it) through the
        adapter `kind`, kept as the artefact `name`; returns the evidence file. EvidenceError
        when it cannot be written (an output the adapter does not read is a bug, said so)."""
        # The name carries a stack name: never a path, whatever it holds.
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".") or "output"
        try:
            with tempfile.TemporaryDirectory(prefix="rampart-evidence-") as scratch:
                source = Path(scratch) / name
                source.write_text(text, encoding="utf-8")
                return collect(kind, source, self.directory, root=self.root, stack=stack,
                               host=host, tools={**rampart_version(), **(tools or {})})
        except adapters.AdapterError as exc:
            raise evidence.EvidenceError(f"the {kind} adapter cannot read this output "
                                         f"(a bug, please report it): {exc}") from None
        except OSError as exc:
            raise evidence.EvidenceError(f"cannot stage the output for evidence: "
                                         f"{exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.readiness.collect",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=sorted(adapters.ADAPTERS))
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--demo", type=Path, metavar="OUT",
                        help="collect every output `rampart demo` wrote in OUT instead")
    parser.add_argument("--evidence", type=Path,
                        default=Path(os.environ.get(evidence.ENV_DIR) or DEFAULT_EVIDENCE))
    parser.add_argument("--only", action="append", default=[], metavar="KIND",
                        choices=sorted({kind for kind, _ in DEMO_OUTPUTS}),
                        help="with --demo: collect only this adapter's outputs (repeatable)")
    parser.add_argument("--stack")
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    if (args.demo is None) == (args.kind is None or args.file is None):
        parser.error("give KIND FILE, or --demo OUT")
    if args.only and args.demo is None:
        parser.error("--only goes with --demo OUT")
    from infra.readiness.git import toplevel

    root = toplevel(Path.cwd())
    if args.demo is not None and not args.demo.is_dir():
        print(f"error: {args.demo}: no such demo output directory", file=sys.stderr)
        return 2
    sources = (demo_outputs(args.demo, args.only) if args.demo is not None
               else [(args.kind, args.file)])
    try:
        for kind, source in sources:
            path = collect(kind, source, args.evidence, root=root, stack=args.stack,
                           host=args.host, tools=rampart_version())
            print(f"evidence: {path} ({kind} from {source})")
    except (adapters.AdapterError, evidence.EvidenceError) as exc:
        print(f"error: {evidence.Redactor.from_env().text(str(exc))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
