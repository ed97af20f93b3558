"""roles/drift/files/rampart-drift.py without a host: what each check decides from the output
of sshd -T, /proc/sys, nft, aide and apt-get, and the metrics file node_exporter reads.

The script runs on managed hosts (standard library only) and has a dash in its name, so it is
loaded by path. Commands are replaced by recorded outputs; nothing here touches the machine.
"""

# ruff: noqa: S108  (the /tmp paths here are what AIDE reports, never files this test opens)
from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles/drift/files/rampart-drift.py"
FIREWALL_FILTERS = ROOT / "roles/firewall/filter_plugins/firewall_ruleset.py"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing resolve names through sys.modules
    spec.loader.exec_module(module)
    return module


drift: Any = _load(SCRIPT, "rampart_drift")
firewall: Any = _load(FIREWALL_FILTERS, "firewall_ruleset")


def completed(stdout: str = "", rc: int = 0, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], rc, stdout, stderr)


# --- sshd ----------------------------------------------------------------------------------

SSHD_T = """port 22
permitrootlogin no
passwordauthentication no
hostkey /etc/ssh/ssh_host_ed25519_key
hostkey /etc/ssh/ssh_host_rsa_key

"""


def test_sshd_settings_are_sorted_lines_with_repeated_keys_kept() -> None:
    settings = drift.sshd_settings(SSHD_T)
    assert settings == sorted(settings)
    assert settings.count("hostkey /etc/ssh/ssh_host_rsa_key") == 1
    assert len([s for s in settings if s.startswith("hostkey ")]) == 2
    assert "" not in settings


def test_sshd_same_settings_in_another_order_is_no_drift() -> None:
    baseline = drift.sshd_settings(SSHD_T)
    live = drift.sshd_settings("\n".join(reversed(SSHD_T.splitlines())))
    ok, detail = drift.check_sshd(baseline, live)
    assert ok, detail


def test_sshd_a_changed_setting_is_drift_and_named() -> None:
    baseline = drift.sshd_settings(SSHD_T)
    live = drift.sshd_settings(SSHD_T.replace("permitrootlogin no", "permitrootlogin yes"))
    ok, detail = drift.check_sshd(baseline, live)
    assert not ok
    assert "permitrootlogin yes" in detail and "permitrootlogin no" in detail, detail


def test_sshd_a_removed_host_key_is_drift() -> None:
    baseline = drift.sshd_settings(SSHD_T)
    live = drift.sshd_settings(SSHD_T.replace("hostkey /etc/ssh/ssh_host_rsa_key\n", ""))
    ok, detail = drift.check_sshd(baseline, live)
    assert not ok and "ssh_host_rsa_key" in detail, detail


def test_sshd_a_baseline_that_is_not_a_list_cannot_be_checked() -> None:
    with pytest.raises(drift.DriftError, match="sshd baseline"):
        drift.check_sshd({"permitrootlogin": "no"}, ["permitrootlogin no"])


# --- sysctl --------------------------------------------------------------------------------


def _proc(tmp_path: Path, values: dict[str, str]) -> Path:
    """A /proc/sys stand-in: one file per key, written the way the kernel shows it."""
    root = tmp_path / "proc-sys"
    for relative, value in values.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n", encoding="utf-8")
    return root


def test_sysctl_file_parsing(tmp_path: Path) -> None:
    conf = tmp_path / "90-rampart.conf"
    conf.write_text(
        "# comment\n; also a comment\n\n"
        "net.ipv4.tcp_syncookies = 1\n"
        "-net.ipv4.conf.all.rp_filter=1\n"  # '-': ignore a failure to set it; still expected
        "net.ipv4.ip_local_port_range =  32768\t60999 \n"
        "kernel.kptr_restrict = 1\n"
        "kernel.kptr_restrict = 2\n"  # the last one wins, as with sysctl --system
        "not a setting\n",
        encoding="utf-8")
    assert drift.sysctl_file(str(conf)) == {
        "net.ipv4.tcp_syncookies": "1",
        "net.ipv4.conf.all.rp_filter": "1",
        "net.ipv4.ip_local_port_range": "32768 60999",
        "kernel.kptr_restrict": "2",
    }


@pytest.mark.parametrize(("key", "relative"), [
    ("net.ipv4.tcp_syncookies", ["net/ipv4/tcp_syncookies"]),
    # The first separator a slash: the dot belongs to the interface name (a VLAN).
    ("net/ipv4/conf/eth0.1/rp_filter", ["net/ipv4/conf/eth0.1/rp_filter"]),
    ("net.ipv4.conf.*.rp_filter", ["net/ipv4/conf/all/rp_filter",
                                   "net/ipv4/conf/default/rp_filter",
                                   "net/ipv4/conf/eth0.1/rp_filter"]),
    ("net.ipv4.no_such_key", []),
])
def test_sysctl_keys_map_to_proc_sys_files(tmp_path: Path, key: str,
                                           relative: list[str]) -> None:
    root = _proc(tmp_path, {
        "net/ipv4/tcp_syncookies": "1",
        "net/ipv4/conf/all/rp_filter": "1",
        "net/ipv4/conf/default/rp_filter": "1",
        "net/ipv4/conf/eth0.1/rp_filter": "1",
    })
    assert drift.sysctl_paths(key, root) == [root / r for r in relative]


def test_sysctl_as_configured_is_ok_and_counts_the_keys(tmp_path: Path) -> None:
    root = _proc(tmp_path, {"net/ipv4/ip_local_port_range": "32768\t60999",
                            "kernel/kptr_restrict": "2"})
    ok, detail = drift.check_sysctl(
        {"net.ipv4.ip_local_port_range": "32768 60999", "kernel.kptr_restrict": "2"},
        root, container=False)
    assert ok, detail
    assert detail.startswith("2 sysctls"), detail


