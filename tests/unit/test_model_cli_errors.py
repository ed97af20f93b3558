"""Issue 2's catalog mistakes through the command line: `rampart render` on a stack whose
catalog (a copy of the shipped ERP catalog with one mistake) must not be deployed prints one
line naming the file, the service and the field, exits 2, writes nothing and declares no
resource.

The model-level cases (every rule, every variant) are in test_model_validation.py; here each
listed mistake goes through the whole path a user takes: stack file -> `rampart:catalog` ->
`__main__.py` under the recording engine -> the CLI's exit code.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline import engine, render

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = ROOT / "infra" / "catalog"
LITERAL = "literal-Value-0f3a9c"  # a fake secret value: must never be echoed

Mutation = Callable[[dict[str, Any], dict[str, Any]], None]


def _svc(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return catalog["services"][name]


def _versions_key(catalog: dict[str, Any], service: str) -> str:
    return str(_svc(catalog, service)["image"])


# (id, mutation of (catalog, versions), file, service, field, words in the message)
CASES: list[tuple[str, Mutation, str, str, str, str]] = [
    ("unknown-dependency",
     lambda c, v: _svc(c, "crm")["depends_on"].append("ghost"),
     "catalog.yaml", "crm", "depends_on[3]", "unknown dependency 'ghost'"),
    ("dependency-cycle",
     lambda c, v: _svc(c, "postgres").update(depends_on=["auth"]),
     "catalog.yaml", "auth", "depends_on[0]", "dependency cycle: postgres -> auth -> postgres"),
    ("name-not-dns-1123",
     lambda c, v: c["services"].update(Reporting_V2=c["services"].pop("reporting")),
     "catalog.yaml", "Reporting_V2", "name", "not a DNS-1123 label"),
    ("port-collision",
     lambda c, v: _svc(c, "hr").update(port=3014),
     "catalog.yaml", "hr", "port", "port collision: 3014 is already used by service 'finance'"),
    ("public-without-health-path",
     lambda c, v: _svc(c, "api-gateway").pop("health"),
     "catalog.yaml", "api-gateway", "health.ready", "public service needs a health path"),
    ("image-latest",
     lambda c, v: v["images"][_versions_key(c, "postgres")].update(tag="latest"),
     "versions.yaml", "postgres", "images.postgres.tag", "floats ('latest'"),
    ("image-no-tag",
     lambda c, v: v["images"][_versions_key(c, "postgres")].pop("tag"),
     "versions.yaml", "postgres", "images.postgres.tag", "no tag"),
    ("image-floating-major",
     lambda c, v: v["images"][_versions_key(c, "postgres")].update(tag="16"),
     "versions.yaml", "postgres", "images.postgres.tag", "not an exact version"),
    ("invalid-cpu",
     lambda c, v: _svc(c, "crm").update(resources={"cpu_limit": "lots"}),
     "catalog.yaml", "crm", "resources.cpu_limit", "cpu"),
    ("invalid-memory",
     lambda c, v: _svc(c, "crm").update(resources={"memory_limit": "1GB"}),
     "catalog.yaml", "crm", "resources.memory_limit", "memory"),
    ("secret-literal",
     lambda c, v: _svc(c, "auth")["secrets"].update(PEPPER=LITERAL),
     "catalog.yaml", "auth", "secrets.PEPPER", "secret declared with a literal value"),
    ("secret-literal-in-environment",
     lambda c, v: _svc(c, "crm").setdefault("environment", {}).update(DB_PASSWORD=LITERAL),
     "catalog.yaml", "crm", "environment.DB_PASSWORD", "secret declared with a literal value"),
    ("secret-literal-in-entrypoint",
     lambda c, v: _svc(c, "elasticsearch-exporter").update(
         entrypoint=["/bin/sh", "-c", f"ES_PASSWORD={LITERAL} exec \"$0\" \"$@\"",
                     "/bin/elasticsearch_exporter"]),
     "catalog.yaml", "elasticsearch-exporter", "entrypoint[2]",
     "secret declared with a literal value"),
    ("empty-entrypoint",
     lambda c, v: _svc(c, "elasticsearch-exporter").update(entrypoint=[]),
     "catalog.yaml", "elasticsearch-exporter", "entrypoint", "must not be empty"),
]

STACK_FILE = "config:\n  rampart:catalog: bad-catalog/catalog.yaml\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project's entry files, a stack `bad` pointing at a copy of the shipped catalog."""
    root = tmp_path / "project"
    (root / "bad-catalog").mkdir(parents=True)
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, root / name)
    (root / "Pulumi.bad.yaml").write_text(STACK_FILE, encoding="utf-8")
    return root


