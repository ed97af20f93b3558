"""common/sudo, accounting, permissions: privilege use is logged, schedulers are closed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, in_container, role_vars


@pytest.mark.parametrize("name", HOSTS)
def test_sudo_configuration_is_valid_and_logs_to_its_file(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    check = host.run("visudo -c")
    assert check.rc == 0, f"{name}: sudoers do not validate: {check.stdout} {check.stderr}"
    marker = f"rampart-test-{uuid.uuid4().hex[:8]}"
    run = host.run(f"su - rampart -s /bin/bash -c 'sudo -n /bin/echo {marker}'")
    assert run.rc == 0, f"{name}: the admin user cannot use sudo: {run.stderr}"
    log = host.file(v["common_sudo_logfile"])
    assert log.exists and marker in log.content_string, (
        f"{name}: sudo use was not written to {v['common_sudo_logfile']}"
    )
    defaults = host.check_output("sudo -l -U rampart")
    assert "use_pty" in defaults, f"{name}: use_pty is not among sudo's Defaults: {defaults}"


@pytest.mark.parametrize("name", HOSTS)
def test_sysstat_collects_and_accounting_is_on_where_the_kernel_allows(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    sysstat = host.service("sysstat")
    assert sysstat.is_enabled and sysstat.is_running, f"{name}: sysstat not enabled/running"
    acct = host.service("acct")
    if in_container(host):
        # accton needs CAP_SYS_PACCT: off, and not failed (a failed unit degrades the host).
        assert not acct.is_enabled, f"{name}: acct enabled in a container (fails every boot)"
        state = host.run("systemctl is-failed acct").stdout.strip()
        assert state != "failed", f"{name}: acct.service is in the failed state"
    else:
        assert acct.is_enabled and acct.is_running, f"{name}: process accounting is off"


@pytest.mark.parametrize("name", HOSTS)
def test_only_allowed_users_may_schedule_jobs(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    allowed = role_vars(host)["common_cron_allow_users"]
    for path in ("/etc/cron.allow", "/etc/at.allow"):
        f = host.file(path)
        assert f.exists and f.mode == 0o600, f"{name}: {path} missing or mode {oct(f.mode)}"
        assert f.content_string.split() == allowed, f"{name}: {path} lists {f.content_string!r}"
    for path in ("/etc/crontab", "/etc/cron.d", "/etc/cron.daily"):
        f = host.file(path)
        assert f.mode & 0o077 == 0, f"{name}: {path} is readable by others ({oct(f.mode)})"


def test_the_system_is_not_degraded(hardened: Callable[[str], Host]) -> None:
    # A unit that cannot start in a container (acct, auditd) must not be left failed.
    degraded = {}
    for name in HOSTS:
        failed = hardened(name).run("systemctl --failed --no-legend --plain").stdout.strip()
        if failed:
            degraded[name] = failed
    assert not degraded, f"failed units after site.yml: {degraded}"
