"""Record one tool output as evidence: run its adapter, keep a copy of the output under
`<evidence>/artefacts/` (the artefact the records cite) and write the evidence file.

    python -m infra.readiness.collect KIND FILE [--evidence DIR] [--stack S] [--host H]
    python -m infra.readiness.collect --demo OUT [--evidence DIR] [--stack S]

KIND is one of infra/readiness/adapters.py ADAPTERS (sarif, audit, promtool, drill, backup,
secrets-check, benchmark). Exit 0 when written, 2 (one line naming the file) when FILE is
not what the adapter reads or the directory cannot be written. The records' own outcomes do
not change the exit code: judging them is `rampart readiness`'s job.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from infra.readiness import adapters, evidence

DEFAULT_EVIDENCE = Path("out/evidence")
ARTEFACTS = "artefacts"


def collect(kind: str, source: Path, directory: Path, *, root: Path, stack: str | None = None,
            host: str | None = None, redactor: evidence.Redactor | None = None) -> Path:
    if kind not in adapters.ADAPTERS:
        raise adapters.AdapterError(f"unknown adapter {kind!r} (one of "
                                    f"{', '.join(sorted(adapters.ADAPTERS))})")
    if not source.is_file():
        raise adapters.AdapterError(f"{source}: no such file")
    ctx = evidence.context(root, stack=stack)
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
)


def demo_outputs(out: Path) -> list[tuple[str, Path]]:
    """The demo outputs present in `out`, newest match per pattern."""
    found = []
    for kind, pattern in DEMO_OUTPUTS:
        matches = sorted(out.glob(pattern))
        if matches:
            found.append((kind, matches[-1]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.readiness.collect",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("kind", nargs="?", choices=sorted(adapters.ADAPTERS))
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--demo", type=Path, metavar="OUT",
                        help="collect every output `rampart demo` wrote in OUT instead")
    parser.add_argument("--evidence", type=Path,
                        default=Path(os.environ.get(evidence.ENV_DIR) or DEFAULT_EVIDENCE))
    parser.add_argument("--stack")
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    if (args.demo is None) == (args.kind is None or args.file is None):
        parser.error("give KIND FILE, or --demo OUT")
    from infra.readiness.git import toplevel

    root = toplevel(Path.cwd())
    if args.demo is not None and not args.demo.is_dir():
        print(f"error: {args.demo}: no such demo output directory", file=sys.stderr)
        return 2
    sources = (demo_outputs(args.demo) if args.demo is not None
               else [(args.kind, args.file)])
    try:
        for kind, source in sources:
            path = collect(kind, source, args.evidence, root=root, stack=args.stack,
                           host=args.host)
            print(f"evidence: {path} ({kind} from {source})")
    except (adapters.AdapterError, evidence.EvidenceError) as exc:
        print(f"error: {evidence.Redactor.from_env().text(str(exc))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
