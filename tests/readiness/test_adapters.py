"""Adapters: each tool's output as it writes it today becomes evidence records; anything else
is one error naming the file. The SARIF comes from the real `rampart policy check`; promtool
and amtool run for real in the integration case."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.hosts import audit as auditing
from infra.readiness import adapters, collect, evidence

from .support import ROOT

CTX = evidence.Context(commit="a" * 40, dirty=False, run="r1", timestamp="2026-12-05T08:00:00Z",
                       tools={"python": "3.11"})


def _write(tmp_path: Path, name: str, content: str | dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    return path


def _by_check(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{r['check']}@{r['host']}" if r["host"] else r["check"]: r for r in records}


def _values(record: dict[str, Any]) -> dict[str, float]:
    return {m["name"]: m["value"] for m in record["measurements"]}


@pytest.fixture(scope="module")
def sarif_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sarif") / "policy.sarif"
    result = CliRunner().invoke(app, ["policy", "check", "--stack", "dev", "--format", "sarif",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.unit
def test_sarif_of_the_real_policy_check(sarif_file: Path, tmp_path: Path) -> None:
    from policies import registry

    records = _by_check(adapters.sarif(sarif_file, CTX))
    assert set(records) == {"policy:pack"} | {f"policy:{r.name}" for r in registry.RULES}
    assert {r["stack"] for r in records.values()} == {"dev"}
    assert {r["outcome"] for r in records.values()} == {"passed"}
    pack = records["policy:pack"]
    assert _values(pack)["mandatory_findings"] == 0
    # The shipped waivers are counted as waived, not as findings.
    doc = json.loads(sarif_file.read_text(encoding="utf-8"))
    suppressed = sum(1 for r in doc["runs"][0]["results"] if r.get("suppressions"))
    assert suppressed > 0
    assert sum(_values(r)["waived_findings"] for k, r in records.items()
               if k != "policy:pack") == suppressed
    # One unsuppressed mandatory result fails its rule and the pack.
    doc["runs"][0]["results"].append({"ruleId": "no-privileged", "level": "error",
                                      "message": {"text": "svc: privileged"}})
    doc["runs"][0]["invocations"][0]["exitCode"] = 1
    failed = _by_check(adapters.sarif(_write(tmp_path, "bad.sarif", doc), CTX))
    assert failed["policy:no-privileged"]["outcome"] == "failed"
    assert failed["policy:pack"]["outcome"] == "failed"
    assert _values(failed["policy:pack"])["mandatory_findings"] == 1


def _host(name: str, index: int, ssh_warnings: int = 0) -> dict[str, Any]:
    lynis = auditing.LynisResult(hardening_index=index, points_earned=index * 3,
                                 points_possible=300, waivers_applied=["USB-3000"],
                                 largest_gaps=[], suggestions=12)
    findings = [f"warn kex diffie-hellman-group14-sha256: weak #{n}"
                for n in range(ssh_warnings)]
    ssh = auditing.SshAuditResult(failures=0, warnings=ssh_warnings, findings=findings)
    return dataclasses.asdict(auditing.HostAudit(name, "10.77.0.12", lynis=lynis, ssh_audit=ssh))


@pytest.mark.unit
def test_audit_report(tmp_path: Path) -> None:
    report = {"date": "2026-12-05", "inventory": "inventories/lab/hosts.yml",
              "waivers_applied": True, "waivers_expired": [], "seconds": 80.2,
              "hosts": {"app1": _host("app1", 91), "db1": _host("db1", 84, ssh_warnings=1)}}
    records = _by_check(adapters.audit(_write(tmp_path, "audit.json", report), CTX))
    assert set(records) == {"audit:lynis@app1", "audit:lynis@db1", "audit:ssh-audit@app1",
                            "audit:ssh-audit@db1", "audit:waivers"}
    assert _values(records["audit:lynis@db1"])["hardening_index"] == 84
    assert records["audit:lynis@db1"]["outcome"] == "passed"  # the catalog's figure judges it
    assert records["audit:ssh-audit@db1"]["outcome"] == "failed"
    assert "diffie-hellman-group14-sha256" in records["audit:ssh-audit@db1"]["message"]
    assert records["audit:ssh-audit@app1"]["outcome"] == "passed"
    broken = {**report, "hosts": {"app1": {**_host("app1", 91), "lynis": None,
                                           "lynis_error": "Lynis did not complete"}}}
    errors = _by_check(adapters.audit(_write(tmp_path, "broken.json", broken), CTX))
    assert errors["audit:lynis@app1"]["outcome"] == "error"


PROMTOOL_OUT = """\
Checking /o/prometheus/prometheus.yml
  SUCCESS: 2 rule files found
 SUCCESS: /o/prometheus/prometheus.yml is valid prometheus config file syntax

