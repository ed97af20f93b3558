"""How a corpus case is run and judged: a throwaway project per case, the command lines, a
recording stand-in for Vault, tree snapshots, and the contract every refusal must meet.

The CLI finds its project as the working directory (or a parent) holding `Pulumi.yaml`
(infra/stack/__init__.py `project_dir`), so each case gets its own copy of the project files in an
"arena" and runs with the arena's project as working directory; `HOME` and the temporary
directory point into the arena too, so whatever a run writes anywhere is inside the tree that
is snapshotted and searched for canaries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import corpus as c

VAULT_TOKEN = f"hvs.{c.canary('vault-token')}"  # must never be printed either
VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "RAMPART_VAULT_MOUNT")
WRITER = {c.RENDER: "render", c.POLICY: "policy check", c.OBSERVABILITY: "observability build"}
OTHER_WRITER = {c.RENDER: "observability build", c.POLICY: "render",
                c.OBSERVABILITY: "render"}
REPORT_NAME = "report.json"


class VaultListener:
    """A loopback port that accepts and immediately closes every connection, counting them.
    A command that contacts Vault fails fast (connection reset: exit 3) and is caught by the
    count; one that refuses its input first never connects."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.addr = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


@dataclass
class Arena:
    root: Path
    project: Path
    planted: list[Path] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


def make_template(where: Path) -> Path:
    """The project files every case starts from: a copy of the repository's entry files,
    catalog and versions, the committed dev and prod stacks (catalog pointed at the copy),
    and the policy pack linked in (the CLI imports it from the project directory)."""
    where.mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(c.ROOT / name, where / name)
    (where / "policies").symlink_to(c.ROOT / "policies", target_is_directory=True)
    (where / "infra" / "catalog").mkdir(parents=True)
    for rel in (c.CATALOG_REL, c.VERSIONS_REL):
        shutil.copy2(c.ROOT / rel, where / rel)
    for base in ("dev", "prod"):
        (where / f"Pulumi.{base}.yaml").write_text(c.dump_yaml(c.stack_document(base)),
                                                   encoding="utf-8")
    return where


def make_arena(template: Path, root: Path, case: c.Case, vault: VaultListener | None = None
               ) -> Arena:
    root.mkdir(parents=True, exist_ok=True)
    project = root / "project"
    shutil.copytree(template, project, symlinks=True)
    for sub in ("home", "tmp"):
        (root / sub).mkdir()
    arena = Arena(root=root, project=project)
    arena.planted = c.write_inputs(case, project, vault.port if vault else None)
    return arena


# -- command lines -------------------------------------------------------------------------------

def default_out(arena: Arena, command: str) -> Path | None:
    return {c.RENDER: arena.root / "out-render",
            c.OBSERVABILITY: arena.root / "out-observability"}.get(command)


def argv(command: str, stack: str, out: Path | None) -> list[str]:
    if command == c.RENDER:
        return ["render", "--stack", stack, "--out", str(out)]
    if command == c.OBSERVABILITY:
        return ["observability", "build", "--stack", stack, "--out", str(out)]
    if command == c.POLICY:
        return ["policy", "check", "--stack", stack, "--format", "json",
                *(["--out", str(out)] if out is not None else [])]
    return ["secrets", "check", "--stack", stack]


def environment(arena: Arena, vault: VaultListener) -> dict[str, str | None]:
    env: dict[str, str | None] = dict.fromkeys(VAULT_VARS)
    env.update(VAULT_ADDR=vault.addr, VAULT_TOKEN=VAULT_TOKEN, HOME=str(arena.home),
               TMPDIR=str(arena.tmp))
    return env


# -- unsafe --out ----------------------------------------------------------------------------------

