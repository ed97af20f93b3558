"""The report's three forms from the real CLI: JSON stable across runs, Markdown fit for a pull
request, one self-contained HTML file, and no planted secret in any of them or in evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.readiness import evidence

from .support import ROOT, all_proven, measured, mini_catalog, rec, run_cli, write_evidence

pytestmark = pytest.mark.unit

RAMPART = Path(sys.executable).parent / "rampart"
# Two plants: a value only known as a secret (it sits in a credential-named environment
# variable, and would pass for a phrase), and a random-looking token (caught by its shape).
KNOWN = "correct-horse-battery-staple-42"
SHAPED = "Zq8vR2mN7xK4pL9sT3wY6bJ1hF5dG0aE"


def _planted(directory: Path) -> Path:
    records = all_proven()
    records[0]["outcome"] = "failed"
    records[0]["message"] = f"login with {KNOWN} answered 200; token={SHAPED}"
    records.append(rec(f"tests/x/test_limits.py::test_vault[{SHAPED}]",
                       message=f"https://admin:{KNOWN}@vault.example:8200 refused"))
    records.append(rec("restore-drill", kind="restore-drill", host=f"db1-{SHAPED}",
                       measurements=[measured("rto_seconds", 3.0, "s")],
                       message=f"PGPASSWORD={KNOWN} pg_ctl start"))
    return write_evidence(directory, "planted.json", records)


def _secret_env() -> dict[str, str]:
    return {"POSTGRES_PASSWORD": KNOWN}


def test_a_planted_secret_never_reaches_any_report(tmp_path: Path) -> None:
    catalog = mini_catalog(tmp_path / "catalog")
    _planted(tmp_path / "ev")
    outputs = {}
    for fmt in ("json", "markdown", "html"):
        out = tmp_path / "reports" / f"report.{fmt}"
        result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog),
                         "--format", fmt, "--out", str(out), env=_secret_env())
        assert result.exit_code == 1, result.output  # EDGE-1, a blocker, failed
        outputs[fmt] = out.read_text(encoding="utf-8") + result.output
    for fmt, text in outputs.items():
        assert KNOWN not in text, f"{fmt} report shows the known secret"
        assert SHAPED not in text, f"{fmt} report shows the secret-shaped token"
    # What is left is still useful: the failure is cited, the values are marked.
    doc = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    note = doc["requirements"][0]["checks"][0]["citations"][0]["note"]
    assert note == "login with [redacted] answered 200; token=***"


def test_the_evidence_writer_redacts_before_anything_reaches_the_disk(tmp_path: Path) -> None:
    ctx = evidence.context(ROOT)
    record = evidence.make_record(
        ctx, check=f"tests/x/test_a.py::test_b[{SHAPED}]", kind="pytest", outcome="failed",
        host="db1", message=f"password={KNOWN} rejected; {SHAPED}",
        measurements=[{"name": "latency", "value": 1.0, "unit": "ms", "target": "<= 5"}])
    redactor = evidence.Redactor.from_env({"JWT_SECRET": KNOWN, "HOME": "/root"})
    path = evidence.write(tmp_path, "pytest", [record], ctx, redactor)
    raw = path.read_text(encoding="utf-8")
    assert KNOWN not in raw and SHAPED not in raw
    loaded = evidence.load_dir(tmp_path)
    assert loaded.problems == []
    (written,) = loaded.records
    assert written.message == "password=*** rejected; ***"
    assert written.check == "tests/x/test_a.py::test_b[***]"
    assert written.commit == ctx.commit  # a commit is no secret, and stays verbatim
    # An environment variable that names no credential is not treated as a secret.
    assert "/root" not in redactor.known


def test_json_is_byte_identical_across_runs_and_follows_its_schema(tmp_path: Path) -> None:
    catalog = mini_catalog(tmp_path / "catalog")
    write_evidence(tmp_path / "ev", "a.json", all_proven(run="a"))
    write_evidence(tmp_path / "ev", "b.json", [rec("tests/x/test_limits.py::test_login",
                                                   "failed", run="b")])
    outs = []
    for n in range(2):
        out = tmp_path / f"r{n}.json"
        result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog),
                         "--format", "json", "--out", str(out))
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert doc["schema"] == "rampart-readiness-report" and doc["version"] == 1
    assert set(doc) == {"schema", "version", "stack", "commit", "catalog", "max_age_days",
                        "verdict", "score", "counts", "evidence", "categories",
                        "requirements", "problems", "trend"}
    check = doc["requirements"][1]["checks"][0]
    assert set(check) == {"kind", "ref", "target", "status", "detail", "counts", "citations",
                          "more_proven"}
    assert set(check["citations"][0]) == {"check", "kind", "outcome", "status", "note", "host",
                                          "stack", "commit", "timestamp", "run", "file",
                                          "artefact"}


def test_markdown_is_a_pull_request_comment(tmp_path: Path) -> None:
    catalog = mini_catalog(tmp_path / "catalog")
    records = all_proven()
    records[0]["outcome"] = "failed"
    records[0]["message"] = "a | pipe and <b>tag</b>"
    write_evidence(tmp_path / "ev", "a.json", records)
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog),
                     "--format", "markdown")
    text = result.stdout
    assert text.startswith("## Production readiness — stack `dev`: ❌ NOT READY, score ")
    assert "**Failed blockers:** EDGE-1" in text
    assert "| Edge | 40.0 | 1 | 1 | 0 | 0 |" in text
    assert "a \\| pipe and &lt;b&gt;tag&lt;/b&gt;" in text  # a cell cannot break the table
    assert "<details><summary>Proven requirements (2)</summary>" in text


def test_html_is_one_file_with_nothing_to_fetch(tmp_path: Path) -> None:
    catalog = mini_catalog(tmp_path / "catalog")
    records = all_proven()
    # Evidence is data, never markup: a hand-written record cannot inject into the page.
    records.append(rec('tests/x/test_limits.py::test_x["><img src=http://127.0.0.1:9/>]',
                       "failed", message='<script>fetch("http://127.0.0.1:9/")</script>'))
    write_evidence(tmp_path / "ev", "a.json", records)
    out = tmp_path / "site" / "readiness.html"
    result = run_cli("--evidence", str(tmp_path / "ev"), "--catalog", str(catalog),
                     "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.stderr
    html_text = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;fetch(" in html_text and "&quot;&gt;&lt;img src=http" in html_text
    html = out.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    for fetching in ("<script", "<link", "@import", "url(", "src=\"http", "<iframe", "<img"):
        assert fetching not in html, fetching
    # Artefact links are relative to the report, so the bundle can move as a whole.
    assert 'href="../ev/a.json"' in html


def test_the_console_script_runs_the_command(tmp_path: Path) -> None:
    catalog = mini_catalog(tmp_path / "catalog")
    write_evidence(tmp_path / "ev", "a.json", all_proven())
    done = subprocess.run([str(RAMPART), "readiness", "--evidence", str(tmp_path / "ev"),
                           "--catalog", str(catalog), "--format", "json", "--fail-under", "80"],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "ready"
    assert done.stderr.startswith("readiness of stack dev: READY, score 88.9/100")
