"""Output directories: Rampart replaces and deletes only the files it wrote itself.

Every command that writes files (`render --out DIR`, `policy check --out FILE`,
`observability build --out DIR`, `audit --out FILE`) goes through `write_files`. The
directory keeps a manifest, `.rampart-manifest.json`, of the files Rampart wrote there:

    {"format": "rampart-manifest/1",
     "about": "...",
     "files": {"prometheus/prometheus.yml": {"sha256": "<hex>", "writer": "observability build"},
               "policy-dev.sarif": {"sha256": "<hex>", "writer": "policy check"}}}

A run replaces a file only when the manifest says this command wrote it and its sha256 still
matches (nobody edited it since); with `prune` (commands that own a whole set of files) it
also deletes this command's files it no longer produces. Anything else in the way (a file
Rampart did not write, one that was changed, one another command wrote) is refused with one
line naming it, before anything is touched, unless `force`. Directories, symlinked directories
and files outside the directory are never deleted or written through, even with `force`.

Nothing is left half-written: a new directory is built beside the target and renamed into
place; an existing one gets every file staged in a hidden directory inside it (same file
system), then each is moved in with an atomic rename. The manifest is rewritten first with
the new checksums marked pending, so even a run killed half-way leaves every file either
recognised as Rampart's or untouched. Concurrent runs on one directory are serialised with
a lock on the directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = ".rampart-manifest.json"
FORMAT = "rampart-manifest/1"
ABOUT = ("Files Rampart wrote into this directory, with their sha256. Rampart replaces or "
         "deletes a file only while it is listed here with an unchanged checksum; anything "
         "else is refused unless --force.")
_STAGING_PREFIX = ".rampart-staging-"
_SHA = re.compile(r"[0-9a-f]{64}")


class OutputError(Exception):
    """The output cannot be written as asked; nothing was changed. One line, exit 2."""


@dataclass(frozen=True)
class Entry:
    sha256: str
    writer: str


@dataclass(frozen=True)
class WriteResult:
    directory: Path
    written: tuple[Path, ...]  # every file of this run, final paths, in the order given
    removed: tuple[Path, ...]  # this command's stale files that were deleted
    forced: tuple[Path, ...]  # files not Rampart's (or changed) replaced or deleted by force


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_rel(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if (not rel or path.is_absolute() or "\\" in rel or rel != str(path)
            or any(part in ("", ".", "..") for part in path.parts) or rel == MANIFEST
            or path.parts[0].startswith(_STAGING_PREFIX)):
        raise ValueError(f"{rel!r} is not a plain relative path inside the output directory")
    return path


def _why(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or type(exc).__name__


# --- the manifest ------------------------------------------------------------------------------


@dataclass
class Manifest:
    files: dict[str, Entry]
    # Written before files are moved in and cleared after: a file matching either checksum
    # is Rampart's (a run killed half-way leaves no file that looks foreign).
    pending: dict[str, Entry]

    def owned(self, rel: str) -> list[Entry]:
        return [e for e in (self.files.get(rel), self.pending.get(rel)) if e is not None]

    def text(self) -> str:
        document: dict[str, Any] = {"format": FORMAT, "about": ABOUT,
                                    "files": _section(self.files)}
        if self.pending:
            document["pending"] = _section(self.pending)
        return json.dumps(document, indent=2) + "\n"


def _section(entries: Mapping[str, Entry]) -> dict[str, dict[str, str]]:
    return {rel: {"sha256": e.sha256, "writer": e.writer} for rel, e in sorted(entries.items())}


def read_manifest(directory: Path, *, force: bool = False) -> Manifest:
    """The directory's manifest (empty when there is none); an unreadable or malformed one is
    an error, or ignored with `force`."""
    path = directory / MANIFEST
    if not os.path.lexists(path):
        return Manifest({}, {})
    try:
        if path.is_symlink() or not path.is_file():
            raise ValueError("not a regular file")
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        return Manifest(_entries(document.get("files", {}), "files"),
                        _entries(document.get("pending", {}), "pending"))
    except (OSError, ValueError) as exc:
        if force:
            return Manifest({}, {})
        reason = _why(exc) if isinstance(exc, OSError) else str(exc).splitlines()[0][:120]
        raise OutputError(f"{path}: not a valid Rampart manifest ({reason}); remove it, or "
                          "pass --force to overwrite whatever is in the way") from None


def _entries(block: Any, section: str) -> dict[str, Entry]:
    if not isinstance(block, dict):
        raise ValueError(f"'{section}' is not a mapping")
    entries: dict[str, Entry] = {}
    for rel, entry in block.items():
        _check_rel(rel)
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _SHA.fullmatch(entry["sha256"])
                or not isinstance(entry.get("writer"), str)):
            raise ValueError(f"entry {rel!r} needs a sha256 and a writer")
        entries[rel] = Entry(entry["sha256"], entry["writer"])
    return entries


def _write_atomic(path: Path, text: str, staging: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=staging, prefix="manifest.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8"))
    os.replace(tmp, path)


# --- planning ------------------------------------------------------------------------------


@dataclass
class _Plan:
    current: dict[str, str]  # rel -> sha256 of the file there now (own or forced)
    remove: list[str]  # stale files of this command to delete
    clear: list[str]  # files standing where a directory must go (own stale ones, or forced)
    forced: list[str]
    drop: set[str]  # manifest entries whose files are gone


def _conflict(rel: str, manifest: Manifest, writer: str, path: Path) -> str | None:
    """Why `path` (at `rel`) may not be replaced or deleted by `writer`, or None."""
    if path.is_symlink():
        return "is a symlink Rampart did not write"
    if not path.is_file():
        return "is not a regular file"
    owned = manifest.owned(rel)
    if not owned:
        return "was not written by Rampart (not in its manifest)"
    current = _file_sha(path)
    mine = [e for e in owned if e.writer == writer]
    if any(e.sha256 == current for e in mine):
        return None
    if mine:
        return f"was changed since `rampart {writer}` wrote it"
    other = owned[0].writer
    if any(e.sha256 == current for e in owned):
        return f"was written by `rampart {other}`, not `rampart {writer}`"
    return f"was changed since `rampart {other}` wrote it"


def _symlinked_parent(out: Path, rel: str) -> Path | None:
    """The first directory between OUT and `rel` that is a symlink, if any."""
    parts = PurePosixPath(rel).parts
    for depth in range(1, len(parts)):
        path = out.joinpath(*parts[:depth])
        if path.is_symlink():
            return path
        if not path.is_dir():
            return None
    return None


def _plan(out: Path, files: Mapping[str, bytes], manifest: Manifest, writer: str,
          force: bool, prune: bool) -> _Plan:
    plan = _Plan(current={}, remove=[], clear=[], forced=[], drop=set())
    refused: list[tuple[Path, str]] = []
    hard: list[tuple[Path, str]] = []
    stale = sorted(rel for rel, e in manifest.files.items()
                   if prune and e.writer == writer and rel not in files)

    def judge(rel: str, path: Path) -> bool:
        """True when `path` may be replaced or deleted."""
        why = _conflict(rel, manifest, writer, path)
        if why is None:
            return True
        if force and (path.is_file() or path.is_symlink()):
            plan.forced.append(rel)
            return True
        refused.append((path, why))
        return False

    for rel in files:
        parts = PurePosixPath(rel).parts
        for depth in range(1, len(parts)):
            sub = "/".join(parts[:depth])
            path = out / sub
            if not os.path.lexists(path):
                break
            if path.is_symlink():
                hard.append((path, "is a symlink; Rampart never writes through one"))
                break
            if path.is_dir():
                continue
            if sub not in plan.clear and judge(sub, path):  # e.g. an own stale file
                plan.clear.append(sub)
            break
        path = out / rel
        if not os.path.lexists(path):
            continue
        if path.is_dir() and not path.is_symlink():
            hard.append((path, "is a directory; Rampart never deletes one"))
        elif judge(rel, path) and path.is_file() and not path.is_symlink():
            plan.current[rel] = _file_sha(path)
    for rel in stale:
        path = out / rel
        link = _symlinked_parent(out, rel)
        if link is not None:
            # A directory on the way was replaced by a link: deleting would reach outside OUT.
            hard.append((link, "is a symlink; Rampart never deletes through one"))
            continue
        if not os.path.lexists(path) or (path.is_dir() and not path.is_symlink()):
            plan.drop.add(rel)  # gone, or replaced by a directory someone else made
        elif rel not in plan.clear and judge(rel, path):
            plan.remove.append(rel)
    plan.drop.update(rel for rel in manifest.files if not os.path.lexists(out / rel))
    blocked = hard or refused
    if blocked:
        path, why = blocked[0]
        more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
        hint = ("move it away or choose another --out" if hard
                else "move it away, choose another --out, or pass --force")
        raise OutputError(f"{path}: {why}; refusing to overwrite or delete it{more}: {hint}")
    return plan


# --- writing -----------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stage(staging: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def write_files(out: Path, files: Mapping[str, str | bytes], *, writer: str,
                force: bool = False, prune: bool = True) -> WriteResult:
    """Write `files` ({relative path: content}) under `out` as described in the module
    docstring. `writer` names the command (`render`, `policy check`, ...) in the manifest.

    Raises `OutputError` (one line naming the path; nothing changed) when `out` is not a
    usable directory or a file in the way is not this command's own unchanged output."""
    for rel in files:
        try:
            _check_rel(rel)
        except ValueError as exc:
            raise OutputError(f"{Path(out) / rel}: cannot be written: {exc}") from None
    data = {rel: c.encode("utf-8") if isinstance(c, str) else bytes(c) for rel, c in files.items()}
    out = Path(out)
    try:
        if os.path.lexists(out) and not out.is_dir():
            raise OutputError(f"{out}: --out must be a directory, and this is "
                              f"{'a broken symlink' if out.is_symlink() else 'a file'}")
        if not out.exists():
            return _write_new(out, data, writer)
        with _locked(out):
            return _write_existing(out, data, writer, force=force, prune=prune)
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else out
        raise OutputError(f"{where}: cannot write the output: {_why(exc)}") from None


