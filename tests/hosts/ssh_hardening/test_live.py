"""ssh_hardening, live: what a client actually meets on the wire (from the controller)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, STATE, address, role_vars, ssh_audit, ssh_from_controller

KEY = ["-o", "IdentitiesOnly=yes", "-i", str(STATE / "id_ed25519")]


@pytest.mark.parametrize("name", HOSTS)
def test_admin_logs_in_with_the_key_and_has_sudo(
    hardened: Callable[[str], Host], name: str
) -> None:
    done = ssh_from_controller(address(hardened(name)), *KEY, command="sudo -n id -u")
    assert done.returncode == 0, f"{name}: admin key login failed: {done.stderr}"
    assert done.stdout.strip().endswith("0"), f"{name}: sudo did not give root: {done.stdout}"


@pytest.mark.parametrize("name", HOSTS)
def test_password_login_is_refused(hardened: Callable[[str], Host], name: str) -> None:
    done = ssh_from_controller(
        address(hardened(name)),
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password,keyboard-interactive",
    )
    assert done.returncode == 255, f"{name}: a login without key did not fail: {done.stderr}"
    # The server offers nothing but publickey, so no password can ever be tried.
    assert "Permission denied (publickey)" in done.stderr, f"{name}: {done.stderr!r}"


@pytest.mark.parametrize("name", HOSTS)
def test_root_login_is_refused_even_with_an_authorized_key(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    public_key = (STATE / "id_ed25519.pub").read_text().strip()
    # Give root the admin key for the duration of the test: only sshd's policy can refuse.
    host.check_output(
        "install -d -m 700 /root/.ssh && cp -a /root/.ssh/authorized_keys "
        "/root/.ssh/authorized_keys.rampart-test 2>/dev/null; "
        f"echo '{public_key}' >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys"
    )
    try:
        done = ssh_from_controller(address(host), *KEY, user="root")
    finally:
        host.check_output(
            "if [ -e /root/.ssh/authorized_keys.rampart-test ]; then "
            "mv /root/.ssh/authorized_keys.rampart-test /root/.ssh/authorized_keys; "
            "else rm -f /root/.ssh/authorized_keys; fi"
        )
    assert done.returncode == 255, f"{name}: root logged in over SSH: {done.stdout}"
    assert "Permission denied" in done.stderr, f"{name}: unexpected refusal: {done.stderr!r}"


@pytest.mark.parametrize("name", HOSTS)
def test_ssh_audit_reports_no_failure_and_no_warning(
    hardened: Callable[[str], Host], name: str
) -> None:
    report = ssh_audit(address(hardened(name)))
    problems = [
        f"{kind} {algorithm['algorithm']}: {level} {notes}"
        for kind in ("kex", "key", "enc", "mac")
        for algorithm in report.get(kind, [])
        for level, notes in algorithm.get("notes", {}).items()
        if level in ("fail", "warn")
    ]
    assert not problems, f"{name}: ssh-audit findings: {problems}"
    assert not report.get("cves"), f"{name}: ssh-audit lists CVEs: {report['cves']}"


@pytest.mark.parametrize("name", HOSTS)
def test_running_daemon_offers_exactly_the_configured_algorithms(
    hardened: Callable[[str], Host], name: str
) -> None:
    # The live daemon, not the file: proves the last change was loaded (handlers ran).
    host = hardened(name)
    v = role_vars(host)
    report = ssh_audit(address(host))
    offered = {kind: [a["algorithm"] for a in report.get(kind, [])]
               for kind in ("kex", "key", "enc", "mac")}
    offered["kex"] = [a for a in offered["kex"] if not a.startswith("kex-strict-")]
    expected = {
        "kex": v["ssh_hardening_kex_algorithms"],
        "key": v["ssh_hardening_host_key_algorithms"],
        "enc": v["ssh_hardening_ciphers"],
        "mac": v["ssh_hardening_macs"],
    }
    wrong = {k: (offered[k], expected[k]) for k in expected if offered[k] != expected[k]}
    assert not wrong, f"{name}: live sshd offers (offered, configured): {wrong}"
