"""The base rootfs recipe: what hosts contain, and that any recipe change forces a rebuild."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from infra.lab.rootfs import default_recipe, rootfs_path

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
