"""common/packages, purge and malware_scanner: what is installed, what is gone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, role_vars


@pytest.mark.parametrize("name", HOSTS)
def test_base_packages_are_installed(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    v = role_vars(host)
    missing = [p for p in v["common_packages"] + v["common_packages_extra"]
               if not host.package(p).is_installed]
    assert not missing, f"{name}: base packages not installed: {missing}"


@pytest.mark.parametrize("name", HOSTS)
def test_unneeded_packages_and_compilers_are_gone(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    present = [p for p in role_vars(host)["common_purge_packages"] if host.package(p).is_installed]
    assert not present, f"{name}: packages that should be purged are installed: {present}"
    for compiler in ("gcc", "cc", "g++", "make"):
        assert not host.exists(compiler), f"{name}: compiler {compiler} is on PATH"


@pytest.mark.parametrize("name", HOSTS)
def test_remaining_tool_chain_is_root_only(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    for path in role_vars(host)["common_restricted_binaries"]:
        f = host.file(path)
        if not f.exists:
            continue
        assert f.mode == 0o750 and f.user == "root", f"{name}: {path} mode {oct(f.mode)}"
        override = host.run(f"dpkg-statoverride --list {path}")
        assert override.rc == 0, f"{name}: {path} has no dpkg-statoverride (upgrades revert it)"


@pytest.mark.parametrize("name", HOSTS)
def test_malware_scanner_is_installed_when_enabled(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    installed = host.package(v["common_malware_scanner_package"]).is_installed
    assert installed == v["common_malware_scanner_enabled"], (
        f"{name}: {v['common_malware_scanner_package']} installed={installed}, "
        f"common_malware_scanner_enabled={v['common_malware_scanner_enabled']}"
    )


def test_the_daily_rootkit_scan_succeeds(hardened: Callable[[str], Host]) -> None:
    """The daily job itself, run now on one host: with no MTA on the host its report must go
    to the journal (a `mail` it cannot find failed the unit on every host, first run)."""
    host = hardened("app1")
    v = role_vars(host)
    if not v["common_malware_scanner_enabled"]:
        pytest.fail("the lab enables the malware scanner; this test needs it", pytrace=False)
    since = host.check_output("date +%s")
    run = host.run("timeout 300 systemctl start chkrootkit.service")
    result = host.check_output("systemctl show chkrootkit.service --property Result --value")
    journal = host.run(
        f"journalctl -u chkrootkit.service --since @{since} --no-pager -o cat | tail -n 20"
    ).stdout
    assert run.rc == 0 and result == "success", (
        f"app1: chkrootkit.service rc={run.rc} result={result}: {journal}"
    )
    assert "mail: not found" not in journal


@pytest.mark.parametrize("name", HOSTS)
def test_apt_uses_the_configured_proxy(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    proxy = role_vars(host)["common_apt_proxy"]
    dump = host.check_output("apt-config dump Acquire::http::Proxy")
    if proxy:
        assert f'"{proxy}"' in dump, f"{name}: APT proxy is not {proxy}: {dump!r}"
    else:
        assert not host.file("/etc/apt/apt.conf.d/01proxy").exists, f"{name}: stale proxy file"


@pytest.mark.parametrize("name", HOSTS)
def test_file_integrity_baseline_exists_with_strong_checksums(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    if not role_vars(host)["common_file_integrity_enabled"]:
        assert not host.package("aide").is_installed, f"{name}: AIDE installed though disabled"
        return
    assert host.file("/var/lib/aide/aide.db").exists, f"{name}: no AIDE baseline database"
    config = host.check_output("aide --config /etc/aide/aide.conf --config-check 2>&1 || true")
    assert "error" not in config.lower(), f"{name}: AIDE configuration: {config}"
    assert "sha512" in host.file("/etc/aide/aide.conf.d/10_rampart_checksums").content_string
