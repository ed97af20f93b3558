"""Independent auditors on the converged lab (issue 7 targets): ssh-audit finds nothing on any
host's sshd and Lynis rates every host at 85 or more. The report is kept in out/audit.json,
the figures docs/benchmarks.md records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testinfra.host import Host

from infra.hosts import audit as auditing
from infra.lab.playbook import PlaybookRun

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "out" / "audit.json"
MIN_LYNIS_INDEX = 85
AIDE_HOST = "edge1"  # one host: a full `aide --check` takes a minute or two


@pytest.fixture(scope="module")
def report(converged: PlaybookRun) -> dict[str, Any]:
    result = auditing.audit(inventory="inventories/lab/hosts.yml")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def test_every_lab_host_is_audited(report: dict[str, Any]) -> None:
    assert sorted(report["hosts"]) == ["app1", "db1", "edge1", "mon1"]
    for name, host in report["hosts"].items():
        assert host.get("lynis") and not host.get("lynis_error"), f"{name}: Lynis did not run"
        assert host.get("ssh_audit") and not host.get("ssh_audit_error"), (
            f"{name}: ssh-audit did not run: {host.get('ssh_audit_error')}")


def test_ssh_audit_has_no_failure_and_no_warning(report: dict[str, Any]) -> None:
    findings = {name: host["ssh_audit"]["findings"] for name, host in report["hosts"].items()
                if host["ssh_audit"]["failures"] or host["ssh_audit"]["warnings"]}
    assert not findings, f"ssh-audit findings: {findings}"


def test_lynis_index_meets_the_bar_on_every_host(report: dict[str, Any]) -> None:
    problems = auditing.verdict(report, MIN_LYNIS_INDEX)
    assert not problems, f"{problems}; per-host details in {REPORT}"


def test_an_audit_leaves_nothing_aide_reports_as_drift(
    report: dict[str, Any], lab_host: Callable[[str], Host]
) -> None:
    """Lynis comes with the converge and the audit's waiver profile lives under a path the
    drift check ignores: running the auditors must not turn a host's AIDE check red (the
    HostConfigurationDrift alert) until someone accepts the audit's files."""
    host = lab_host(AIDE_HOST)
    assert report["hosts"][AIDE_HOST].get("lynis"), f"{AIDE_HOST}: the audit did not run"
    config = json.loads(host.check_output("cat /etc/rampart-drift/config.json"))
    check = host.run(f"flock /var/lib/rampart-drift/aide.lock aide --check "
                     f"--config={config['aide']['config']}")
    assert check.rc < 8, f"{AIDE_HOST}: aide --check failed ({check.rc}): {check.stderr}"
    reported = {line.split(": ", 1)[1] for line in check.stdout.splitlines()
                if ": /" in line and not line.startswith((" ", "\t"))}
    ignored = tuple(config["aide"]["ignore"])  # a prefix "/x/" also covers "/x" itself
    drift = sorted(p for p in reported
                   if ("lynis" in p or "rampart-audit" in p or "waivers" in p)
                   and not p.startswith(ignored) and p + "/" not in ignored)
    assert not drift, f"{AIDE_HOST}: AIDE reports the audit's files as drift: {drift[:10]}"
