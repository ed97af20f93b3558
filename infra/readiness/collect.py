"""Record one tool output as evidence: run its adapter, keep a copy of the output under
`<evidence>/artefacts/` (the artefact the records cite) and write the evidence file.

    python -m infra.readiness.collect KIND FILE [--evidence DIR] [--stack S] [--host H]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.readiness.collect",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(adapters.ADAPTERS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--evidence", type=Path,
                        default=Path(os.environ.get(evidence.ENV_DIR) or DEFAULT_EVIDENCE))
    parser.add_argument("--stack")
    parser.add_argument("--host")
    args = parser.parse_args(argv)
    from infra.readiness.git import toplevel

    root = toplevel(Path.cwd())
    try:
        path = collect(args.kind, args.file, args.evidence, root=root, stack=args.stack,
                       host=args.host)
    except (adapters.AdapterError, evidence.EvidenceError) as exc:
        print(f"error: {evidence.Redactor.from_env().text(str(exc))}", file=sys.stderr)
        return 2
    print(f"evidence: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