def _write_catalog(project: Path, mutate: Mutation | None) -> None:
    catalog = yaml.safe_load((CATALOG_DIR / "erp.yaml").read_text(encoding="utf-8"))
    versions = yaml.safe_load((CATALOG_DIR / "versions.yaml").read_text(encoding="utf-8"))
    catalog["versions"] = "versions.yaml"
    if mutate is not None:
        mutate(catalog, versions)
    target = project / "bad-catalog"
    (target / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    (target / "versions.yaml").write_text(yaml.safe_dump(versions, sort_keys=False))



def _render(project: Path, monkeypatch: pytest.MonkeyPatch, out: Path) -> Any:
    monkeypatch.chdir(project)
    return CliRunner().invoke(app, ["render", "--stack", "bad", "--out", str(out)])


def test_the_unmutated_copy_renders(project: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    recordings: list[engine.Recording]) -> None:
    """The control: the copied catalog itself is fine, so each failure below is its mistake."""
    _write_catalog(project, None)
    result = _render(project, monkeypatch, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / render.INDEX).is_file()
    assert len(recordings) == 1 and len(recordings[0]) > 100


@pytest.mark.parametrize(("mutate", "file", "service", "field", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_catalog_mistake_exits_2_naming_file_service_field(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        recordings: list[engine.Recording], mutate: Mutation, file: str, service: str,
        field: str, words: str) -> None:
    _write_catalog(project, mutate)
    out = tmp_path / "out"
    result = _render(project, monkeypatch, out)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    line = lines[0]
    # file:line:column from the parser, pointing at the service's or the field's key.
    where = re.match(rf"(?:bad-catalog/|\S*/){re.escape(file)}:(\d+):(\d+): ", line)
    assert where, line
    written = next(project.rglob(file)).read_text().splitlines()
    at = written[int(where[1]) - 1][int(where[2]) - 1:]
    leaf = re.split(r"[.\[]", field)[-1].rstrip("]")
    assert at.startswith((f"{service}:", f"{leaf}:", "- ")) or at[:1].isalnum() or \
        at[:1] in "'\"[{", (line, at)
    assert f"service '{service}'" in line, line
    assert f"field '{field}'" in line, line
    assert words.lower() in line.lower(), line
    assert LITERAL not in result.output, "a secret literal was echoed"
    assert "Traceback" not in result.output
    assert not out.exists(), "files were written for a catalog that must not be deployed"
    assert len(recordings) == 1 and len(recordings[0]) == 0, \
        f"{len(recordings[0])} resources declared before the catalog was refused"


def test_duplicate_service_exits_2(project: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   recordings: list[engine.Recording]) -> None:
    _write_catalog(project, None)
    path = project / "bad-catalog" / "catalog.yaml"
    text = path.read_text(encoding="utf-8")
    # A second `auth:` right under `services:` (safe_dump cannot write duplicate keys).
    path.write_text(text.replace("\nservices:\n", "\nservices:\n  auth:\n    group: core\n", 1))
    out = tmp_path / "out"
    result = _render(project, monkeypatch, out)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "catalog.yaml" in lines[0] and "service 'auth'" in lines[0], lines[0]
    assert "field 'name'" in lines[0] and "duplicate service 'auth'" in lines[0], lines[0]
    assert not out.exists()
    # Refused when the stack is read, before the program declares anything.
    assert sum(len(r) for r in recordings) == 0


def test_cors_wildcard_in_the_stack_exits_2(project: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           recordings: list[engine.Recording]) -> None:
    _write_catalog(project, None)
    (project / "Pulumi.bad.yaml").write_text(
        STACK_FILE + "  rampart:corsOrigins:\n    - '*'\n", encoding="utf-8")
    out = tmp_path / "out"
    result = _render(project, monkeypatch, out)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # Line 4, column 7: the '*' item under rampart:corsOrigins, where the parser saw it.
    assert lines == ["Pulumi.bad.yaml:4:7: field 'corsOrigins[0]': '*' is never allowed: list "
                     "each origin explicitly"], lines
    assert not out.exists()
    # Refused when the stack is read, before the program declares anything.
    assert sum(len(r) for r in recordings) == 0