def prepare_out(arena: Arena, case: c.Case, command: str,
                own_files: dict[str, list[str]]) -> tuple[Path, str]:
    """Build the case's unsafe --out in the arena; return the --out argument and the path the
    refusal must name."""
    from infra.offline.outdir import FORMAT, MANIFEST

    assert case.out is not None
    kind, pick = case.out.kind, case.out.pick
    secret = case.canaries[0]
    report = command == c.POLICY
    victim = arena.root / "victim.txt"
    victim.write_text(f"operator notes, keep: {secret}\n", encoding="utf-8")
    outdir = arena.root / "out"
    leaf = REPORT_NAME if report else "out"

    def own() -> str:
        if report:
            return REPORT_NAME
        files = own_files[command]
        return files[pick % len(files)]

    if kind == "existing-file":
        return victim, str(victim)
    if kind == "symlink-to-file":
        link = arena.root / "link"
        link.symlink_to(victim)
        return link, str(link)
    if kind == "broken-symlink":
        link = arena.root / "dangling"
        link.symlink_to(arena.root / "nowhere")
        return link, str(link)
    if kind == "below-a-file":
        return victim / "sub" / leaf, str(victim)
    if kind in ("under-proc", "under-proc-self", "under-sys"):
        base = {"under-proc": f"/proc/rampart-adversarial-{pick}",
                "under-proc-self": "/proc/self/rampart-adversarial",
                "under-sys": f"/sys/rampart-adversarial-{pick}"}[kind]
        out = Path(base) / leaf
        return out, str(out.parent if report else out)
    if kind == "dev-null":
        return Path("/dev/null"), "/dev/null"
    if kind == "below-dev-null":
        return Path("/dev/null") / leaf, "/dev/null"
    if kind == "a-directory-as-report":
        reports = arena.root / "reports"
        reports.mkdir()
        (reports / "notes.txt").write_text(secret, encoding="utf-8")
        return reports, str(reports)

    outdir.mkdir()
    out_arg = outdir / REPORT_NAME if report else outdir
    foreign = f"written by hand, not by Rampart: {secret}\n"
    if kind == "symlinked-subdirectory":
        elsewhere = arena.root / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "keep.txt").write_text(foreign, encoding="utf-8")
        nested = [f for f in own_files[command] if "/" in f]
        top = outdir / nested[pick % len(nested)].split("/")[0]
        top.symlink_to(elsewhere, target_is_directory=True)
        return out_arg, str(top)
    rel = own()
    target = outdir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "foreign-file-in-the-way":
        target.write_text(foreign, encoding="utf-8")
        return out_arg, str(target)
    if kind == "directory-in-the-way":
        target.mkdir()
        (target / "keep.txt").write_text(foreign, encoding="utf-8")
        return out_arg, str(target)
    if kind == "symlink-in-the-way":
        target.symlink_to(victim)
        return out_arg, str(target)
    if kind == "malformed-manifest":
        (outdir / MANIFEST).write_text(f"not json: {secret}\n", encoding="utf-8")
        return out_arg, str(outdir / MANIFEST)
    if kind == "manifest-path-traversal":
        # a manifest that claims a file outside the directory, with its true checksum
        claim = {"sha256": hashlib.sha256(victim.read_bytes()).hexdigest(),
                 "writer": WRITER[command]}
        (outdir / MANIFEST).write_text(json.dumps({"format": FORMAT, "files": {
            "../victim.txt": claim}}), encoding="utf-8")
        return out_arg, str(outdir / MANIFEST)
    if kind == "stale-entry-through-symlinked-directory":
        # an entry this command wrote earlier, now below a symlink to a directory elsewhere
        elsewhere = arena.root / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "keep.yaml").write_text(foreign, encoding="utf-8")
        top = outdir / "stale"
        top.symlink_to(elsewhere, target_is_directory=True)
        claim = {"sha256": hashlib.sha256(foreign.encode()).hexdigest(),
                 "writer": WRITER[command]}
        (outdir / MANIFEST).write_text(json.dumps({"format": FORMAT, "files": {
            "stale/keep.yaml": claim}}), encoding="utf-8")
        return out_arg, str(top)
    target.write_text(foreign, encoding="utf-8")
    digest = hashlib.sha256(foreign.encode()).hexdigest()
    if kind == "forged-manifest-wrong-checksum":
        entry = {"sha256": "0" * 64, "writer": WRITER[command]}
    elif kind == "manifest-of-another-command":
        entry = {"sha256": digest, "writer": OTHER_WRITER[command]}
    else:
        raise AssertionError(f"unknown --out kind {kind}")
    (outdir / MANIFEST).write_text(json.dumps({"format": FORMAT, "files": {rel: entry}}),
                                   encoding="utf-8")
    return out_arg, str(target)


# -- judging -----------------------------------------------------------------------------------

