"""common/banner, login_defaults, core_dumps, password_quality: what a login gets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, in_container, login_defs, role_vars


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("path", ["/etc/issue", "/etc/issue.net", "/etc/motd"])
def test_legal_banner_is_shown(hardened: Callable[[str], Host], name: str, path: str) -> None:
    host = hardened(name)
    assert host.file(path).content_string == role_vars(host)["common_banner_text"], (
        f"{name}: {path} is not the configured banner"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_login_defs_sets_umask_aging_and_hashing(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    defs = login_defs(host)
    expected = {
        "UMASK": v["common_umask"],
        "PASS_MAX_DAYS": str(v["common_password_max_days"]),
        "PASS_MIN_DAYS": str(v["common_password_min_days"]),
        "PASS_WARN_AGE": str(v["common_password_warn_age"]),
        "ENCRYPT_METHOD": "SHA512",
        "SHA_CRYPT_MIN_ROUNDS": str(v["common_password_hash_rounds"]),
    }
    wrong = {k: defs.get(k) for k, want in expected.items() if defs.get(k) != want}
    assert not wrong, f"{name}: /etc/login.defs differs from the role's values: {wrong}"


@pytest.mark.parametrize("name", HOSTS)
def test_a_login_shell_gets_umask_027_timeout_and_no_core_files(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    out = host.check_output("su - rampart -s /bin/bash -c 'umask; ulimit -c; echo $TMOUT'")
    umask, core, tmout = out.split()
    assert umask == f"0{v['common_umask']}", f"{name}: login shell umask is {umask}"
    assert core == "0", f"{name}: login shell core file limit is {core}"
    assert tmout == str(v["common_shell_timeout"]), f"{name}: TMOUT is {tmout}"


@pytest.mark.parametrize("name", HOSTS)
def test_existing_accounts_age_their_passwords(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    for user in v["common_password_aging_users"]:
        fields = host.check_output(f"getent shadow {user}").split(":")
        assert fields[3] == str(v["common_password_min_days"]), f"{name}: {user} min days"
        assert fields[4] == str(v["common_password_max_days"]), f"{name}: {user} max days"


@pytest.mark.parametrize("name", HOSTS)
def test_core_dumps_are_off(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    limits = host.file("/etc/security/limits.d/10-rampart-core-dumps.conf").content_string
    assert "hard    core    0" in limits, f"{name}: no hard core limit"
    assert "Storage=none" in host.file("/etc/systemd/coredump.conf.d/rampart.conf").content_string
    sysctl_file = host.file("/etc/sysctl.d/60-rampart-core-dumps.conf").content_string
    assert "fs.suid_dumpable = 0" in sysctl_file, f"{name}: suid_dumpable not configured"
    if not in_container(host):
        # Kernel-global: only a real host can (and must) have it live.
        live = host.check_output("sysctl -n fs.suid_dumpable")
        assert live == "0", f"{name}: fs.suid_dumpable is {live} live"


@pytest.mark.parametrize("name", HOSTS)
def test_weak_passwords_are_rejected(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    v = role_vars(host)
    conf = host.file("/etc/security/pwquality.conf").content_string
    assert f"minlen = {v['common_password_quality_minlen']}" in conf, f"{name}: minlen"
    assert "pam_pwquality.so" in host.file("/etc/pam.d/common-password").content_string, (
        f"{name}: pam_pwquality is not in the password stack"
    )
    weak = host.run("echo 'Short1!' | pwscore")
    assert weak.rc != 0, f"{name}: pwscore accepted a 7-character password"
    strong = host.run("echo 'Tr4ns-Lucent-Harbor-Quay-91' | pwscore")
    assert strong.rc == 0, f"{name}: pwscore rejected a strong password: {strong.stderr}"
