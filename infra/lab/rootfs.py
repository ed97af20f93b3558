"""The cached base rootfs every lab host starts from.

Built once with debootstrap (through the lab's apt proxy, so a rebuild is fast too) into
`<cache>/rootfs-<recipe hash>`; any change to the recipe below changes the hash, so a stale
base is never reused and a missing one is rebuilt. Host keys and machine-id are removed
here: each host gets its own at creation (see hosts.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.lab import sysutil
from infra.lab.config import ADMIN_USER, CACHE_DIR_ENV
from infra.lab.errors import LabError, LabInputError

# Runs inside the new root (chroot) after debootstrap; part of the recipe hash.
CUSTOMIZE = f"""set -eu
groupadd --system ssh-users
useradd --create-home --shell /bin/bash --groups sudo,ssh-users {ADMIN_USER}
# '*' rather than '!': no password login, yet key logins are not refused as 'locked'.
usermod --password '*' {ADMIN_USER}
install -d -m 0700 -o {ADMIN_USER} -g {ADMIN_USER} /home/{ADMIN_USER}/.ssh
printf '%s\\n' '{ADMIN_USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/rampart-admin
chmod 0440 /etc/sudoers.d/rampart-admin
visudo -cf /etc/sudoers.d/rampart-admin >/dev/null
systemctl enable ssh.service >/dev/null 2>&1
# Per-host identity is created at host creation, never shared through the base.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/*
"""


@dataclass(frozen=True)
class Recipe:
    suite: str
    mirror: str
    security_mirror: str
    variant: str
    packages: tuple[str, ...]
    customize: str

    @property
    def digest(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def sources_list(self) -> str:
        return (
            f"deb {self.mirror} {self.suite} main\n"
            f"deb {self.mirror} {self.suite}-updates main\n"
            f"deb {self.security_mirror} {self.suite}-security main\n"
        )


def default_recipe(mirror: str, security_mirror: str) -> Recipe:
    return Recipe(
        suite="bookworm",
        mirror=mirror,
        security_mirror=security_mirror,
        variant="minbase",
        packages=("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo"),
        customize=CUSTOMIZE,
    )


def rootfs_path(cache_dir: Path, recipe: Recipe) -> Path:
    return cache_dir / f"rootfs-{recipe.digest}"


def is_complete(path: Path) -> bool:
    """A base is usable only once its build wrote the marker, last."""
    return (path / ".rampart-complete").is_file()


def half_built(cache_dir: Path, recipe: Recipe) -> list[Path]:
    """Trees an interrupted build left behind (they are rebuilt, never booted)."""
    final = rootfs_path(cache_dir, recipe)
    found = sorted(cache_dir.glob(".build-*")) if cache_dir.is_dir() else []
    if final.exists() and not is_complete(final):
        found.append(final)
    return found


def check_cache_dir(cache_dir: Path) -> None:
    """Create the cache directory if needed and prove it writable, naming it when it is not.

    Root ignores permission bits, so the probe writes a file: a read-only mount, an immutable
    directory or a path through a regular file all fail here, before any build starts."""
    what = f"lab cache directory {cache_dir}"
    hint = f"choose another with {CACHE_DIR_ENV} or `rampart lab --cache-dir`"
    if cache_dir.exists() and not cache_dir.is_dir():
        raise LabInputError(f"{what} is not a directory; {hint}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise LabInputError(f"{what} is not writable ({exc.strerror or exc}); {hint}") from exc


def ensure_rootfs(cache_dir: Path, recipe: Recipe, proxy_url: str | None, log: Path) -> Path:
    """Return the cached base for `recipe`, building it first when it is missing."""
    final = rootfs_path(cache_dir, recipe)
    if is_complete(final):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Labs share the cache: one build at a time, and whoever waited finds it done.
    with open(cache_dir / "rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_complete(final):
            _build(cache_dir, recipe, final, proxy_url, log)
    return final


def _build(cache_dir: Path, recipe: Recipe, final: Path, proxy_url: str | None, log: Path) -> None:
    # Builds killed outright (SIGKILL, power loss) leave their tree behind; the lock is ours.
    for stale in cache_dir.glob(".build-*"):
        _remove_tree(stale)
    work = cache_dir / f".build-{recipe.digest}-{os.getpid()}"
    env = dict(os.environ)
    if proxy_url:
        env["http_proxy"] = proxy_url
    try:
        with log.open("ab") as out:
            cmd = [
                "debootstrap",
                f"--variant={recipe.variant}",
                f"--include={','.join(recipe.packages)}",
                recipe.suite,
                str(work),
                recipe.mirror,
            ]
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if done.returncode != 0:
                raise LabError(
                    f"base rootfs: debootstrap failed (exit {done.returncode}) for "
                    f"{recipe.suite} from {recipe.mirror}; see {log}"
                )
            (work / "etc/apt/sources.list").write_text(recipe.sources_list())
            done = subprocess.run(
                ["chroot", str(work), "/bin/sh", "-c", recipe.customize],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                check=False,
            )
            if done.returncode != 0:
                raise LabError(f"base rootfs: customisation in {work} failed; see {log}")
        (work / ".rampart-complete").write_text(json.dumps(asdict(recipe), indent=2))
        _remove_tree(final)
        work.rename(final)
    finally:
        _remove_tree(work)
    _prune_old(cache_dir, keep=final)


def _prune_old(cache_dir: Path, keep: Path) -> None:
    """Remove older bases no host root is layered on (a lower dir must not change under a
    mounted overlay)."""
    in_use = sysutil.overlay_lowerdirs()
    for old in cache_dir.glob("rootfs-*"):
        if old != keep and old.is_dir() and str(old) not in in_use:
            _remove_tree(old)


def _remove_tree(path: Path) -> None:
    """Remove a build tree, first unmounting anything debootstrap left mounted inside it."""
    if not path.exists():
        return
    for mnt in reversed(sysutil.mounts_under(path)):
        subprocess.run(["umount", "--lazy", mnt], check=False)
    shutil.rmtree(path, ignore_errors=False)
