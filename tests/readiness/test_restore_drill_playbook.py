"""playbooks/restore-drill.yml brings the drill's JSON report to the controller and, when an
evidence directory is set, records it as `restore-drill` evidence, a failed drill's too.

The real playbook runs under the real ansible-playbook, against a local host whose
`rampart-pg-restore` is a stand-in writing a report the way the real one does (its last
line names the report); the lab runs the real tool (tests/hosts/pgbackrest/test_drill.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.readiness import evidence

from .support import ROOT, head

pytestmark = pytest.mark.unit

REPORT = {"stanza": "main", "mode": "latest", "target_time": None, "port": 5433,
          "started": "2026-12-05T12:00:00+00:00", "rto_seconds": 1.5, "rpo_seconds": 0.4,
          "sanity": {"databases": ["erp", "postgres"], "relations": {"erp": 300,
                                                                     "postgres": 290},
                     "writable": True},
          "backup_set": "20261205-110000F", "finished": "2026-12-05T12:00:02+00:00",
          "finished_epoch": 1796558402.0, "status": "passed"}
STAND_IN = """#!/bin/sh
# rampart-pg-restore drill, as far as the playbook sees it: a report file, its last line.
cp {report} {reports}/drill-20261205T120000Z.json
if [ {status} = passed ]; then
  echo "RTO=1.5s RPO=0.4s report={reports}/drill-20261205T120000Z.json"
else
  echo "restore drill FAILED: pgbackrest restore exited 56"
  echo "RESULT failed report={reports}/drill-20261205T120000Z.json"
  exit 1
fi
"""


def _playbook(tmp_path: Path, status: str, *extra: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    report = {**REPORT, "status": status}
    if status != "passed":
        report = {k: v for k, v in report.items() if k not in ("rto_seconds", "rpo_seconds")}
        report["error"] = "pgbackrest restore exited 56"
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    bin_dir, reports = tmp_path / "bin", tmp_path / "host-reports"
    bin_dir.mkdir()
    reports.mkdir()
    tool = bin_dir / "rampart-pg-restore"
    tool.write_text(STAND_IN.format(report=tmp_path / "report.json", reports=reports,
                                    status=status), encoding="utf-8")
    tool.chmod(0o755)
    inventory = tmp_path / "inventory.yml"
    # As in the lab, every host (and so the controller's implicit localhost) becomes root
    # by default: the controller-side task must not (no sudo on a CI runner).
    inventory.write_text(
        "all:\n  vars:\n    ansible_become: true\n"
        "db:\n  hosts:\n    db1:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      ansible_become: false\n",
        encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k != evidence.ENV_DIR}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
         "playbooks/restore-drill.yml", "-e", f"drill_report_out={tmp_path / 'fetched'}",
         *extra],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
        env={**base, "PATH": f"{bin_dir}:{base['PATH']}", "ANSIBLE_NOCOLOR": "1",
             **(env or {})})


def _record(directory: Path) -> evidence.Record:
    loaded = evidence.load_dir(directory)
    assert loaded.problems == [] and loaded.files == 1, [str(p) for p in loaded.problems]
    (record,) = loaded.records
    return record


def _values(record: evidence.Record) -> dict[str, Any]:
    return {m.name: m.value for m in record.measurements}


def test_a_passed_drill_reaches_the_controller_and_the_evidence(tmp_path: Path) -> None:
    directory = tmp_path / "evidence"
    done = _playbook(tmp_path, "passed", env={evidence.ENV_DIR: str(directory)})
    assert done.returncode == 0, done.stdout[-3000:]
    fetched = tmp_path / "fetched" / "db1" / "drill-20261205T120000Z.json"
    assert json.loads(fetched.read_text(encoding="utf-8"))["rto_seconds"] == 1.5
    record = _record(directory)
    assert (record.check, record.kind, record.outcome, record.host) == (
        "restore-drill", "restore-drill", "passed", "db1")
    assert _values(record) == {"rto_seconds": 1.5, "rpo_seconds": 0.4,
                               "databases_restored": 2}
    assert record.commit == head() and "rampart" in dict(record.tools)
    assert record.artefact is not None and (directory / record.artefact).is_file()


def test_a_failed_drill_is_fetched_and_recorded_failed_and_the_play_fails(
        tmp_path: Path) -> None:
    directory = tmp_path / "evidence"
    done = _playbook(tmp_path, "failed", "-e", f"drill_evidence_dir={directory}")
    assert done.returncode != 0, done.stdout[-3000:]
    assert "restore drill failed" in done.stdout
    record = _record(directory)
    assert (record.outcome, record.host) == ("failed", "db1")
    assert record.message == "pgbackrest restore exited 56"
    assert (tmp_path / "fetched" / "db1" / "drill-20261205T120000Z.json").is_file()


def test_without_an_evidence_directory_only_the_report_is_fetched(tmp_path: Path) -> None:
    done = _playbook(tmp_path, "passed")
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "fetched" / "db1" / "drill-20261205T120000Z.json").is_file()
    task = done.stdout.split("TASK [The drill's result is readiness evidence]")[1]
    assert task.split("TASK [")[0].strip("* \n") == "skipping: [db1]", task[:500]
    assert not list(tmp_path.rglob("drill-2*T*Z-*.json")), "no evidence file anywhere"