def preflight_file(path: Path, *, writer: str, force: bool = False) -> None:
    """`preflight` for a command whose --out names one report file (its directory keeps the
    manifest): a directory given instead is refused too."""
    path = Path(path)
    if path.is_dir() or not path.name:
        raise OutputError(f"{path}: --out names the report file, and this is a directory")
    preflight(path.parent, [path.name], writer=writer, force=force)


def preflight(out: Path, names: Iterable[str], *, writer: str, force: bool = False) -> None:
    """Refuse early what `write_files` would refuse for these files (an unusable directory,
    a file in the way), so a long render or audit does not run for nothing. Writes nothing;
    `write_files` checks everything again when it writes."""
    out = Path(out)
    try:
        if os.path.lexists(out) and not out.is_dir():
            raise OutputError(f"{out}: --out must be a directory, and this is "
                              f"{'a broken symlink' if out.is_symlink() else 'a file'}")
        if not out.exists():
            ancestor = out.parent
            while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise OutputError(f"{out}: cannot create the directory: {ancestor} is not a "
                                  "directory")
            _probe(ancestor, f"{out}: cannot create the directory")
            return
        _probe(out, f"{out}: cannot write into the directory")
        names = list(names)
        for rel in names:
            try:
                _check_rel(rel)
            except ValueError as exc:
                raise OutputError(f"{out / rel}: cannot be written: {exc}") from None
        _plan(out, dict.fromkeys(names, b""), read_manifest(out, force=force), writer, force,
              prune=False)
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else out
        raise OutputError(f"{where}: cannot write the output: {_why(exc)}") from None


