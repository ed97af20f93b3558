"""auditd: the CIS-style rules and auditd.conf are written everywhere; on a real host they
are loaded and auditd runs, inside a container auditd stays off (and not failed)."""

from __future__ import annotations

from collections.abc import Callable

import lab_support
import pytest
from lab_support import HOSTS, in_container
from testinfra.host import Host

RULES = "/etc/audit/rules.d/50-rampart.rules"

# CIS concern -> a rule line that must be present.
EXPECTED = {
    "identity": "-w /etc/shadow -p wa -k identity",
    "sudoers": "-w /etc/sudoers.d/ -p wa -k scope",
    "time": "-S adjtimex,settimeofday,clock_settime -k time-change",
    "privileged": "-F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged",
    "modules": "-S init_module,finit_module,delete_module",
    "logins": "-w /var/log/lastlog -p wa -k logins",
}


def _vars(host: Host) -> dict:
    return lab_support.role_vars(host, "auditd")


@pytest.mark.parametrize("name", HOSTS)
@pytest.mark.parametrize("concern", EXPECTED)
def test_rule_file_covers_the_concern(
    hardened: Callable[[str], Host], name: str, concern: str
) -> None:
    rules = hardened(name).file(RULES)
    assert rules.exists, f"{name}: {RULES} missing"
    assert EXPECTED[concern] in rules.content_string, (
        f"{name}: {RULES} lacks the {concern} rule `{EXPECTED[concern]}`"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_immutable_flag_follows_the_variable(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    lines = [ln for ln in host.file(RULES).content_string.splitlines()
             if ln.strip() and not ln.startswith("#")]
    if _vars(host)["auditd_immutable"]:
        assert lines[-1] == "-e 2", f"{name}: immutable, but the last rule is {lines[-1]!r}"
    else:
        assert "-e 2" not in lines, f"{name}: -e 2 present although auditd_immutable is false"


@pytest.mark.parametrize("name", HOSTS)
def test_rules_compile_to_the_loaded_rule_file(hardened: Callable[[str], Host], name: str) -> None:
    # augenrules merges rules.d into audit.rules without the kernel: works in a container too.
    host = hardened(name)
    check = host.run("augenrules --check")
    assert check.rc == 0, f"{name}: augenrules --check failed: {check.stderr}"
    assert "-k identity" in host.file("/etc/audit/audit.rules").content_string or (
        "No change" in check.stdout
    ), f"{name}: /etc/audit/audit.rules was not generated"


@pytest.mark.parametrize("name", HOSTS)
def test_auditd_conf_rotates_and_handles_a_full_disk(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = _vars(host)
    conf = dict(
        (k.strip(), val.strip()) for k, _, val in
        (ln.partition("=") for ln in host.file("/etc/audit/auditd.conf").content_string.splitlines()
         if "=" in ln and not ln.startswith("#"))
    )
    expected = {
        "max_log_file": str(v["auditd_max_log_file"]),
        "num_logs": str(v["auditd_num_logs"]),
        "max_log_file_action": v["auditd_max_log_file_action"],
        "space_left_action": v["auditd_space_left_action"],
        "admin_space_left_action": v["auditd_admin_space_left_action"],
        "disk_full_action": v["auditd_disk_full_action"],
    }
    wrong = {k: (conf.get(k), want) for k, want in expected.items() if conf.get(k) != want}
    assert not wrong, f"{name}: auditd.conf (actual, expected): {wrong}"


@pytest.mark.parametrize("name", HOSTS)
def test_auditd_runs_where_the_kernel_allows(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    service = host.service("auditd")
    if in_container(host):
        assert not service.is_enabled, f"{name}: auditd enabled in a container (fails at boot)"
        state = host.run("systemctl is-failed auditd").stdout.strip()
        assert state != "failed", f"{name}: auditd.service left in the failed state"
    else:
        assert service.is_enabled and service.is_running, f"{name}: auditd not running"
        loaded = host.check_output("auditctl -l")
        assert "-k identity" in loaded and "-k privileged" in loaded, f"{name}: rules not loaded"
        if _vars(host)["auditd_immutable"]:
            assert "enabled 2" in host.check_output("auditctl -s"), f"{name}: not immutable"