def test_sysctl_a_changed_value_is_drift_naming_key_live_and_wanted(tmp_path: Path) -> None:
    root = _proc(tmp_path, {"net/ipv4/tcp_syncookies": "0", "kernel/kptr_restrict": "2"})
    ok, detail = drift.check_sysctl(
        {"net.ipv4.tcp_syncookies": "1", "kernel.kptr_restrict": "2"}, root, container=False)
    assert not ok
    assert "net.ipv4.tcp_syncookies=0 (want 1)" in detail, detail
    assert "kptr_restrict" not in detail, detail


def test_sysctl_a_glob_key_checks_every_match(tmp_path: Path) -> None:
    """A glob used to be looked up as a literal path, which never exists: never checked."""
    root = _proc(tmp_path, {"net/ipv4/conf/all/rp_filter": "1",
                            "net/ipv4/conf/eth1/rp_filter": "0"})
    ok, detail = drift.check_sysctl({"net.ipv4.conf.*.rp_filter": "1"}, root, container=False)
    assert not ok and "net.ipv4.conf.eth1.rp_filter=0" in detail, detail


def test_sysctl_in_a_container_only_network_keys_count(tmp_path: Path) -> None:
    # Kernel-global keys are the machine's in a container: the role does not set them there.
    root = _proc(tmp_path, {"kernel/kptr_restrict": "0", "net/ipv4/tcp_syncookies": "1"})
    expected = {"kernel.kptr_restrict": "2", "net.ipv4.tcp_syncookies": "1"}
    ok, detail = drift.check_sysctl(expected, root, container=True)
    assert ok and detail.startswith("1 sysctls"), detail
    ok, detail = drift.check_sysctl(expected, root, container=False)
    assert not ok and "kernel.kptr_restrict=0" in detail, detail


# --- nftables ------------------------------------------------------------------------------

# `nft -s -j list table inet rampart_filter` of a small table shaped like the firewall role's
# (recorded from nft 1.0.6 and cut down): a static admin set, a dynamic rate meter, two chains.
LISTING: dict[str, Any] = {"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5",
                  "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "rampart_filter", "handle": 3}},
    {"set": {"family": "inet", "name": "ssh_admin_v4", "table": "rampart_filter",
             "type": "ipv4_addr", "handle": 3, "flags": ["interval"], "elem": ["10.77.0.1"]}},
    {"set": {"family": "inet", "name": "ssh_meter_v4", "table": "rampart_filter",
             "type": "ipv4_addr", "handle": 4, "size": 65535, "flags": ["timeout"],
             "timeout": 300}},
    {"chain": {"family": "inet", "table": "rampart_filter", "name": "input", "handle": 1,
               "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "rampart_filter", "name": "forward", "handle": 2,
               "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
    {"rule": {"family": "inet", "table": "rampart_filter", "chain": "input", "handle": 7,
              "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}},
                                  "right": ["established", "related"]}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "rampart_filter", "chain": "input", "handle": 8,
              "comment": "ssh",
              "expr": [{"match": {"op": "==", "left": {"payload": {
                  "protocol": "tcp", "field": "dport"}}, "right": 22}},
                  {"match": {"op": "==", "left": {"payload": {
                      "protocol": "ip", "field": "saddr"}}, "right": "@ssh_admin_v4"}},
                  {"accept": None}]}},
]}


def listing(change: Any = None) -> str:
    """LISTING as nft prints it, after `change(items)` edited a copy."""
    items = copy.deepcopy(LISTING)
    if change:
        change(items["nftables"])
    return json.dumps(items)


def _reloaded(items: list[dict[str, Any]]) -> None:
    """The same table loaded again: every handle renumbered, a newer nft's metainfo."""
    for item in items:
        for body in item.values():
            if isinstance(body, dict) and "handle" in body:
                body["handle"] += 40
    items[0]["metainfo"]["version"] = "1.0.9"


def _meter_filled(items: list[dict[str, Any]]) -> None:
    items[3]["set"]["elem"] = [{"elem": {"val": "10.77.0.1", "expires": 299}}]


def _port_opened(items: list[dict[str, Any]]) -> None:
    items.insert(6, {"rule": {"family": "inet", "table": "rampart_filter", "chain": "input",
                              "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {
                                  "protocol": "tcp", "field": "dport"}}, "right": 31337}},
                                  {"accept": None}]}})


def _chain_flushed(items: list[dict[str, Any]]) -> None:
    items[:] = [i for i in items if "rule" not in i]


def _admin_added(items: list[dict[str, Any]]) -> None:
    items[2]["set"]["elem"].append("203.0.113.7")


def _policy_accept(items: list[dict[str, Any]]) -> None:
    items[4]["chain"]["policy"] = "accept"


def _comment_changed(items: list[dict[str, Any]]) -> None:
    items[7]["rule"]["comment"] = "ssh (temporary)"


SAME = {"reloaded": _reloaded, "meter-filled": _meter_filled}
DIFFERENT = {"port-opened": _port_opened, "chain-flushed": _chain_flushed,
             "admin-added": _admin_added, "policy-accept": _policy_accept,
             "comment-changed": _comment_changed}


@pytest.mark.parametrize("change", SAME.values(), ids=SAME.keys())
def test_table_hash_ignores_handles_metainfo_and_meter_members(change: Any) -> None:
    assert drift.table_hash(listing(change)) == drift.table_hash(listing())


