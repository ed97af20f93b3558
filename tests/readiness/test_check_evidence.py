"""The checks write their own evidence: `rampart audit`, `rampart policy check`, `rampart
secrets check` and `rampart drill run` with --evidence DIR or RAMPART_EVIDENCE_DIR write one
evidence file through the same adapters as `collect` (records `rampart readiness` reads
without a problem), a failing check's too; a bad directory is refused before the check runs;
a planted secret never reaches the evidence."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.hosts import audit as auditing
from infra.readiness import collect, evidence

from .support import head

pytestmark = pytest.mark.unit

VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "RAMPART_VAULT_MOUNT")


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> Any:
    clean: dict[str, str | None] = dict.fromkeys((*VAULT_VARS, evidence.ENV_DIR))
    clean.update(env or {})
    return CliRunner().invoke(app, args, env=clean)


def loaded(directory: Path) -> evidence.Loaded:
    """The directory as `rampart readiness` reads it: every file counted, no problem."""
    got = evidence.load_dir(directory)
    assert got.problems == [], [str(p) for p in got.problems]
    assert got.files == 1, f"{got.files} evidence files in {directory}"
    return got


def by_check(got: evidence.Loaded) -> dict[str, evidence.Record]:
    return {f"{r.check}@{r.host}" if r.host else r.check: r for r in got.records}


def value(record: evidence.Record, name: str) -> float:
    measurement = record.measurement(name)
    assert measurement is not None, f"{record.check}: no {name}"
    return measurement.value


def everything_written(directory: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(directory.rglob("*"))
                   if p.is_file())


# --- where the evidence goes ------------------------------------------------------------------


def test_the_option_wins_over_the_variable_and_nothing_is_asked_for_without_both() -> None:
    env = {evidence.ENV_DIR: "/from/env"}
    assert collect.requested(Path("opt"), env) == Path("opt")
    assert collect.requested(None, env) == Path("/from/env")
    assert collect.requested(None, {evidence.ENV_DIR: "  "}) is None
    assert collect.requested(None, {}) is None


# --- rampart policy check ---------------------------------------------------------------------


def test_policy_check_writes_sarif_evidence_for_its_stack_whatever_the_format(
        tmp_path: Path) -> None:
    directory = tmp_path / "evidence"
    result = invoke(["policy", "check", "--stack", "dev", "--format", "text"],
                    {evidence.ENV_DIR: str(directory)})
    assert result.exit_code == 0, result.output
    assert not result.stdout.lstrip().startswith("{"), "stdout keeps the text report"
    assert f"evidence: {directory}" in result.stderr
    records = by_check(loaded(directory))
    pack = records["policy:pack"]
    assert (pack.outcome, pack.stack, pack.kind) == ("passed", "dev", "policy")
    assert value(pack, "mandatory_findings") == 0
    assert pack.commit == head() and pack.timestamp is not None
    tools = dict(pack.tools)
    assert {"python", "rampart", "rampart-policy"} <= set(tools)
    assert pack.artefact is not None
    sarif = json.loads((directory / pack.artefact).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 0


def test_a_failing_policy_check_still_writes_its_failed_evidence(tmp_path: Path,
                                                                 monkeypatch) -> None:
    from infra.offline import report as offline_report
    from policies.core import CONTAINER, Plain

    real = offline_report.resources_of

    def one_privileged(recording: Any) -> list[Any]:
        resources = list(real(recording))
        index = next(i for i, r in enumerate(resources) if r.type == CONTAINER)
        resources[index] = dataclasses.replace(
            resources[index], props=Plain({**resources[index].props, "privileged": True}))
        return resources

    monkeypatch.setattr(offline_report, "resources_of", one_privileged)
    chosen, ignored = tmp_path / "chosen", tmp_path / "from-env"
    result = invoke(["policy", "check", "--stack", "dev", "--format", "sarif", "--evidence",
                     str(chosen)], {evidence.ENV_DIR: str(ignored)})
    assert result.exit_code == 1, result.output
    assert not ignored.exists(), "--evidence names the directory; the variable is a default"
    records = by_check(loaded(chosen))
    assert records["policy:pack"].outcome == "failed"
    assert value(records["policy:pack"], "mandatory_findings") >= 1
    failed = sorted(k for k, r in records.items() if r.outcome == "failed")
    assert "policy:no-privileged" in failed, failed


# --- rampart secrets check --------------------------------------------------------------------

PLANTED = "Pl4nted-S3cret-Value-9f2c1e"
PLANTED_VT = "hvs.CAESIPlantedTokenXq8vR2mN7"


@pytest.fixture
def fake_vault(monkeypatch) -> list[Any]:
    """`rampart secrets check` against a stand-in Vault: nothing leaves the machine; the
    findings are whatever the test puts in the returned list."""
    from infra.cli import secrets as cli
    from infra.secrets import check

    findings: list[Any] = []
    monkeypatch.setattr(cli, "_vault", lambda *a: SimpleNamespace(mount="secret"))
    monkeypatch.setattr(check, "check", lambda *a: list(findings))
    return findings


def test_a_failing_secrets_check_writes_failed_evidence_and_never_a_secret_value(
        tmp_path: Path, fake_vault: list[Any]) -> None:
    # A finding that (wrongly) quotes a value: the evidence must not carry it on.
    fake_vault.append(SimpleNamespace(
        line=lambda mount: f"FAIL auth/JWT_SECRET ({mount}/dev/auth/JWT_SECRET): too short "
                           f"(was {PLANTED}, token {PLANTED_VT})"))
    directory = tmp_path / "evidence"
    result = invoke(["secrets", "check", "--stack", "dev", "--evidence", str(directory)],
                    {"VAULT_TOKEN": PLANTED_VT, "POSTGRES_PASSWORD": PLANTED})
    assert result.exit_code == 1, result.output
    (record,) = loaded(directory).records
    assert (record.check, record.kind, record.outcome, record.stack) == (
        "secrets-check", "secrets-check", "failed", "dev")
    assert value(record, "failing") == 1 and value(record, "secrets") > 1
    assert "auth/JWT_SECRET" in record.message
    assert "hvac" in dict(record.tools)
    written = everything_written(directory)
    assert record.artefact and (directory / record.artefact).is_file()
    assert PLANTED not in written and PLANTED_VT not in written
    assert "[redacted]" in written


def test_a_passing_secrets_check_writes_passed_evidence(tmp_path: Path,
                                                        fake_vault: list[Any]) -> None:
    directory = tmp_path / "evidence"
    result = invoke(["secrets", "check", "--stack", "prod"],
                    {"VAULT_TOKEN": "t", evidence.ENV_DIR: str(directory)})
    assert result.exit_code == 0, result.output
    (record,) = loaded(directory).records
    assert (record.outcome, record.stack) == ("passed", "prod")
    assert value(record, "failing") == 0


def test_a_secrets_check_that_could_not_run_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    from infra.cli import secrets as cli
    from infra.secrets.errors import VaultAccessError

    def sealed(*a: Any) -> None:
        raise VaultAccessError("Vault at http://127.0.0.1:8200 is sealed")

    monkeypatch.setattr(cli, "_vault", sealed)
    directory = tmp_path / "evidence"
    result = invoke(["secrets", "check", "--stack", "dev", "--evidence", str(directory)],
                    {"VAULT_TOKEN": "t"})
    assert result.exit_code == 3, result.output
    assert not list(directory.glob("*.json")), "a check that did not run proves nothing"


# --- rampart audit ----------------------------------------------------------------------------


def _audit_report(index: int) -> dict[str, Any]:
    lynis = auditing.LynisResult(hardening_index=index, points_earned=index * 3,
                                 points_possible=300, waivers_applied=[], largest_gaps=[],
                                 suggestions=4)
    ssh = auditing.SshAuditResult(failures=0, warnings=0, findings=[])
    host = dataclasses.asdict(auditing.HostAudit("db1", "10.77.0.13", lynis=lynis,
                                                 ssh_audit=ssh))
    return {"date": "2026-12-05", "inventory": "inventories/lab/hosts.yml",
            "waivers_applied": True, "waivers_expired": [], "seconds": 1.0,
            "hosts": {"db1": host}}


@pytest.mark.parametrize("index, code", [(91, 0), (70, 1)])
def test_audit_writes_its_evidence_per_host(tmp_path: Path, monkeypatch, index: int,
                                            code: int) -> None:
    monkeypatch.setattr(auditing, "audit", lambda **kw: _audit_report(index))
    directory = tmp_path / "evidence"
    result = invoke(["audit", "--out", str(tmp_path / "out" / "audit.json"), "--evidence",
                     str(directory)])
    assert result.exit_code == code, result.output
    records = by_check(loaded(directory))
    assert set(records) == {"audit:lynis@db1", "audit:ssh-audit@db1", "audit:waivers"}
    assert value(records["audit:lynis@db1"], "hardening_index") == index
    assert records["audit:ssh-audit@db1"].outcome == "passed"
    assert records["audit:lynis@db1"].commit == head()


def test_an_audit_that_reached_no_host_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    report = _audit_report(90)
    report["hosts"]["db1"].update(lynis=None, ssh_audit=None, lynis_error="unreachable",
                                  ssh_audit_error="unreachable")
    monkeypatch.setattr(auditing, "audit", lambda **kw: report)
    directory = tmp_path / "evidence"
    result = invoke(["audit", "--out", str(tmp_path / "audit.json"), "--evidence",
                     str(directory)])
    assert result.exit_code == 3, result.output
    assert not list(directory.glob("*.json"))


# --- rampart drill run ------------------------------------------------------------------------


def _drill_result(name: str, passed: bool, exit_code: int = 0) -> Any:
    from infra.drills.engine import Arrival, DrillResult

    arrival = Arrival("TargetDown", "warning", {}, "fault", 21.5 if passed else None, 34.0, {})
    return DrillResult(name, "app1", "2026-12-05T09:00:00+00:00", [arrival], [],
                       12.0 if passed else None, passed,
                       "" if passed else "TargetDown never reached Alertmanager", "", 40.0,
                       exit_code)


@pytest.fixture
def fake_lab(monkeypatch) -> dict[str, Any]:
    """`rampart drill run` against no lab: the context and each drill's run are stand-ins
    returning what the test sets (`outcome[name] = (passed, exit_code)`)."""
    from infra.drills import engine, runner

    outcome: dict[str, Any] = {}
    monkeypatch.setattr(runner, "context", lambda *a, **k: SimpleNamespace())
    monkeypatch.setattr(engine, "run", lambda drill, ctx, timeout: _drill_result(
        drill.name, *outcome[drill.name]))
    return outcome


def test_drill_run_writes_evidence_of_each_drill_failed_ones_too(
        tmp_path: Path, fake_lab: dict[str, Any]) -> None:
    fake_lab.update({"node-exporter-stopped": (True, 0), "disk-filling": (False, 1)})
    directory = tmp_path / "evidence"
    result = invoke(["drill", "run", "node-exporter-stopped", "disk-filling", "--json",
                     str(tmp_path / "drills.json")], {evidence.ENV_DIR: str(directory)})
    assert result.exit_code == 1, result.output
    records = by_check(loaded(directory))
    assert set(records) == {"drill:node-exporter-stopped@app1", "drill:disk-filling@app1",
                            "drills:all"}
    ok = records["drill:node-exporter-stopped@app1"]
    assert ok.outcome == "passed" and value(ok, "time_to_alert_s") == 21.5
    assert records["drill:disk-filling@app1"].outcome == "failed"
    assert records["drills:all"].outcome == "failed"


def test_a_drill_run_with_the_lab_unavailable_writes_nothing(
        tmp_path: Path, fake_lab: dict[str, Any]) -> None:
    fake_lab.update({"node-exporter-stopped": (False, 3)})
    directory = tmp_path / "evidence"
    result = invoke(["drill", "run", "node-exporter-stopped", "--evidence", str(directory)])
    assert result.exit_code == 3, result.output
    assert not list(directory.glob("*.json"))


# --- a bad evidence directory: one line, exit 2, the check never runs --------------------------

BAD_DIRS = {
    "a-file": "{file}",
    "below-a-file": "{file}/sub",
    "under-proc": "/proc/rampart-test/evidence",
}
COMMANDS = {
    "policy check": ["policy", "check", "--stack", "dev"],
    "secrets check": ["secrets", "check", "--stack", "dev"],
    "audit": ["audit", "--out", "{tmp}/audit.json"],
    "drill run": ["drill", "run", "node-exporter-stopped"],
}


@pytest.mark.parametrize("how", ["option", "variable"])
@pytest.mark.parametrize("where", list(BAD_DIRS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_evidence_directory_is_one_line_exit_2_before_the_check(
        tmp_path: Path, monkeypatch, command: str, where: str, how: str) -> None:
    from infra.cli import secrets as cli
    from infra.drills import engine, runner
    from infra.offline import report as offline_report

    def ran(*a: Any, **k: Any) -> None:
        pytest.fail(f"{command} ran with a bad evidence directory")

    monkeypatch.setattr(offline_report, "check_stack", ran)
    monkeypatch.setattr(cli, "_vault", ran)
    monkeypatch.setattr(auditing, "audit", ran)
    monkeypatch.setattr(runner, "context", ran)
    monkeypatch.setattr(engine, "run", ran)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    bad = BAD_DIRS[where].format(file=blocker)
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    env: dict[str, str | None] = {"VAULT_TOKEN": "t", "VAULT_ADDR": "http://127.0.0.1:1"}
    if how == "option":
        args += ["--evidence", bad]
    else:
        env[evidence.ENV_DIR] = bad
    result = invoke(args, env)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exit_code == 2, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"evidence directory {bad}" in lines[0], lines
    assert blocker.read_text() == "a file, not a directory"
    assert not (tmp_path / "audit.json").exists()


# --- collect --demo ---------------------------------------------------------------------------


def test_collect_demo_picks_up_the_fault_drill(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    result = dataclasses.asdict(_drill_result("node-exporter-stopped", True))
    (out / "fault-drill.json").write_text(json.dumps([result]), encoding="utf-8")
    (out / "logs").mkdir()
    (out / "logs" / "03-secrets-check.log").write_text(
        "ok: all 15 secrets of stack dev present and strong\n", encoding="utf-8")
    directory = tmp_path / "evidence"
    # The secrets check wrote its own evidence in this demo: only the drill is collected.
    assert collect.main(["--demo", str(out), "--only", "drills", "--evidence",
                         str(directory)]) == 0
    records = by_check(loaded(directory))
    assert set(records) == {"drill:node-exporter-stopped@app1", "drills:all"}
    assert records["drill:node-exporter-stopped@app1"].outcome == "passed"
    assert records["drills:all"].artefact is not None
    everything = tmp_path / "everything"
    assert collect.main(["--demo", str(out), "--evidence", str(everything)]) == 0
    kinds = {r.kind for r in evidence.load_dir(everything).records}
    assert kinds == {"drill", "secrets-check"}


def test_the_artefact_name_a_check_gives_is_never_a_path(tmp_path: Path) -> None:
    recorder = collect.Recorder.start(tmp_path / "evidence")
    assert recorder is not None
    path = recorder.record("secrets-check", "../../escape/secrets-check-x.log",
                           "ok: all 3 secrets of stack dev present and strong\n", stack="dev")
    (record,) = loaded(path.parent).records
    assert record.artefact is not None and "/" not in record.artefact.removeprefix("artefacts/")
    assert (path.parent / record.artefact).resolve().parent == (path.parent / "artefacts")
    assert not (tmp_path / "escape").exists()