Checking /o/prometheus/rules/red.rules.yml
  SUCCESS: 75 rules found

Checking /o/prometheus/rules/hosts.rules.yml
  FAILED:
/o/prometheus/rules/hosts.rules.yml: 3:11: group "hosts", rule 1: could not parse expression

Unit Testing:  red.test.yml
  SUCCESS

Checking '/o/alertmanager/alertmanager.yml'  SUCCESS
Found:
 - global config
"""


@pytest.mark.unit
def test_promtool_and_amtool_output(tmp_path: Path) -> None:
    records = _by_check(adapters.promtool(_write(tmp_path, "check.log", PROMTOOL_OUT), CTX))
    assert {k: r["outcome"] for k, r in records.items()} == {
        "promtool:check-config": "passed", "promtool:check-rules": "failed",
        "promtool:test-rules": "passed", "amtool:check-config": "passed"}
    assert records["promtool:check-rules"]["message"] == "not SUCCESS: hosts.rules.yml"
    assert _values(records["promtool:check-rules"]) == {"files": 2, "files_failed": 1}


DRILL_REPORT = {
    "stanza": "main", "mode": "latest", "target_time": None, "port": 5433,
    "started": "2026-12-05T07:54:48.100000+00:00", "primary_last_commit_epoch": 1.0,
    "rto_seconds": 1.214, "restored_last_commit_epoch": 1.0, "rpo_reference":
    "primary_last_commit", "rpo_seconds": 0.0,
    "sanity": {"databases": ["app", "postgres"], "relations": {"app": 400, "postgres": 400},
               "writable": True},
    "backup_set": "20261205-075444F", "finished": "2026-12-05T07:54:50.300000+00:00",
    "finished_epoch": 2.0, "status": "passed"}

DRILL_LOG = """\
TASK [The drill passed] ********************************************************
ok: [db1] => {
    "changed": false,
    "msg": "RTO=1.2s RPO=0.0s report=/var/lib/rampart-drill-reports/drill-20261205T075448Z.json"
}
"""


@pytest.mark.unit
def test_restore_drill_report_and_log(tmp_path: Path) -> None:
    (from_json,) = adapters.drill(_write(tmp_path, "drill.json", DRILL_REPORT), CTX,
                                  host="db1")
    assert from_json["outcome"] == "passed" and from_json["timestamp"] == "2026-12-05T07:54:50Z"
    assert _values(from_json) == {"rto_seconds": 1.214, "rpo_seconds": 0.0,
                                  "databases_restored": 2}
    (from_log,) = adapters.drill(_write(tmp_path, "09-restore-drill.log", DRILL_LOG), CTX)
    assert from_log["host"] == "db1" and _values(from_log) == {"rto_seconds": 1.2,
                                                                 "rpo_seconds": 0.0}
    failed_report = {**DRILL_REPORT, "status": "failed", "error": "pg_ctl exited 1"}
    (failed,) = adapters.drill(_write(tmp_path, "failed.json", failed_report), CTX)
    assert failed["outcome"] == "failed" and failed["message"] == "pg_ctl exited 1"


@pytest.mark.unit
def test_backup_log(tmp_path: Path) -> None:
    log = ('ok: [db1] => {\n    "msg": "RESULT ok: full backup 20261205-075444F of stanza main '
           'verified (3821792 bytes in the repository, 3 s)"\n}\n')
    (ok,) = adapters.backup(_write(tmp_path, "08-backup.log", log), CTX)
    assert (ok["outcome"], ok["host"]) == ("passed", "db1")
    assert _values(ok) == {"backup_seconds": 3, "repository_bytes": 3821792}
    bad = ('fatal: [db1]: FAILED! => {"msg": "db1: full backup failed after its retry: '
           "['RESULT failed: full backup of stanza main failed after its retry: timeout']\"}\n")
    (failed,) = adapters.backup(_write(tmp_path, "bad.log", bad), CTX)
    assert failed["outcome"] == "failed" and "failed after its retry" in failed["message"]


@pytest.mark.unit
def test_secrets_check_output(tmp_path: Path) -> None:
    (ok,) = adapters.secrets_check(_write(
        tmp_path, "ok.log", "ok: all 15 secrets of stack dev present and strong\n"), CTX)
    assert (ok["outcome"], ok["stack"], _values(ok)) == ("passed", "dev",
                                                         {"secrets": 15, "failing": 0})
    failing = ("FAIL auth/JWT_SECRET (secret/dev/auth/JWT_SECRET): is missing (run `rampart "
               "secrets bootstrap`)\nFAIL crm/DB_PASSWORD (secret/dev/crm/DB_PASSWORD): too "
               "short\n2 of 15 secrets of stack dev failing\n")
    (bad,) = adapters.secrets_check(_write(tmp_path, "bad.log", failing), CTX)
    assert bad["outcome"] == "failed"
    assert bad["message"] == "failing: auth/JWT_SECRET, crm/DB_PASSWORD"
    assert _values(bad) == {"failing": 2, "secrets": 15}
    # Two runs in one log (a passing one, then a failing one), or an "ok" phrase inside a
    # FAIL line: never proof.
    (both,) = adapters.secrets_check(_write(
        tmp_path, "both.log", "ok: all 15 secrets of stack dev present and strong\n" + failing),
        CTX)
    assert both["outcome"] == "failed"
    (inside,) = adapters.secrets_check(_write(
        tmp_path, "inside.log", "FAIL x/ok: all 1 secrets of stack dev present and strong (y)"
        ": too short\n"), CTX)
    assert inside["outcome"] == "failed"


@pytest.mark.unit
def test_drill_run_json(tmp_path: Path) -> None:
    results = [
        {"drill": "postgres-down", "host": "db1", "started_at": "2026-12-05T09:00:00+00:00",
         "arrivals": [{"alert": "TargetDown", "severity": "critical", "labels": {},
                       "stage": "fault", "time_to_alert_s": 75.0, "bound_s": 120.0,
                       "bound": {}}],
         "fixes": ["systemctl start postgresql"], "time_to_resolve_s": 40.0, "passed": True,
         "error": "", "cleanup_error": "", "seconds": 130.0, "exit_code": 0},
        {"drill": "disk-full", "host": "app1", "started_at": "2026-12-05T09:05:00+00:00",
         "arrivals": [{"alert": "HostDiskFilling", "severity": "warning", "labels": {},
                       "stage": "fault", "time_to_alert_s": None, "bound_s": 300.0,
                       "bound": {}}],
         "fixes": [], "time_to_resolve_s": None, "passed": False,
         "error": "HostDiskFilling never reached Alertmanager", "cleanup_error": "",
         "seconds": 310.0, "exit_code": 1},
    ]
    records = _by_check(adapters.drills(_write(tmp_path, "drills.json", results), CTX))
    assert set(records) == {"drill:postgres-down@db1", "drill:disk-full@app1", "drills:all"}
    ok = records["drill:postgres-down@db1"]
    assert (ok["outcome"], ok["timestamp"]) == ("passed", "2026-12-05T09:00:00Z")
    assert _values(ok) == {"time_to_alert_s": 75.0, "time_to_resolve_s": 40.0}
    assert records["drill:disk-full@app1"]["outcome"] == "failed"
    assert records["drills:all"]["outcome"] == "failed"
    assert _values(records["drills:all"]) == {"drills": 2, "drills_failed": 1}


BENCHMARKS: dict[str, tuple[dict[str, Any], str, dict[str, float], str]] = {
    "render_scale": ({"erp_within_3s": True, "linear_within_10x": True, "ratio_500_over_50": 9.1,
                      "results": {"erp": {"render_s": 1.9}}}, "bench:render",
                     {"erp_render_s": 1.9, "growth_ratio": 9.1}, "passed"),
    "k8s_scale": ({"erp_within_5s": False, "linear": True, "results": {"erp": {
        "k8s-dev": {"wall_s": 6.0}, "k8s-prod": {"wall_s": 4.0}}}}, "bench:k8s-render",
        {"k8s_dev_s": 6.0, "k8s_prod_s": 4.0}, "failed"),
    "policy_scale": ({"check_within_5s": True, "command": [{"wall_s": 2.0}, {"wall_s": 1.5},
                                                           {"wall_s": 3.0}]},
                     "bench:policy-check", {"check_wall_s": 2.0}, "passed"),
    "edge_load": ({"edge": {"stack": "dev"}, "limiter": {"allowed_rps": 99.2},
                   "verdicts": {"edge_1000_p99_under_500ms": True,
                                "edge_1000_errors_under_0.1pct": True,
                                "limiter_within_10pct": True},
                   "phases": [{"path": "edge", "offered_rps": 100, "achieved_rps": 100.0,
                               "p99_ms": 20.0, "error_rate": 0.0},
                              {"path": "edge", "offered_rps": 1000, "achieved_rps": 998.0,
                               "p99_ms": 93.0, "error_rate": 0.0},
                              {"path": "direct", "offered_rps": 1000, "achieved_rps": 999.0,
                               "p99_ms": 40.0, "error_rate": 0.0}]},
                  "bench:edge-load", {"offered_rps": 1000, "achieved_rps": 998.0,
                                      "p99_ms": 93.0, "error_rate_pct": 0.0,
                                      "limiter_allowed_rps": 99.2}, "passed"),
    "backup_restore": ({"drill_rto_seconds": 48.0, "drill_rpo_seconds": 2.0,
                        "targets": {"rpo_le_60s": True, "rto_le_120s": True}},
                       "bench:backup-restore", {"rto_seconds": 48.0, "rpo_seconds": 2.0},
                       "passed"),
    "converge": ({"median": {"mitogen_wall_s": 36.8, "plain_wall_s": 68.4},
                  "first_converge": {"wall_s": 225.4}}, "bench:converge",
                 {"idempotent_rerun_s": 36.8, "plain_rerun_s": 68.4, "first_converge_s": 225.4},
                 "passed"),
}


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_json(tmp_path: Path, name: str) -> None:
    doc, check, values, outcome = BENCHMARKS[name]
    (record,) = adapters.benchmark(_write(tmp_path, f"{name}.json", doc), CTX)
    assert (record["check"], record["outcome"], record["kind"]) == (check, outcome, "benchmark")
    assert _values(record) == values
    assert check in adapters.CHECK_IDS


@pytest.mark.unit
@pytest.mark.parametrize("kind, content, fragment", [
    ("sarif", {"version": "1.0"}, "not a SARIF 2.1.0 log"),
    ("audit", {"date": "x"}, "not a `rampart audit` report"),
    ("promtool", "all good\n", "not promtool or amtool output"),
    ("drill", "PLAY RECAP\n", "not a restore drill log"),
    ("drill", {"mode": "latest"}, "not a restore drill report"),
    ("backup", "nothing\n", "not a backup log"),
    ("secrets-check", "hello\n", "not `rampart secrets check` output"),
    ("benchmark", {"x": 1}, "not the JSON of a known benchmark"),
    ("benchmark", '{"truncated": ', "not valid JSON"),
    ("drills", {"drill": "x"}, "not `rampart drill run --json` output"),
])
def test_wrong_input_is_one_error_naming_the_file(tmp_path: Path, kind: str,
                                                  content: str | dict, fragment: str) -> None:
    path = _write(tmp_path, "input.txt", content)
    with pytest.raises(adapters.AdapterError) as caught:
        adapters.ADAPTERS[kind](path, CTX)
    assert str(caught.value).startswith(str(path)) and fragment in str(caught.value)


@pytest.mark.unit
def test_collect_keeps_a_redacted_artefact_and_writes_readable_evidence(tmp_path: Path) -> None:
    log = _write(tmp_path, "03-secrets-check.log",
                 "VAULT_TOKEN=hvs.Zq8vR2mN7xK4pL9sT3wY6bJ1\n"
                 "ok: all 15 secrets of stack dev present and strong\n")
    directory = tmp_path / "evidence"
    path = collect.collect("secrets-check", log, directory, root=ROOT)
    loaded = evidence.load_dir(directory)
    assert loaded.problems == [] and loaded.files == 1
    (record,) = loaded.records
    assert record.artefact is not None and path.name.startswith("secrets-check-")
    kept = (directory / record.artefact).read_text(encoding="utf-8")
    assert "Zq8vR2mN7xK4pL9sT3wY6bJ1" not in kept and "ok: all 15 secrets" in kept


@pytest.mark.unit
def test_collect_command_exit_codes(tmp_path: Path) -> None:
    good = _write(tmp_path, "ok.log", "ok: all 3 secrets of stack dev present and strong\n")
    wrong = _write(tmp_path, "wrong.log", "hello\n")
    base = [sys.executable, "-m", "infra.readiness.collect"]
    done = subprocess.run([*base, "secrets-check", str(good), "--evidence",
                           str(tmp_path / "ev")], capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("evidence: "), done.stderr
    done = subprocess.run([*base, "secrets-check", str(wrong), "--evidence",
                           str(tmp_path / "ev")], capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: {wrong}: neither")
    assert len(list((tmp_path / "ev").glob("*.json"))) == 1


@pytest.mark.integration
def test_real_promtool_and_amtool_output_on_the_built_configuration(tmp_path: Path) -> None:
    obs = tmp_path / "observability"
    result = CliRunner().invoke(app, ["observability", "build", "--stack", "dev",
                                      "--out", str(obs)])
    assert result.exit_code == 0, result.output
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    assert promtool and amtool, "promtool/amtool missing: run scripts/system-deps.sh"
    log = tmp_path / "check.log"
    with log.open("w", encoding="utf-8") as out:
        for argv in ([promtool, "check", "config", str(obs / "prometheus" / "prometheus.yml")],
                     [amtool, "check-config", str(obs / "alertmanager" / "alertmanager.yml")]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            out.write(done.stdout + done.stderr)
    records = _by_check(adapters.promtool(log, CTX))
    assert {k: r["outcome"] for k, r in records.items()} == {
        "promtool:check-config": "passed", "promtool:check-rules": "passed",
        "amtool:check-config": "passed"}
    assert _values(records["promtool:check-rules"])["files"] >= 1