@pytest.mark.parametrize("change", DIFFERENT.values(), ids=DIFFERENT.keys())
def test_table_hash_changes_with_what_the_rules_are(change: Any) -> None:
    assert drift.table_hash(listing(change)) != drift.table_hash(listing())


@pytest.mark.parametrize("change", [*SAME.values(), *DIFFERENT.values()],
                         ids=[*SAME.keys(), *DIFFERENT.keys()])
def test_firewall_role_and_drift_check_agree_on_equal_tables(change: Any) -> None:
    """The firewall role reloads exactly when the drift check reports the table drifted; if
    they disagreed, a run would either leave drift in place or never settle."""
    drift_equal = drift.table_hash(listing(change)) == drift.table_hash(listing())
    role_equal = firewall.table_digest(listing(change)) == firewall.table_digest(listing())
    assert drift_equal == role_equal


@pytest.mark.parametrize(("text", "message"), [
    ("nft: command not found", "not `nft -j` output"),
    ('{"other": []}', "not `nft -j` output"),
    ('{"nftables": {}}', "not a list"),
    ('{"nftables": [{"metainfo": {}}]}', "holds no table"),
])
def test_firewall_digest_refuses_what_is_not_a_table_listing(text: str, message: str) -> None:
    with pytest.raises(firewall.RulesetListingError, match=re.escape(message)) as err:
        firewall.table_digest(text, "/etc/nftables.conf")
    assert "/etc/nftables.conf" in str(err.value)


NFT_CFG = {"config": "/etc/nftables.conf", "family": "inet", "table": "rampart_filter"}


@pytest.mark.parametrize(("live", "ok", "words"), [
    (completed(listing(_meter_filled)), True, "matches /etc/nftables.conf"),
    (completed(listing(_port_opened)), False, "differs from /etc/nftables.conf"),
    (completed("", 1, "Error: No such file or directory"), False, "is not loaded"),
])
def test_check_nftables(monkeypatch: pytest.MonkeyPatch, live: subprocess.CompletedProcess,
                        ok: bool, words: str) -> None:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: Any) -> subprocess.CompletedProcess:
        calls.append(argv)
        return live

    monkeypatch.setattr(drift, "run", fake_run)
    result = drift.check_nftables(NFT_CFG, drift.table_hash(listing()))
    assert result[0] is ok and words in result[1], result
    assert calls == [["nft", "-s", "-j", "list", "table", "inet", "rampart_filter"]]


# --- auditd --------------------------------------------------------------------------------


def test_auditd_a_changed_rules_file_is_drift_naming_it(tmp_path: Path) -> None:
    (tmp_path / "50-rampart.rules").write_text("-w /etc/shadow -p wa -k identity\n")
    (tmp_path / "99-finalize.rules").write_text("-e 2\n")
    baseline = {"files": drift.audit_files(str(tmp_path)), "loaded": None}
    (tmp_path / "99-finalize.rules").write_text("-e 1\n")  # rules made mutable again
    ok, detail = drift.check_auditd({"rules_dir": str(tmp_path),
                                     "rules_file": "/etc/audit/audit.rules"}, baseline)
    assert not ok and "99-finalize.rules" in detail and "50-rampart" not in detail, detail


# --- aide ----------------------------------------------------------------------------------

IGNORE = ["/run/", "/tmp/", "/var/tmp/", "/var/log/"]
AIDE_SUMMARIZED = """Start timestamp: 2026-12-05 10:00:01 +0000 (AIDE 0.18.3)
AIDE found differences between database and filesystem!!

Summary:
  Total number of entries:	41234
  Added entries:		2
  Removed entries:		1
  Changed entries:		2

---------------------------------------------------
Added entries:
---------------------------------------------------

f++++++++++++++++: /var/log/syslog.1
f++++++++++++++++: /usr/local/bin/backdoor

---------------------------------------------------
Removed entries:
---------------------------------------------------

f----------------: /tmp/build.lock

---------------------------------------------------
Changed entries:
---------------------------------------------------

d   ...    mc.. .. : /var/tmp
f   ...    .C... : /etc/passwd

---------------------------------------------------
Detailed information about changes:
---------------------------------------------------

File: /etc/passwd
 SHA512    : AbCd... | EfGh...
"""
AIDE_PLAIN = """AIDE found differences between database and filesystem!!
added: /var/log/new.log
removed: /usr/bin/sudo
changed: /run/utmp
"""


def test_aide_entries_are_read_in_both_report_formats() -> None:
    assert drift.aide_entries(AIDE_SUMMARIZED) == sorted([
        "/var/log/syslog.1", "/usr/local/bin/backdoor", "/tmp/build.lock", "/var/tmp",
        "/etc/passwd"])
    # report_summarize_changes=no prints "added: /x" / "removed: /x" / "changed: /x".
    assert drift.aide_entries(AIDE_PLAIN) == ["/run/utmp", "/usr/bin/sudo", "/var/log/new.log"]


def test_aide_clean_check_is_ok() -> None:
    assert drift.aide_verdict(0, "AIDE found NO differences", "", IGNORE) == (True, [])


def test_aide_differences_outside_the_ignored_paths_are_drift() -> None:
    ok, summary = drift.aide_verdict(7, AIDE_SUMMARIZED, "", IGNORE)
    assert not ok
    assert summary[:2] == ["/etc/passwd", "/usr/local/bin/backdoor"], summary
    # /var/log/…, /tmp/…, /var/tmp
    assert "(3 under ignored paths or only their times changed)" in summary, summary


