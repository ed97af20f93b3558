"""`rampart render`: byte-identical output, secrets redacted, a complete index, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli.main import app
from infra.offline.engine import REDACTED, _normalise
from infra.offline.outdir import OutputError
from infra.offline.render import INDEX, RESOURCES_DIR, summary, write

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_MARKS = ("render-placeholder", "not a real key", "PRIVATE KEY")


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered_twice(tmp_path_factory) -> tuple[Path, Path]:
    runner = CliRunner()
    outs = []
    for run in ("first", "second"):
        out = tmp_path_factory.mktemp(run) / "render"
        result = runner.invoke(app, ["render", "--stack", "dev", "--out", str(out)])
        assert result.exit_code == 0, f"render run {run} failed: {result.output}"
        outs.append(out)
    return outs[0], outs[1]


def test_renders_are_byte_identical(rendered_twice):
    first, second = (_files(d) for d in rendered_twice)
    assert sorted(first) == sorted(second), "different file sets"
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"files differ between runs: {differing[:5]}"


def test_index_lists_every_resource_file(rendered_twice):
    out = rendered_twice[0]
    index = json.loads((out / INDEX).read_text())
    files = {str(p.relative_to(out)) for p in (out / RESOURCES_DIR).rglob("*.yaml")}
    listed = [entry["file"] for entry in index["resources"]]
    assert sorted(listed) == sorted(files), "index and resource files disagree"
    assert index["count"] == len(listed) == len(files)
    urns = [entry["urn"] for entry in index["resources"]]
    assert len(set(urns)) == len(urns), "duplicate URNs in the index"
    assert urns == sorted(urns), "index not in URN order"
    for entry in index["resources"]:
        assert set(entry) == {"type", "name", "urn", "file"}, entry["urn"]
        assert entry["urn"].endswith("::" + entry["name"]), entry["urn"]


def test_index_covers_the_platform(rendered_twice, dev_platform):
    index = json.loads((rendered_twice[0] / INDEX).read_text())
    containers = {e["name"] for e in index["resources"]
                  if e["type"] == "docker:index/container:Container"}
    for svc in dev_platform.services:
        assert f"erp-{svc.name}-container" in containers, f"{svc.name} missing from the index"


def test_secrets_are_redacted_in_files(rendered_twice, dev_platform):
    out = rendered_twice[0]
    text = "\n".join(b.decode() for b in _files(out).values())
    for mark in PLACEHOLDER_MARKS:
        assert mark not in text, f"a secret stand-in ({mark!r}) reached the render output"
    secret_files = {ref.file for s in dev_platform.services for ref in s.secrets}
    assert text.count(REDACTED) >= len(secret_files), "secret uploads not redacted"


def test_traefik_config_is_readable_in_the_render(rendered_twice):
    text = (rendered_twice[0] / RESOURCES_DIR / "docker.index.container.Container" /
            "erp-traefik-container.yaml").read_text()
    assert "file: /etc/traefik/traefik.yml" in text
    assert "insecure: false" in text, "static config is hidden or missing"
    assert "sniStrict: true" in text, "dynamic config is hidden or missing"


def test_normalise_redacts_nested_secrets_and_unknowns():
    wire = {"a": [{"x": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                         "value": "s3cret"}}, 3.0],
            "b": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
            "c": {"4dabf18193072939515e22adb298388d": "d0e6a833031e9bbcd3f4e8bde6ca49a4",
                  "value": "v", "secret": True}}
    assert _normalise(wire) == {"a": [{"x": REDACTED}, 3], "b": "[unknown]", "c": REDACTED}


def project_with_stack(directory: Path, stack: str, stack_yaml: str) -> Path:
    """A copy of the project's entry files plus one extra stack file."""
    directory.mkdir()
    shutil.copy(ROOT / "__main__.py", directory / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    (directory / f"Pulumi.{stack}.yaml").write_text(stack_yaml)
    return directory


def test_validation_error_exits_2_one_line_nothing_written(tmp_path, monkeypatch):
    project = project_with_stack(tmp_path / "p", "bad",
                                 "config:\n  rampart:corsOrigins:\n    - '*'\n")
    monkeypatch.chdir(project)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", "--stack", "bad", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert "Pulumi.bad.yaml" in lines[0] and "corsOrigins" in lines[0], lines[0]
    assert not out.exists(), "files were written despite the validation error"


def test_unknown_stack_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["render", "--stack", "nope", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml" in result.stderr
    assert not (tmp_path / "o").exists()


def test_write_leaves_other_files_alone_and_never_overwrites_them(tmp_path, dev_recording):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / INDEX).write_text("not a render")
    with pytest.raises(OutputError, match=rf"{INDEX}: was not written by Rampart"):
        write(dev_recording, tmp_path)
    assert (tmp_path / INDEX).read_text() == "not a render"
    assert not (tmp_path / RESOURCES_DIR).exists(), "a refused write must change nothing"
    write(dev_recording, tmp_path, force=True)
    assert json.loads((tmp_path / INDEX).read_text())["stack"] == dev_recording.stack
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_summary_reads_the_recording(dev_recording, dev_platform):
    rows = summary(dev_recording)
    # every container the render declares: the services, plus one-shot volume inits
    containers = {r["container"] for r in rows["services"]}
    assert len(rows["services"]) == len(dev_recording.of_type("docker:index/container:Container"))
    assert {f"erp-{s.name}" for s in dev_platform.services} <= containers
    published = [r["container"] for r in rows["services"] if r["ports"]]
    assert published == ["erp-traefik"], f"published ports on {published}"
    assert {r["network"]: r["internal"] for r in rows["networks"]} == {
        "erp-backend": "true", "erp-edge": "false"}
    assert "api-gateway" in {r["router"] for r in rows["routes"]}
    assert {r["middleware"] for r in rows["middlewares"]} >= {"rate-limit", "login-rate-limit",
                                                              "cors", "admin-auth"}


def test_rerender_into_the_same_directory_leaves_no_stale_files(tmp_path, small,
                                                                  record_platform):
    import dataclasses

    write(record_platform(small), tmp_path)
    fewer = dataclasses.replace(small, services=tuple(
        s for s in small.services if s.name != "grafana"))
    write(record_platform(fewer), tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / RESOURCES_DIR).rglob("*")
                   if p.is_file())
    assert files == sorted(e["file"] for e in index["resources"])
    assert not [f for f in files if "grafana" in f], "stale files from the previous render"
