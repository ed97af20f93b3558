"""kernel_hardening/mounts: /tmp and /dev/shm are nodev, nosuid, noexec on real hosts.

In a container the mounts belong to whoever runs it, so the role must leave /etc/fstab
alone there; on real hosts the live options are checked.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import EXPECTED, HOSTS, in_container

MOUNTS = [m["path"] for m in EXPECTED["kernel_hardening_mounts"]]
REQUIRED = {"nodev", "nosuid", "noexec"}


@pytest.mark.parametrize("path", MOUNTS)
@pytest.mark.parametrize("name", HOSTS)
def test_temporary_filesystem_is_hardened_on_real_hosts(
    hardened: Callable[[str], Host], name: str, path: str
) -> None:
    host = hardened(name)
    if in_container(host):
        fstab = host.file("/etc/fstab").content_string
        entries = [ln.split() for ln in fstab.splitlines() if ln.strip() and ln[0] != "#"]
        touched = [e for e in entries if len(e) > 1 and e[1] == path]
        assert not touched, f"{name} is a container but /etc/fstab has {path}: {touched}"
        return
    options = set(host.check_output(f"findmnt --noheadings --output OPTIONS {path}").split(","))
    assert options >= REQUIRED, f"{name}: {path} mounted without {sorted(REQUIRED - options)}"