def test_aide_only_ignored_paths_is_ok_and_says_how_many() -> None:
    text = "f++++++++++++++++: /var/log/a\nd   ...    mc.. .. : /var/tmp\nchanged: /run/x\n"
    assert drift.aide_verdict(5, text, "", IGNORE) == (
        True, ["(3 under ignored paths or only their times changed)"])


def test_aide_a_file_written_back_identically_is_not_drift_but_a_changed_one_is() -> None:
    text = ("f =.... mci.... . : /etc/login.defs\n"  # restored by a converge: as recorded
            "f =.... mci.H.. . : /etc/sudoers\n"  # same size, other content
            "f =.p.. .c..... . : /etc/shadow\n")  # mode
    ok, summary = drift.aide_verdict(4, text, "", IGNORE)
    assert not ok and summary[:2] == ["/etc/shadow", "/etc/sudoers"], summary


@pytest.mark.parametrize("path", ["/var/tmpfiles", "/runaway", "/var/logs/x"])
def test_aide_ignore_prefixes_end_at_a_directory_boundary(path: str) -> None:
    ok, summary = drift.aide_verdict(1, f"f++++++++++++++++: {path}\n", "", IGNORE)
    assert not ok and summary == [path]


def test_aide_many_differences_are_summarised() -> None:
    text = "".join(f"f++++++++++++++++: /usr/bin/tool{i:02d}\n" for i in range(13))
    ok, summary = drift.aide_verdict(1, text, "", IGNORE)
    assert not ok and len(summary) == 11 and summary[-1] == "(+3 more)", summary


@pytest.mark.parametrize(("rc", "stdout", "stderr", "words"), [
    # Differences reported but no entry readable (another report format): never clean.
    (4, "AIDE found differences between database and filesystem!!\n", "", "listed no entry"),
    (17, "", "Configuration error: unknown attribute 'Foo'\n", "aide error 17"),
    (18, "", "cannot open database file\n", "cannot open database"),
    (-9, "", "", "killed by signal 9"),
    (9, "", "", "unknown exit code 9"),
])
def test_aide_errors_and_unreadable_reports_are_not_ok(rc: int, stdout: str, stderr: str,
                                                      words: str) -> None:
    ok, summary = drift.aide_verdict(rc, stdout, stderr, IGNORE)
    assert not ok and any(words in line for line in summary), summary


AIDE_CFG = {"config": "/etc/aide/aide.conf", "timeout": 60, "ignore": IGNORE, "max_age": 3600}


def test_run_aide_keeps_the_verdict_privately(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setattr(drift, "run", lambda argv, **_: completed(AIDE_SUMMARIZED, 7))
    assert drift.run_aide(AIDE_CFG, tmp_path) == 0
    kept = json.loads((tmp_path / "aide.json").read_text())
    assert kept["rc"] == 7 and kept["ok"] is False and "/etc/passwd" in kept["summary"]
    assert stat.S_IMODE((tmp_path / "aide.json").stat().st_mode) == 0o600


def test_run_aide_records_a_check_that_could_not_run(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    def missing(argv: list[str], **_: Any) -> subprocess.CompletedProcess:
        raise drift.DriftError("aide is not installed")

    monkeypatch.setattr(drift, "run", missing)
    drift.run_aide(AIDE_CFG, tmp_path)
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path)
    assert not ok and "aide is not installed" in detail, detail


def _aide_result(state: Path, when: float, ok: bool = True, rc: int = 0,
                 summary: list[str] | None = None) -> None:
    (state / "aide.json").write_text(json.dumps(
        {"time": when, "rc": rc, "ok": ok, "summary": summary or []}))


def test_check_aide_without_a_result_is_not_ok(tmp_path: Path) -> None:
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path)
    assert not ok and "no AIDE check has run yet" in detail


def test_check_aide_fresh_clean_result_is_ok(tmp_path: Path) -> None:
    _aide_result(tmp_path, 1_000_000.0)
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path, now=1_000_000.0 + 3599)
    assert ok, detail


def test_check_aide_stale_clean_result_is_not_ok(tmp_path: Path) -> None:
    _aide_result(tmp_path, 1_000_000.0)
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path, now=1_000_000.0 + 3601)
    assert not ok and "stale" in detail and "3601 s" in detail, detail


def test_check_aide_result_from_the_future_is_not_ok(tmp_path: Path) -> None:
    _aide_result(tmp_path, 1_000_000.0 + 86_400)
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path, now=1_000_000.0)
    assert not ok and "future" in detail, detail


def test_check_aide_reports_what_aide_found(tmp_path: Path) -> None:
    _aide_result(tmp_path, 1_000_000.0, ok=False, rc=4, summary=["/etc/passwd"])
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path, now=1_000_000.0)
    assert not ok and detail == "aide --check exited 4: /etc/passwd"


def test_aide_made_reads_as_a_fresh_clean_check(tmp_path: Path) -> None:
    drift.aide_made(tmp_path)
    ok, detail = drift.check_aide(AIDE_CFG, tmp_path)
    assert ok, detail


# --- upgrades ------------------------------------------------------------------------------

APT_S = """NOTE: This is only a simulation!
Reading package lists...
Inst openssl [3.0.11-1~deb12u1] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst libapache2-mod-security2 [2.9.7-1] (2.9.7-1+b1 Debian:12.5/stable [amd64])
Inst tzdata [2024a-0+deb12u1] (2024b-0+deb12u1 Debian:12.8/stable, Debian-Security:12/stable-security [all])
Inst libssl3 [3.0.11-1] (3.0.13-1 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64]) []
Inst newpkg (1.0 Debian:12.8/stable [amd64])
Conf openssl (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])
"""  # noqa: E501 (apt's lines, verbatim)


