"""Shared by the readiness tests: evidence records and files made by hand, a small catalog,
and the CLI run in-process (typer's CliRunner) or as the installed console script."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from infra.cli.main import app
from infra.readiness import evidence, git

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)


def head() -> str:
    """The checked-out commit now: others commit while a long session runs, and a record
    made at an earlier HEAD is (rightly) stale."""
    return git.head(ROOT)[0]


def iso(moment: dt.datetime) -> str:
    return evidence.timestamp(moment)


def rec(check: str, outcome: str = "passed", *, kind: str = "pytest", commit: str | None = None,
        at: dt.datetime | None = None, run: str = "run-1", host: str | None = None,
        stack: str | None = None, requirements: Iterable[str] = (),
        measurements: Iterable[Mapping[str, Any]] = (), message: str = "") -> dict[str, Any]:
    return {"check": check, "kind": kind, "outcome": outcome, "commit": commit or head(),
            "dirty": False, "timestamp": iso(at or NOW - dt.timedelta(minutes=1)), "run": run,
            "stack": stack, "host": host, "tools": {"python": "3.11"}, "duration_s": 0.1,
            "requirements": list(requirements), "measurements": [dict(m) for m in measurements],
            "message": message, "artefact": None}


def measured(name: str, value: float, unit: str = "", target: str | None = None
             ) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target}


def write_evidence(directory: Path, name: str, records: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps({"schema": evidence.SCHEMA, "version": evidence.VERSION,
                                "source": "test", "records": records}, indent=1),
                    encoding="utf-8")
    return path


MINI_CATALOG = """\
version: 1
categories:
  - {id: edge, title: Edge}
  - {id: backups, title: Backups}
requirements:
  - id: EDGE-1
    category: edge
    title: HTTP is redirected
    severity: blocker
    checks:
      - pytest: tests/x/test_edge.py::test_redirect
  - id: EDGE-2
    category: edge
    title: Rate limits hold
    severity: major
    checks:
      - pytest: tests/x/test_limits.py
  - id: BAK-1
    category: backups
    title: Restore within the RTO
    severity: blocker
    figure: RTO <= 4 h
    checks:
      - evidence: restore-drill
        target: rto_seconds <= 14400 s
  - id: BAK-2
    category: backups
    title: A drill on the lab
    severity: minor
    checks:
      - manual: drills tier not yet built (issue 16)
"""


def mini_catalog(directory: Path, text: str = MINI_CATALOG) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "requirements.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def all_proven(at: dt.datetime | None = None, run: str = "run-1") -> list[dict[str, Any]]:
    """Evidence proving every automated requirement of MINI_CATALOG."""
    return [
        rec("tests/x/test_edge.py::test_redirect", at=at, run=run),
        rec("tests/x/test_limits.py::test_burst[100]", at=at, run=run),
        rec("tests/x/test_limits.py::test_login", at=at, run=run),
        rec("restore-drill", kind="restore-drill", host="db1", at=at, run=run,
            measurements=[measured("rto_seconds", 42.0, "s")]),
    ]


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["readiness", *args], env=dict(env or {}))


def report(evidence_dir: Path, catalog: Path, *more: str, env: Mapping[str, str] | None = None
           ) -> tuple[Any, dict[str, Any]]:
    """`rampart readiness --format json` to stdout: (CliRunner result, parsed report)."""
    result = run_cli("--evidence", str(evidence_dir), "--catalog", str(catalog),
                     "--format", "json", *more, env=env)
    assert "Traceback" not in result.output, result.output
    return result, json.loads(result.stdout)


def requirement(doc: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(r for r in doc["requirements"] if r["id"] == rid)