Snapshot = dict[str, tuple[Any, ...]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under `root` (symlinks not followed): type, content hash, mode, mtime."""
    seen: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                seen[rel] = ("dir", info.st_mode)
            elif stat.S_ISREG(info.st_mode):
                seen[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(),
                             info.st_mode, info.st_mtime_ns)
            else:
                seen[rel] = ("other", info.st_mode)
    return seen


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return ([f"+ {k}" for k in added] + [f"- {k}" for k in removed]
            + [f"~ {k}" for k in changed])


def canaries_of(case: c.Case) -> tuple[str, ...]:
    return (*case.canaries, VAULT_TOKEN)


def leaks(text: str, canaries: tuple[str, ...]) -> list[str]:
    low = text.lower()
    return [t for t in canaries if t.lower() in low]


def leaked_files(root: Path, before: Snapshot, after: Snapshot,
                 canaries: tuple[str, ...]) -> list[str]:
    """Files written or changed by the run (anywhere in the arena) that hold a canary."""
    found = []
    for rel, entry in after.items():
        if entry[0] == "file" and before.get(rel) != entry:
            data = (root / rel).read_bytes().lower()
            if any(t.lower().encode() in data for t in canaries):
                found.append(rel)
    return found


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None
    logs: str = ""


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def check_refusal(case: c.Case, command: str, outcome: Outcome,
                  fragments: tuple[tuple[str, ...], ...]) -> str:
    """The contract of a refusal: the expected exit code, one line on stderr naming what is
    wrong, nothing on stdout, no traceback. Returns the line."""
    output = outcome.stdout + outcome.stderr
    where = f"{case.id} [{command}]"
    assert "Traceback" not in output, f"{where}: a traceback instead of one line:\n{output}"
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), \
        f"{where}: crashed with {outcome.exception!r}"
    assert outcome.exit_code == case.exit_code, \
        f"{where}: exit {outcome.exit_code}, expected {case.exit_code}:\n{output[-2000:]}"
    lines = error_lines(outcome.stderr)
    assert len(lines) == 1, f"{where}: expected exactly one line on stderr, got {len(lines)}:\n" \
                            + "\n".join(lines[:20])
    assert outcome.stdout.strip() == "", \
        f"{where}: partial output on stdout:\n{outcome.stdout[:2000]}"
    for alternatives in fragments:
        assert any(a in lines[0] for a in alternatives), \
            f"{where}: {' or '.join(map(repr, alternatives))} not named in:\n{lines[0]}"
    return lines[0]


def check_waiver_report(case: c.Case, outcome: Outcome) -> None:
    """A bad waiver: `policy check` fails (exit 1) with a mandatory policy-waivers-valid
    violation located in the stack file and naming the waiver; nothing is waived by it, and
    the finding it aimed at stays mandatory."""
    expect = case.waiver
    assert expect is not None
    output = outcome.stdout + outcome.stderr
    assert "Traceback" not in output, output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), \
        repr(outcome.exception)
    assert outcome.exit_code == 1, f"{case.id}: exit {outcome.exit_code}:\n{output[-2000:]}"
    assert error_lines(outcome.stderr) == [], outcome.stderr
    report = json.loads(outcome.stdout)
    assert report["passed"] is False
    mine = [v for v in report["violations"]
            if v["rule"] == "policy-waivers-valid" and v["subject"] == expect.waiver_id]
    assert mine, f"{case.id}: no policy-waivers-valid violation for {expect.waiver_id}: " + \
                 json.dumps(report["violations"], indent=1)[:3000]
    found = mine[0]
    assert found["level"] == "mandatory", found
    assert found["location"]["file"] == f"Pulumi.{case.base}.yaml", found
    assert expect.words in found["message"], f"{expect.words!r} not in {found['message']!r}"
    assert not [w for w in report["waived"] if w.get("waiver") == expect.waiver_id], \
        f"{case.id}: the bad waiver still waived something"
    if expect.still_mandatory:
        rule, service, subject = expect.still_mandatory
        assert any(v["rule"] == rule and v["service"] == service and v["subject"] == subject
                   and v["level"] == "mandatory" for v in report["violations"]), \
            f"{case.id}: {rule} on {service} about {subject} is no longer reported"