def test_parse_upgrades_counts_security_by_archive_not_by_package_name() -> None:
    every, security = drift.parse_upgrades(APT_S)
    assert every == ["openssl", "libapache2-mod-security2", "tzdata", "libssl3", "newpkg"]
    assert security == ["openssl", "tzdata", "libssl3"]


UPGRADE_CFG = {"grace_seconds": 3600}


def test_upgrades_pending_within_grace_are_ok_and_remembered(tmp_path: Path) -> None:
    (result, pending, security) = drift.check_upgrades(
        UPGRADE_CFG, tmp_path, (["openssl", "vim"], ["openssl"]), now=1000.0)
    assert result[0] and (pending, security) == (2, 1), result
    assert json.loads((tmp_path / "security-upgrades.json").read_text()) == {"openssl": 1000.0}


def test_a_security_upgrade_pending_past_grace_is_drift(tmp_path: Path) -> None:
    drift.check_upgrades(UPGRADE_CFG, tmp_path, (["openssl"], ["openssl"]), now=1000.0)
    result, _, _ = drift.check_upgrades(
        UPGRADE_CFG, tmp_path, (["openssl", "zlib1g"], ["openssl", "zlib1g"]), now=4601.0)
    assert not result[0] and "['openssl']" in result[1], result  # zlib1g: just seen


def test_an_installed_upgrade_is_forgotten(tmp_path: Path) -> None:
    drift.check_upgrades(UPGRADE_CFG, tmp_path, (["openssl"], ["openssl"]), now=1000.0)
    drift.check_upgrades(UPGRADE_CFG, tmp_path, ([], []), now=2000.0)
    # The same package pending again later starts a new grace period.
    result, _, _ = drift.check_upgrades(
        UPGRADE_CFG, tmp_path, (["openssl"], ["openssl"]), now=9000.0)
    assert result[0], result


def test_a_corrupt_upgrade_record_cannot_be_checked(tmp_path: Path) -> None:
    (tmp_path / "security-upgrades.json").write_text("[1, 2]")
    with pytest.raises(drift.DriftError, match="not a JSON object"):
        drift.check_upgrades(UPGRADE_CFG, tmp_path, ([], []), now=1.0)


# --- metrics and files ---------------------------------------------------------------------

_SAMPLE = re.compile(r'^[a-z_]+(\{check="[a-z]+"\})? -?[0-9.]+$')


def test_metrics_text_is_valid_exposition_format() -> None:
    text = drift.metrics({"sshd": (True, "x"), "aide": (False, "y")}, 12, 3, now=1700000000.5)
    lines = text.splitlines()
    assert text.endswith("\n")
    assert 'rampart_drift_check_ok{check="sshd"} 1' in lines
    assert 'rampart_drift_check_ok{check="aide"} 0' in lines
    assert "rampart_drift_last_run_timestamp_seconds 1700000000.500" in lines
    assert "rampart_drift_pending_upgrades 12" in lines
    assert "rampart_drift_pending_security_upgrades 3" in lines
    for line in lines:
        assert line.startswith(("# HELP ", "# TYPE ")) or _SAMPLE.match(line), line
    helped = {ln.split()[2] for ln in lines if ln.startswith("# HELP ")}
    typed = {ln.split()[2] for ln in lines if ln.startswith("# TYPE ")}
    sampled = {re.split(r"[{ ]", ln)[0] for ln in lines if not ln.startswith("#")}
    assert helped == typed == sampled


def test_metrics_without_an_upgrades_check_have_no_upgrade_series() -> None:
    text = drift.metrics({"sshd": (True, "x")}, None, None, now=1.0)
    assert "pending" not in text


def test_write_atomic_replaces_the_file_whole_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "rampart_drift.prom"
    target.write_text("old\n")
    with target.open() as reader:  # a reader that opened the old file keeps reading it whole
        drift.write_atomic(target, "new\n", 0o644)
        assert reader.read() == "old\n"
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rampart_drift.prom"]


def test_write_atomic_failure_leaves_the_old_file_and_no_temporary(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "rampart_drift.prom"
    target.write_text("old\n")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(drift.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        drift.write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rampart_drift.prom"]


# --- record, check, main -------------------------------------------------------------------


def _config(tmp_path: Path, checks: list[str]) -> dict[str, Any]:
    state, textfiles = tmp_path / "state", tmp_path / "textfile"
    state.mkdir()
    textfiles.mkdir()
    sysctl = tmp_path / "90-rampart.conf"
    sysctl.write_text("net.ipv4.tcp_syncookies = 1\n")
    return {"checks": checks, "state_dir": str(state), "textfile_dir": str(textfiles),
            "sysctl_file": str(sysctl), "aide": AIDE_CFG, "upgrades": UPGRADE_CFG}


def test_record_writes_the_baseline_once(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, ["sysctl"])
    assert drift.record(cfg) == 0
    assert drift.record(cfg) == 0
    assert capsys.readouterr().out.split() == ["changed", "unchanged"]
    baseline = Path(cfg["state_dir"]) / "baseline.json"
    assert json.loads(baseline.read_text()) == {"sysctl": {"net.ipv4.tcp_syncookies": "1"}}
    assert stat.S_IMODE(baseline.stat().st_mode) == 0o600


def test_check_without_a_baseline_reports_0_and_still_writes_metrics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, ["sshd", "aide"])
    drift.aide_made(Path(cfg["state_dir"]))
    assert drift.check(cfg) == 0
    prom = (Path(cfg["textfile_dir"]) / "rampart_drift.prom").read_text()
    assert 'rampart_drift_check_ok{check="sshd"} 0' in prom
    assert 'rampart_drift_check_ok{check="aide"} 1' in prom
    status = json.loads((Path(cfg["state_dir"]) / "status.json").read_text())
    assert "no baseline recorded" in status["sshd"]["detail"]
    assert "DRIFT sshd:" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["{not json", "[]"])
