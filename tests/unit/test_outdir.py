"""infra/offline/outdir.py: Rampart replaces and deletes only the files it wrote, all or nothing."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from infra.offline import outdir
from infra.offline.outdir import MANIFEST, OutputError, preflight, write_files

pytestmark = pytest.mark.unit

FILES = {"a.yml": "a: 1\n", "sub/b.yml": "b: 2\n", "sub/deep/c.json": "{}\n"}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (os.readlink(p).encode() if p.is_symlink()
                                       else p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


def _manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text())


def _no_staging_left(*roots: Path) -> None:
    for root in roots:
        if root.is_dir():
            left = [p.name for p in root.iterdir() if ".rampart-staging-" in p.name]
            assert not left, f"{root}: staging directories left behind: {left}"


# --- the manifest and a first write ------------------------------------------------------------


def test_a_new_directory_gets_the_files_and_a_manifest_of_them(tmp_path):
    out = tmp_path / "new" / "out"
    result = write_files(out, FILES, writer="render")
    assert {str(p.relative_to(out)) for p in result.written} == set(FILES)
    assert _tree(out) == {**{k: v.encode() for k, v in FILES.items()},
                          MANIFEST: (out / MANIFEST).read_bytes()}
    manifest = _manifest(out)
    assert manifest["format"] == "rampart-manifest/1" and "pending" not in manifest
    assert manifest["files"] == {
        rel: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "writer": "render"}
        for rel, text in FILES.items()}
    assert oct(out.stat().st_mode & 0o777) != oct(0o700), "the staging dir's 0700 leaked"
    _no_staging_left(out.parent)


def test_a_rerun_replaces_its_own_files_and_keeps_unchanged_ones(tmp_path):
    write_files(tmp_path, FILES, writer="render")
    before = (tmp_path / "a.yml").stat().st_ino
    write_files(tmp_path, {**FILES, "sub/b.yml": "b: 3\n"}, writer="render")
    assert (tmp_path / "sub/b.yml").read_text() == "b: 3\n"
    assert (tmp_path / "a.yml").stat().st_ino == before, "an unchanged file was rewritten"
    assert _manifest(tmp_path)["files"]["sub/b.yml"]["sha256"] == hashlib.sha256(
        b"b: 3\n").hexdigest()
    _no_staging_left(tmp_path)


def test_own_stale_files_are_removed_with_their_empty_directories(tmp_path):
    write_files(tmp_path, FILES, writer="render")
    result = write_files(tmp_path, {"a.yml": "a: 1\n"}, writer="render")
    assert [p.relative_to(tmp_path).as_posix() for p in result.removed] == [
        "sub/b.yml", "sub/deep/c.json"]
    assert not (tmp_path / "sub").exists()
    assert set(_manifest(tmp_path)["files"]) == {"a.yml"}


def test_without_prune_earlier_files_stay(tmp_path):
    write_files(tmp_path, {"one.md": "1"}, writer="policy check", prune=False)
    write_files(tmp_path, {"two.md": "2"}, writer="policy check", prune=False)
    assert (tmp_path / "one.md").read_text() == "1"
    assert set(_manifest(tmp_path)["files"]) == {"one.md", "two.md"}


def test_two_commands_share_a_directory_without_touching_each_other(tmp_path):
    write_files(tmp_path, {"render/index.json": "{}"}, writer="render")
    write_files(tmp_path, {"obs/prometheus.yml": "x"}, writer="observability build")
    write_files(tmp_path, {"render/other.json": "{}"}, writer="render")
    assert (tmp_path / "obs/prometheus.yml").read_text() == "x", "another command's file pruned"
    with pytest.raises(OutputError, match=r"written by `rampart render`, not `rampart audit`"):
        write_files(tmp_path, {"render/other.json": "y"}, writer="audit")


# --- refusals: named, one line, nothing changed ------------------------------------------------


def _refused(out: Path, files: dict[str, str], match: str, **kwargs) -> OutputError:
    before = _tree(out)
    with pytest.raises(OutputError, match=match) as err:
        write_files(out, files, writer="render", **kwargs)
    assert len(str(err.value).splitlines()) == 1, str(err.value)
    assert _tree(out) == before, "a refused write changed the directory"
    _no_staging_left(out)
    return err.value


def test_a_file_rampart_did_not_write_is_never_overwritten(tmp_path):
    (tmp_path / "a.yml").write_text("mine")
    err = _refused(tmp_path, FILES, r"a\.yml: was not written by Rampart")
    assert str(tmp_path / "a.yml") in str(err) and "--force" in str(err)


def test_a_changed_file_is_not_overwritten_nor_deleted(tmp_path):
    write_files(tmp_path, FILES, writer="render")
    (tmp_path / "a.yml").write_text("edited by hand")
    _refused(tmp_path, FILES, r"a\.yml: was changed since `rampart render` wrote it")
    _refused(tmp_path, {"other.yml": "x"}, r"a\.yml: was changed since")  # as a stale file


def test_several_conflicts_are_counted_in_the_one_line(tmp_path):
    (tmp_path / "a.yml").write_text("mine")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/b.yml").write_text("mine")
    _refused(tmp_path, FILES, r"\(and 1 more\)")


def test_force_replaces_and_deletes_and_takes_ownership(tmp_path):
    write_files(tmp_path, FILES, writer="render")
    (tmp_path / "a.yml").write_text("edited")
    (tmp_path / "sub/b.yml").write_text("edited")
    result = write_files(tmp_path, {"a.yml": "new"}, writer="render", force=True)
    assert (tmp_path / "a.yml").read_text() == "new"
    assert not (tmp_path / "sub/b.yml").exists()
    assert {p.name for p in result.forced} == {"a.yml", "b.yml"}
    write_files(tmp_path, {"a.yml": "newer"}, writer="render")  # now plainly its own


def test_a_directory_in_the_way_is_refused_even_with_force(tmp_path):
    (tmp_path / "a.yml").mkdir()
    (tmp_path / "a.yml" / "keep").write_text("k")
    _refused(tmp_path, FILES, r"a\.yml: is a directory; Rampart never deletes one", force=True)


def test_a_file_where_a_directory_must_go_is_refused(tmp_path):
    (tmp_path / "sub").write_text("a file called sub")
    _refused(tmp_path, FILES, r"sub: was not written by Rampart")


def test_never_writes_through_a_symlinked_directory(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside, target_is_directory=True)
    _refused(out, FILES, r"sub: is a symlink; Rampart never writes through one", force=True)
    assert list(outside.iterdir()) == []


def test_a_symlink_at_a_target_is_replaced_only_by_force_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.yml").symlink_to(victim)
    _refused(out, FILES, r"a\.yml: is a symlink Rampart did not write")
    write_files(out, FILES, writer="render", force=True)
    assert not (out / "a.yml").is_symlink() and (out / "a.yml").read_text() == "a: 1\n"
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other"}',
                                  '{"format": "rampart-manifest/1", "files": {"../x": '
                                  '{"sha256": "' + "0" * 64 + '", "writer": "render"}}}',
                                  '{"format": "rampart-manifest/1", "files": {"a.yml": {}}}'],
                         ids=["not-json", "list", "format", "dotdot", "entry"])
def test_a_malformed_manifest_is_refused_and_cannot_point_outside(tmp_path, text):
    (tmp_path / "x").write_text("outside the output directory")
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text(text)
    _refused(out, FILES, r"\.rampart-manifest\.json: not a valid Rampart manifest")
    write_files(out, FILES, writer="render", force=True)
    assert (tmp_path / "x").exists()
    assert _manifest(out)["format"] == "rampart-manifest/1"


@pytest.mark.parametrize("rel", [MANIFEST, "../x", "/etc/x", "a/../b", "a//b", ""])
def test_reserved_or_escaping_names_are_refused(tmp_path, rel):
    with pytest.raises(OutputError, match="cannot be written"):
        write_files(tmp_path / "o", {rel: "x"}, writer="render")
    assert not (tmp_path / "o").exists()


# --- an unusable --out --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "below-a-file", "proc", "sys", "broken-symlink"])
def test_an_unusable_output_directory_is_one_clear_error(tmp_path, kind):
    (tmp_path / "f").write_text("a file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    out = {"file": tmp_path / "f", "below-a-file": tmp_path / "f" / "sub",
           "proc": Path("/proc/rampart-test-out"), "sys": Path("/sys/rampart-test-out"),
           "broken-symlink": tmp_path / "dangling"}[kind]
    for attempt in (lambda: preflight(out, ["a.yml"], writer="render"),
                    lambda: write_files(out, FILES, writer="render")):
        with pytest.raises(OutputError) as err:
            attempt()
        line = str(err.value)
        assert len(line.splitlines()) == 1 and str(out) in line, line
    assert (tmp_path / "f").read_text() == "a file"


def test_preflight_refuses_what_the_write_would_and_writes_nothing(tmp_path):
    (tmp_path / "index.json").write_text("mine")
    with pytest.raises(OutputError, match="index.json: was not written by Rampart"):
        preflight(tmp_path, ["index.json"], writer="render")
    preflight(tmp_path / "new", ["index.json"], writer="render")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


# --- all or nothing ----------------------------------------------------------------------------


def test_a_failure_while_staging_leaves_no_partial_output(tmp_path, monkeypatch):
    def full_disk(staging: Path, files: dict) -> None:
        (staging / "a.yml").write_text("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outdir, "_stage", full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        write_files(tmp_path / "new", FILES, writer="render")
    assert list(tmp_path.iterdir()) == [], "a new directory was left half-written"
    monkeypatch.undo()
    write_files(tmp_path / "old", FILES, writer="render")
    before = _tree(tmp_path / "old")
    monkeypatch.setattr(outdir, "_stage", full_disk)
    with pytest.raises(OutputError):
        write_files(tmp_path / "old", {**FILES, "a.yml": "changed"}, writer="render")
    assert _tree(tmp_path / "old") == before
    _no_staging_left(tmp_path / "old")


def test_a_run_killed_while_moving_files_in_leaves_them_recognised(tmp_path, monkeypatch):
    write_files(tmp_path, FILES, writer="render")
    moved: list[str] = []
    real_replace = os.replace

    def die_after_one(src, dst):
        if str(dst).endswith(MANIFEST) or not moved:
            moved.append(str(dst))
            return real_replace(src, dst)
        raise KeyboardInterrupt  # the process dies half-way

    monkeypatch.setattr(outdir.os, "replace", die_after_one)
    new = {rel: text + "# v2\n" for rel, text in FILES.items()}
    with pytest.raises(KeyboardInterrupt):
        write_files(tmp_path, new, writer="render")
    monkeypatch.undo()
    assert "pending" in _manifest(tmp_path)
    write_files(tmp_path, new, writer="render")  # no --force needed: both versions are its own
    assert _tree(tmp_path)["a.yml"] == b"a: 1\n# v2\n"
    assert "pending" not in _manifest(tmp_path)


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "existing-dir"])
def test_a_read_only_mount_is_named_as_such(tmp_path, monkeypatch, existing):
    out = tmp_path / "out"
    if existing:
        out.mkdir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outdir.tempfile, "mkdtemp", read_only)
    for attempt in (lambda: preflight(out, ["a.yml"], writer="render"),
                    lambda: write_files(out, FILES, writer="render")):
        with pytest.raises(OutputError, match=rf"{out}: cannot .*read-only file system"):
            attempt()
    assert out.exists() == existing and (not existing or list(out.iterdir()) == [])
