"""fail2ban: the service, its jails and their nftables ban actions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from expected import FAIL2BAN
from lab_support import HOSTS
from testinfra.host import Host


@pytest.mark.parametrize("name", HOSTS)
def test_fail2ban_is_enabled_and_running(hardened: Callable[[str], Host], name: str) -> None:
    service = hardened(name).service("fail2ban")
    assert service.is_enabled and service.is_running, f"{name}: fail2ban not enabled/running"


@pytest.mark.parametrize("name", HOSTS)
def test_sshd_and_recidive_jails_are_active(hardened: Callable[[str], Host], name: str) -> None:
    status = hardened(name).check_output("fail2ban-client status")
    jails = {j.strip() for j in status.split("Jail list:", 1)[1].split(",")}
    assert {"sshd", "recidive"} <= jails, f"{name}: active jails are {sorted(jails)}"


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize(
    ("jail", "action"),
    [("sshd", FAIL2BAN["fail2ban_banaction"]),
     ("recidive", FAIL2BAN["fail2ban_banaction_allports"])],
)
def test_jails_ban_through_nftables(
    hardened: Callable[[str], Host], name: str, jail: str, action: str
) -> None:
    actions = hardened(name).check_output(f"fail2ban-client get {jail} actions")
    assert action in actions, f"{name}: jail {jail} bans with {actions!r}, not {action}"


@pytest.mark.parametrize("name", HOSTS)
def test_sshd_jail_reads_the_journal(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    journal = host.run("fail2ban-client get sshd journalmatch")
    assert journal.rc == 0 and "sshd" in journal.stdout, (
        f"{name}: sshd jail is not on the systemd backend: {journal.stdout} {journal.stderr}"
    )
    maxretry = host.check_output("fail2ban-client get sshd maxretry")
    assert maxretry == str(FAIL2BAN["fail2ban_sshd_maxretry"]), f"{name}: maxretry {maxretry}"


@pytest.mark.parametrize("name", HOSTS)
def test_configuration_passes_fail2bans_own_check(
    hardened: Callable[[str], Host], name: str
) -> None:
    check = hardened(name).run("fail2ban-client --test")
    assert check.rc == 0, f"{name}: fail2ban-client --test failed: {check.stderr}"