def test_check_with_an_unreadable_baseline_still_writes_metrics(tmp_path: Path,
                                                                content: str) -> None:
    """A corrupt baseline used to stop the run before any metric was written (the alert
    then only saw the file go stale): now the checks that need it say why they are 0."""
    cfg = _config(tmp_path, ["sysctl", "aide"])
    (Path(cfg["state_dir"]) / "baseline.json").write_text(content)
    drift.aide_made(Path(cfg["state_dir"]))
    assert drift.check(cfg) == 0
    prom = (Path(cfg["textfile_dir"]) / "rampart_drift.prom").read_text()
    assert 'rampart_drift_check_ok{check="sysctl"} 0' in prom
    assert 'rampart_drift_check_ok{check="aide"} 1' in prom
    status = json.loads((Path(cfg["state_dir"]) / "status.json").read_text())
    assert "unreadable" in status["sysctl"]["detail"], status


def test_check_with_a_baseline_of_the_wrong_shape_reports_0(tmp_path: Path) -> None:
    cfg = _config(tmp_path, ["sysctl"])
    (Path(cfg["state_dir"]) / "baseline.json").write_text('{"sysctl": ["not", "a", "map"]}')
    assert drift.check(cfg) == 0
    status = json.loads((Path(cfg["state_dir"]) / "status.json").read_text())
    assert status["sysctl"]["ok"] is False and "wrong shape" in status["sysctl"]["detail"]


@pytest.mark.parametrize(("content", "words"), [
    (None, "cannot read"),
    ("{not json", "cannot read"),
    ("[]", "not a configuration object"),
    ('{"checks": "sshd"}', "not a configuration object"),
    ('{"checks": ["sshd", "selinux"]}', "unknown checks ['selinux']"),
])
def test_main_refuses_a_bad_configuration_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None,
        words: str) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    assert drift.main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and words in err, err
    assert not os.listdir(tmp_path) or os.listdir(tmp_path) == ["config.json"]


# --- aide-accept: the database takes what the converge changed, never more -----------------


@pytest.fixture
def converge(tmp_path: Path) -> dict[str, Any]:
    """A file system root with files from before the converge, the converge's start marker,
    and AIDE's configuration and databases (aide itself is replaced per test)."""
    root = tmp_path / "root"
    (root / "etc" / "old").mkdir(parents=True)
    (root / "etc" / "old" / "kept.conf").write_text("before\n")
    (root / "etc" / "ssh").mkdir()
    (root / "etc" / "ssh" / "sshd_config").write_text("PermitRootLogin no\n")
    (root / "var" / "log").mkdir(parents=True)
    aide = tmp_path / "aide"
    aide.mkdir()
    (aide / "aide.db").write_text("old database\n")
    config = aide / "aide.conf"
    config.write_text(f"database_in=file:{aide}/aide.db\ndatabase_out=file:{aide}/aide.db.new\n")
    marker = tmp_path / "converge-started"
    marker.write_text("")
    # ctime cannot be set: the marker's mtime is set just after the old files' ctimes.
    since = max(os.lstat(p).st_ctime for p in root.rglob("*")) + 0.001
    os.utime(marker, (since, since))
    time.sleep(0.05)  # file times come from a coarse clock: later writes are newer than it
    state = tmp_path / "state"
    state.mkdir()
    cfg = {"config": str(config), "timeout": 60, "max_age": 3600,
           "ignore": [f"{root}/var/log/"]}
    return {"root": root, "aide": aide, "marker": marker, "state": state, "cfg": cfg}


def _written_by_the_converge(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _accept(c: dict[str, Any], monkeypatch: pytest.MonkeyPatch, aide_stdout: str, rc: int,
            capsys: pytest.CaptureFixture[str]) -> tuple[str, list[list[str]]]:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: Any) -> subprocess.CompletedProcess:
        calls.append(argv)
        (c["aide"] / "aide.db.new").write_text("new database\n")
        return completed(aide_stdout, rc)

    monkeypatch.setattr(drift, "run", fake_run)
    assert drift.aide_accept(c["cfg"], c["state"], c["marker"], str(c["root"])) == 0
    return capsys.readouterr().out, calls


def test_changed_since_lists_what_changed_after_the_marker_outside_ignored_paths(
    converge: dict[str, Any]
) -> None:
    root = converge["root"]
    since = converge["marker"].stat().st_mtime
    _written_by_the_converge(root / "etc" / "new.conf", "x")
    _written_by_the_converge(root / "var" / "log" / "syslog", "noise")
    found = drift.changed_since(since, converge["cfg"]["ignore"], str(root))
    assert f"{root}/etc/new.conf" in found and f"{root}/etc" in found  # the file, its directory
    assert f"{root}/etc/old/kept.conf" not in found
    assert not [p for p in found if p.startswith(f"{root}/var/log/")], found


