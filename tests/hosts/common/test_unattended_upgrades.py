"""common/unattended_upgrades: security origins only, with the configured reboot window."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, role_vars


@pytest.mark.parametrize("name", HOSTS)
def test_daily_unattended_upgrades_are_switched_on(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    assert host.package("unattended-upgrades").is_installed, f"{name}: not installed"
    dump = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump, f"{name}: periodic off: {dump}"


@pytest.mark.parametrize("name", HOSTS)
def test_only_security_origins_and_the_reboot_window_apply(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    dump = host.check_output("apt-config dump Unattended-Upgrade")
    prefix = "Unattended-Upgrade::Origins-Pattern:: "
    origins = [line[len(prefix):].strip().strip(";").strip('"')
               for line in dump.splitlines() if line.startswith(prefix)]
    assert origins == v["common_unattended_upgrades_origins"], (
        f"{name}: effective origins {origins} != common_unattended_upgrades_origins"
    )
    reboot = "true" if v["common_unattended_upgrades_reboot"] else "false"
    assert f'Unattended-Upgrade::Automatic-Reboot "{reboot}";' in dump, f"{name}: reboot flag"
    assert (f'Unattended-Upgrade::Automatic-Reboot-Time '
            f'"{v["common_unattended_upgrades_reboot_time"]}";') in dump, f"{name}: reboot time"
