"""infra/hosts/audit.py without hosts: waivers, Lynis log/report parsing, ssh-audit counting,
verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from infra.hosts import audit
from infra.hosts.audit import verdict

pytestmark = pytest.mark.unit

TODAY = dt.date(2026, 11, 23)

LOG = """\
2026-11-23 16:24:50 Performing test ID CORE-1000 (Check all system binaries)
2026-11-23 16:24:53 Performing test ID DEB-0280 (Checking if libpam-tmpdir is installed)
2026-11-23 16:24:53 Hardening: assigned partial number of hardening points (0 of 2). Currently having 0 points (out of 2)
2026-11-23 16:24:54 Performing test ID SSH-7408 (Check SSH specific defined options)
2026-11-23 16:24:54 Hardening: assigned maximum number of hardening points for this item (3). Currently having 3 points (out of 5)
2026-11-23 16:24:54 Hardening: assigned partial number of hardening points (1 of 3). Currently having 4 points (out of 8)
2026-11-23 16:24:55 Performing test ID AUTH-9262 (Checking presence password strength testing tools)
2026-11-23 16:24:55 Hardening: assigned maximum number of hardening points for this item (3). Currently having 7 points (out of 11)
"""  # noqa: E501  (real Lynis log lines)

REPORT = (
    "lynis_version=3.0.8\nhardening_index=63\n"
    "suggestion[]=DEB-0280|x|\nsuggestion[]=SSH-7408|y|\n"
)


def write_waivers(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "lynis.yml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """\
waivers:
  - id: SSH-7408:port
    justification: Port 22 by contract; the firewall limits SSH to admin networks.
    expires: 2027-05-31
  - id: ACCT-9628
    hosts: [edge1]
    justification: Containers cannot run auditd; real hosts do and are tested for it.
    expires: 2027-05-31
  - id: USB-3000
    justification: No USB passthrough on these hosts; usb-storage is blacklisted.
    expires: 2026-01-31
"""


def test_the_repository_waiver_file_is_valid_and_unexpired() -> None:
    waivers = audit.load_waivers()
    assert waivers, "waivers/lynis.yml has no entries"
    stale = [w.id for w in audit.expired(waivers, dt.date.today())]
    assert not stale, f"waivers/lynis.yml has expired waivers: {stale}"


def test_profile_skips_only_waivers_in_force_for_the_host(tmp_path: Path) -> None:
    waivers = audit.load_waivers(write_waivers(tmp_path, GOOD))
    edge = audit.lynis_profile(waivers, "edge1", TODAY).splitlines()
    db = audit.lynis_profile(waivers, "db1", TODAY).splitlines()
    assert "skip-test=SSH-7408:port" in edge and "skip-test=ACCT-9628" in edge
    assert "skip-test=ACCT-9628" not in db, "a host-bound waiver leaked to another host"
    assert not any("USB-3000" in line for line in edge + db), "an expired waiver was applied"
    assert [w.id for w in audit.expired(waivers, TODAY)] == ["USB-3000"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{}", "top-level `waivers:` list is missing"),
        ("waivers:\n  - id: ssh7408\n    justification: long enough justification text\n"
         "    expires: 2027-01-01\n", "is not a Lynis test id"),
        ("waivers:\n  - id: SSH-7408\n    justification: short\n    expires: 2027-01-01\n",
         "justification is missing or too short"),
        ("waivers:\n  - id: SSH-7408\n    justification: long enough justification text\n",
         "expires must be a date"),
        ("waivers:\n  - id: SSH-7408\n    justification: long enough justification text\n"
         "    expires: 2027-01-01\n  - id: SSH-7408\n    justification: long enough again, yes\n"
         "    expires: 2027-01-01\n", "listed twice"),
    ],
    ids=["no-list", "bad-id", "no-justification", "no-expiry", "duplicate"],
)
def test_bad_waiver_files_are_refused_naming_the_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(audit.AuditError, match=message):
        audit.load_waivers(write_waivers(tmp_path, body))


def test_lynis_points_are_summed_per_test() -> None:
    points = audit.lynis_points(LOG)
    assert points == {"DEB-0280": (0, 2), "SSH-7408": (4, 6), "AUTH-9262": (3, 3)}
    # Lynis's formula (integer division), as in its report: 7 * 100 // 11.
    assert audit.hardening_index(points) == 63


def test_lynis_result_reads_the_report_and_explains_the_gaps() -> None:
    result = audit.lynis_result(REPORT, LOG, ["SSH-7408:port"])
    assert result.hardening_index == 63
    assert (result.points_earned, result.points_possible) == (7, 11)
    assert result.largest_gaps[0] == {"test": "DEB-0280", "missing": 2, "possible": 2}
    assert result.suggestions == 2
    with pytest.raises(audit.AuditError, match="hardening_index"):
        audit.lynis_result("lynis_version=3.0.8\n", LOG, [])


def test_ssh_audit_failures_warnings_and_cves_are_counted() -> None:
    report = {
        "kex": [{"algorithm": "curve25519-sha256", "notes": {"warn": ["not post-quantum"]}}],
        "key": [{"algorithm": "ssh-rsa", "notes": {"fail": ["SHA-1"], "info": ["old"]}}],
        "enc": [{"algorithm": "aes128-ctr", "notes": {"info": ["available since 3.7"]}}],
        "mac": [{"algorithm": "hmac-sha1", "notes": {"fail": ["SHA-1"], "warn": ["E&M"]}}],
        "cves": [{"name": "CVE-2099-0001", "description": "made up"}],
    }
    result = audit.ssh_audit_result(report)
    assert (result.failures, result.warnings) == (3, 2)
    assert any("CVE-2099-0001" in f for f in result.findings)
    assert audit.ssh_audit_result({"kex": [], "key": [], "enc": [], "mac": []}).failures == 0


def _report(index: int, failures: int = 0, warnings: int = 0) -> dict:
    lynis = {"hardening_index": index, "points_earned": 1, "points_possible": 1,
             "waivers_applied": [], "largest_gaps": [], "suggestions": 0}
    return {
        "inventory": "x", "date": "2026-11-23", "waivers_expired": [],
        "hosts": {"edge1": {"address": "10.77.0.11", "lynis": lynis, "lynis_error": None,
                            "ssh_audit": {"failures": failures, "warnings": warnings,
                                          "findings": []}, "ssh_audit_error": None}},
    }


def test_verdict_names_the_host_that_misses_the_bar() -> None:
    assert verdict(_report(90), 85) == []
    assert verdict(_report(84), 85) == ["edge1: Lynis index 84 < 85"]
    assert verdict(_report(90, warnings=1), 85) == ["edge1: ssh-audit 0 failures, 1 warnings"]