def test_the_converges_own_changes_are_taken_into_the_database(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = converge["root"]
    _written_by_the_converge(root / "etc" / "rampart" / "app.conf", "new")
    (root / "etc" / "old" / "kept.conf").unlink()  # removed by the converge: its dir changed
    report = (f"f++++++++++++++++: {root}/etc/rampart/app.conf\n"
              f"f----------------: {root}/etc/old/kept.conf\n"
              f"d   ...    .C... : {root}/etc\n")
    out, calls = _accept(converge, monkeypatch, report, 7, capsys)
    assert calls and calls[0][:2] == ["aide", "--update"]
    assert (converge["aide"] / "aide.db").read_text() == "new database\n"
    assert not (converge["aide"] / "aide.db.new").exists()
    result = json.loads((converge["state"] / "aide.json").read_text())
    assert result["ok"] and "3 entries" in result["summary"][0]
    assert out.splitlines()[-1] == "changed"
    assert not converge["marker"].exists(), "the marker is used once"


def test_a_change_from_before_the_converge_keeps_the_old_database_and_is_drift(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sshd_config was edited before the converge began (its ctime is older than the
    marker): the converge must not bless it, even beside changes of its own."""
    root = converge["root"]
    _written_by_the_converge(root / "etc" / "rampart" / "app.conf", "new")
    report = (f"f++++++++++++++++: {root}/etc/rampart/app.conf\n"
              f"f   ...    .C... : {root}/etc/ssh/sshd_config\n")
    out, _calls = _accept(converge, monkeypatch, report, 5, capsys)
    assert (converge["aide"] / "aide.db").read_text() == "old database\n"
    assert not (converge["aide"] / "aide.db.new").exists()
    result = json.loads((converge["state"] / "aide.json").read_text())
    assert not result["ok"]
    assert f"{root}/etc/ssh/sshd_config" in result["summary"]
    assert f"{root}/etc/rampart/app.conf" not in result["summary"]
    ok, detail = drift.check_aide(converge["cfg"], converge["state"])
    assert not ok and "sshd_config" in detail
    # The converge changed nothing by keeping the database: a second converge of a drifted
    # host stays idempotent, and the difference is said (the role shows the AIDE: line).
    assert out.splitlines()[-1] == "unchanged"
    assert any(line.startswith("AIDE: ") and "sshd_config" in line for line in out.splitlines())


def test_a_removed_file_whose_directory_the_converge_did_not_touch_is_drift(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = converge["root"]
    _written_by_the_converge(root / "etc" / "rampart" / "app.conf", "new")
    report = (f"f++++++++++++++++: {root}/etc/rampart/app.conf\n"
              f"f----------------: {root}/usr/bin/gone\n")
    _accept(converge, monkeypatch, report, 3, capsys)
    assert (converge["aide"] / "aide.db").read_text() == "old database\n"
    assert f"{root}/usr/bin/gone" in json.loads(
        (converge["state"] / "aide.json").read_text())["summary"]


def test_without_a_marker_or_a_change_aide_does_not_run(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, calls = _accept(converge, monkeypatch, "", 0, capsys)  # nothing changed since
    assert calls == [] and out.splitlines()[-1] == "unchanged"
    assert not (converge["state"] / "aide.json").exists()
    converge["marker"].unlink(missing_ok=True)
    _written_by_the_converge(converge["root"] / "etc" / "new.conf", "x")
    out, calls = _accept(converge, monkeypatch, "", 0, capsys)  # no converge marked
    assert calls == [] and out.splitlines()[-1] == "unchanged"


@pytest.mark.parametrize("rc, stdout", [
    (17, "Couldn't open file /var/lib/aide/aide.db for reading\n"),  # aide's own error
    (4, "a report this checker cannot read\n"),  # differences, no entry listed
    (-9, ""),  # killed
])
def test_an_update_that_failed_or_cannot_be_read_is_never_taken(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    rc: int, stdout: str,
) -> None:
    _written_by_the_converge(converge["root"] / "etc" / "new.conf", "x")
    out, _calls = _accept(converge, monkeypatch, stdout, rc, capsys)
    assert out.splitlines()[-1] == "unchanged" and out.startswith("AIDE: ")
    assert (converge["aide"] / "aide.db").read_text() == "old database\n"
    assert not (converge["aide"] / "aide.db.new").exists()
    assert not json.loads((converge["state"] / "aide.json").read_text())["ok"]


def test_the_databases_come_from_aides_configuration(tmp_path: Path) -> None:
    config = tmp_path / "aide.conf"
    config.write_text("# Debian\ndatabase_in=file:/var/lib/aide/aide.db\n"
                      "database_out = file:/var/lib/aide/aide.db.new\n")
    assert drift.aide_databases(str(config)) == (Path("/var/lib/aide/aide.db"),
                                                  Path("/var/lib/aide/aide.db.new"))
    config.write_text("database_in=file:/var/lib/aide/aide.db\n")
    with pytest.raises(drift.DriftError, match="database_out"):
        drift.aide_databases(str(config))


def test_an_aide_check_waits_while_the_database_is_being_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer's check must never read the old database and then write its result over
    the converge's: it waits for the lock the update (and aideinit) holds."""
    import threading

    monkeypatch.setattr(drift, "run", lambda argv, **_: completed("", 0))
    cfg = {"config": "/etc/aide/aide.conf", "timeout": 60, "max_age": 3600, "ignore": []}
    done = threading.Event()
    with drift.aide_lock(tmp_path):
        checker = threading.Thread(target=lambda: (drift.run_aide(cfg, tmp_path), done.set()))
        checker.start()
        assert not done.wait(0.5), "the check ran while the database was being replaced"
        assert not (tmp_path / "aide.json").exists()
    assert done.wait(5), "the check did not run once the lock was free"
    checker.join()
    assert json.loads((tmp_path / "aide.json").read_text())["ok"]


def _marker_with(c: dict[str, Any], dirty: list[str], age: float = 0.0) -> None:
    since = c["marker"].stat().st_mtime - age
    c["marker"].write_text(json.dumps({"time": since, "dirty": dirty}))
    os.utime(c["marker"], (since, since))


def test_a_file_edited_before_the_converge_is_not_blessed_when_the_converge_chmods_it(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attacker edits a managed file and loosens its mode; the converge only puts the mode
    back (its ctime is then the converge's). converge-start had listed the file as already
    differing from the database: never sanctioned."""
    root = converge["root"]
    edited = root / "etc" / "ssh" / "sshd_config"
    _marker_with(converge, [str(edited)])
    edited.chmod(0o600)  # the converge's mode fix: a ctime inside the window
    report = f"f   ...    .C... : {edited}\n"
    _accept(converge, monkeypatch, report, 4, capsys)
    assert (converge["aide"] / "aide.db").read_text() == "old database\n"
    assert str(edited) in json.loads((converge["state"] / "aide.json").read_text())["summary"]


def test_a_removed_tree_is_explained_by_its_nearest_remaining_directory(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = converge["root"]
    (root / "etc" / "old" / "kept.conf").unlink()
    (root / "etc" / "old").rmdir()  # a purged package's directory, removed by the converge
    report = (f"f----------------: {root}/etc/old/kept.conf\n"
              f"d----------------: {root}/etc/old\n")
    out, _calls = _accept(converge, monkeypatch, report, 2, capsys)
    assert (converge["aide"] / "aide.db").read_text() == "new database\n", out


@pytest.mark.parametrize("name", ["evil ", "ev\til"])
def test_an_added_file_whose_name_hides_in_the_report_is_never_taken_as_removed(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    """AIDE prints names unescaped; a trailing space must stay part of the path (stripping it
    made an existing added file look removed, and so explained by its touched directory)."""
    root = converge["root"]
    sudoers = root / "etc" / "sudoers.d"
    _written_by_the_converge(sudoers / "20-rampart-admin", "converge")  # dir touched now
    (sudoers / name).write_text("ALL ALL=(ALL) NOPASSWD: ALL\n")
    _marker_with(converge, [str(sudoers / name)])  # it was there before the converge
    report = (f"f++++++++++++++++: {sudoers}/20-rampart-admin\n"
              f"f++++++++++++++++: {sudoers}/{name}\n")
    _accept(converge, monkeypatch, report, 1, capsys)
    assert (converge["aide"] / "aide.db").read_text() == "old database\n"


def test_a_stale_marker_accepts_nothing(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _marker_with(converge, [], age=drift.MARKER_MAX_AGE + 60)
    _written_by_the_converge(converge["root"] / "etc" / "new.conf", "x")
    out, calls = _accept(converge, monkeypatch, "", 0, capsys)
    assert calls == [] and "not this converge's" in out and out.splitlines()[-1] == "unchanged"
    assert not converge["marker"].exists()


def test_converge_start_lists_what_already_differs_from_the_database(
    converge: dict[str, Any]
) -> None:
    root, aide = converge["root"], converge["aide"]
    db_time = (aide / "aide.db").stat().st_mtime
    time.sleep(0.05)
    _written_by_the_converge(root / "etc" / "ssh" / "sshd_config", "PermitRootLogin yes\n")
    assert drift.converge_start(converge["cfg"], converge["marker"], str(root)) == 0
    since, dirty = drift.read_marker(converge["marker"])
    assert since > db_time and f"{root}/etc/ssh/sshd_config" in dirty
    assert f"{root}/etc/old/kept.conf" not in dirty


def test_pseudo_file_systems_are_not_walked_and_other_partitions_are(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / /proc rw - proc proc rw\n"
        "30 1 8:2 / /boot rw,relatime - ext4 /dev/sda2 rw\n"
        "31 1 8:3 / /var rw,relatime - xfs /dev/sda3 rw\n"
        "40 31 0:40 / /var/lib/rampart-drill/disk rw - tmpfs tmpfs rw\n"
        "41 1 0:41 / /mnt/my\\040disk rw - fuse.sshfs host: rw\n")
    assert drift.pseudo_mounts(str(info)) == {"/proc", "/var/lib/rampart-drill/disk",
                                              "/mnt/my disk"}


@pytest.mark.parametrize("flags, taken", [
    ("f =.... mci.... . ", True),  # rewritten identically (AIDE 0.18's own line)
    ("d =.... mc.. .. . ", True),
    ("f <.... mci.H.. . ", False),  # smaller, another hash
    ("f =.... mci.H.. . ", False),  # same size, another hash
    ("f   ...    mci.. ", True),
    ("f   ...    mci.C ", False),  # content
    ("f   .p.    .c... ", False),  # mode
    ("f   ..u    .c... ", False),  # owner
    ("f   >..    mci.. ", False),  # size
    ("changed", False),  # no summary: nothing says only times changed
])
def test_a_file_as_recorded_but_for_its_times_is_taken_even_if_edited_before(
    converge: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    flags: str, taken: bool,
) -> None:
    """Someone edits a managed file and the converge writes it back: its content, mode and
    owner are as AIDE recorded them, only its times and inode moved. That is no drift."""
    root = converge["root"]
    restored = root / "etc" / "ssh" / "sshd_config"
    _marker_with(converge, [str(restored)])  # edited by hand before the converge
    _written_by_the_converge(restored, "PermitRootLogin no\n")  # and written back
    _accept(converge, monkeypatch, f"{flags}: {restored}\n", 4, capsys)
    got = (converge["aide"] / "aide.db").read_text()
    assert got == ("new database\n" if taken else "old database\n"), flags
