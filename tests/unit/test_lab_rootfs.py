"""The base rootfs recipe: what hosts contain, and that any recipe change forces a rebuild."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from infra.lab import LabError
from infra.lab.rootfs import (
    check_cache_dir,
    default_recipe,
    half_built,
    is_complete,
    rootfs_path,
)

pytestmark = pytest.mark.unit

MIRROR, SECURITY = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"


def test_recipe_has_the_contract_packages_on_bookworm_minbase() -> None:
    recipe = default_recipe(MIRROR, SECURITY)
    assert (recipe.suite, recipe.variant) == ("bookworm", "minbase")
    contract = {"systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo"}
    assert contract <= set(recipe.packages)


def test_sources_include_updates_and_security() -> None:
    lines = default_recipe(MIRROR, SECURITY).sources_list().splitlines()
    assert lines == [
        f"deb {MIRROR} bookworm main",
        f"deb {MIRROR} bookworm-updates main",
        f"deb {SECURITY} bookworm-security main",
    ]


def test_admin_user_and_identity_reset_are_in_the_recipe() -> None:
    script = default_recipe(MIRROR, SECURITY).customize
    assert "--groups sudo,ssh-users rampart" in script
    assert "/etc/sudoers.d/rampart-admin" in script and "visudo -cf" in script
    assert "rm -f /etc/ssh/ssh_host_*" in script, "host keys must not be shared via the base"
    assert ": > /etc/machine-id" in script


def test_same_recipe_same_cache_path() -> None:
    a, b = default_recipe(MIRROR, SECURITY), default_recipe(MIRROR, SECURITY)
    assert rootfs_path(Path("/c"), a) == rootfs_path(Path("/c"), b)


@pytest.mark.parametrize(
    "change",
    [
        {"suite": "trixie"},
        {"packages": ("systemd",)},
        {"mirror": "http://other/debian"},
        {"customize": "true"},
        {"variant": "buildd"},
    ],
)
def test_any_recipe_change_means_a_new_base(change: dict[str, object]) -> None:
    base = default_recipe(MIRROR, SECURITY)
    changed = replace(base, **change)  # type: ignore[arg-type]
    assert rootfs_path(Path("/c"), changed) != rootfs_path(Path("/c"), base), change


def test_a_missing_cache_dir_is_created(tmp_path: Path) -> None:
    check_cache_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert not list((tmp_path / "a" / "b").iterdir()), "the write probe is removed"


def test_a_cache_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    path.write_text("")
    with pytest.raises(LabError, match=rf"lab cache directory {path} is not a directory"):
        check_cache_dir(path)


def test_a_cache_dir_below_a_file_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "cache"
    with pytest.raises(LabError, match=rf"{path} is not writable .*RAMPART_CACHE_DIR"):
        check_cache_dir(path)


def test_a_read_only_cache_dir_is_named(tmp_path: Path) -> None:
    # Root ignores mode bits: only a read-only mount (or an immutable directory) refuses it.
    path = tmp_path / "ro"
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "rampart-test", str(path)],
        capture_output=True, check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"could not mount a read-only tmpfs: {mounted.stderr!r}")
    try:
        with pytest.raises(LabError, match=rf"{path} is not writable \(Read-only file system\)"):
            check_cache_dir(path)
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_half_built_bases_are_found_and_complete_ones_are_not(tmp_path: Path) -> None:
    recipe = default_recipe(MIRROR, SECURITY)
    assert half_built(tmp_path / "none", recipe) == []
    final = rootfs_path(tmp_path, recipe)
    (final / "etc").mkdir(parents=True)
    interrupted = tmp_path / f".build-{recipe.digest}-123"
    interrupted.mkdir()
    assert half_built(tmp_path, recipe) == [interrupted, final]
    assert not is_complete(final)
    (final / ".rampart-complete").write_text("{}")
    assert is_complete(final)
    assert half_built(tmp_path, recipe) == [interrupted]


@pytest.mark.parametrize("how", ["option", "env"])
def test_lab_up_names_an_unusable_cache_dir_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from typer.testing import CliRunner

    from infra.cli.main import app

    bad = tmp_path / "cache"
    bad.write_text("not a directory")
    args = ["lab", "--cache-dir", str(bad), "up"] if how == "option" else ["lab", "up"]
    if how == "env":
        monkeypatch.setenv("RAMPART_CACHE_DIR", str(bad))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"lab cache directory {bad} is not a directory" in result.output
    assert bad.read_text() == "not a directory", "nothing is written over it"