def _probe(directory: Path, what: str) -> None:
    """Create and remove an empty directory: the one test of writability that also holds for
    root, read-only mounts and pseudo file systems (/proc, /sys)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=directory))
    except OSError as exc:
        raise OutputError(f"{what}: {directory} does not accept new files "
                          f"({_why(exc)})") from None


def _write_new(out: Path, data: Mapping[str, bytes], writer: str) -> WriteResult:
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{out}: cannot create the directory: a parent is not a "
                          "directory") from None
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the directory: {_why(exc)}") from None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{_STAGING_PREFIX}", dir=parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the directory: {_why(exc)}") from None
    try:
        _stage(staging, data)
        manifest = Manifest({rel: Entry(sha256(c), writer) for rel, c in data.items()}, {})
        (staging / MANIFEST).write_text(manifest.text(), encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())
        try:
            os.rename(staging, out)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise OutputError(f"{out}: appeared while writing; run again") from None
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WriteResult(out, tuple(out / rel for rel in data), (), ())


def _write_existing(out: Path, data: Mapping[str, bytes], writer: str, *, force: bool,
                    prune: bool) -> WriteResult:
    manifest = read_manifest(out, force=force)
    plan = _plan(out, data, manifest, writer, force, prune)
    try:
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write into the directory: {_why(exc)}") from None
    try:
        _stage(staging, data)
        files = {rel: e for rel, e in manifest.files.items() if rel not in plan.drop}
        new = {rel: Entry(sha256(content), writer) for rel, content in data.items()}
        # Pending first: a run killed while moving files in leaves them recognisable.
        _write_atomic(out / MANIFEST, Manifest(files, new).text(), staging)
        for rel in plan.clear:
            (out / rel).unlink()
            files.pop(rel, None)
        removed: list[Path] = []
        for rel in plan.remove:
            (out / rel).unlink()
            files.pop(rel, None)
            removed.append(out / rel)
        for rel in data:
            if plan.current.get(rel) == new[rel].sha256 and rel not in plan.forced:
                continue  # unchanged: keep the file (and its mtime) as it is
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
        files.update(new)
        _write_atomic(out / MANIFEST, Manifest(files, {}).text(), staging)
        for path in removed:
            _remove_empty_parents(path.parent, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WriteResult(out, tuple(out / rel for rel in data), tuple(removed),
                       tuple(out / rel for rel in plan.forced))


def _remove_empty_parents(directory: Path, root: Path) -> None:
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
