"""Fixtures of the adversarial corpus (tests/adversarial/corpus.py, harness.py)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import corpus as c
from . import harness as h


@pytest.fixture(scope="session")
def vault() -> Iterator[h.VaultListener]:
    listener = h.VaultListener()
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.make_template(tmp_path_factory.mktemp("adversarial") / "template")


@pytest.fixture(scope="session")
def own_files(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The files `render` and `observability build` write for the unmutated dev stack (the
    unsafe-out cases put foreign files exactly where these would go)."""
    from infra.cli.main import app

    root = tmp_path_factory.mktemp("own-files")
    project = root / "project"
    shutil.copytree(template, project, symlinks=True)
    found: dict[str, list[str]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for command in (c.RENDER, c.OBSERVABILITY):
            out = root / command
            result = CliRunner().invoke(app, h.argv(command, "dev", out),
                                        env=dict.fromkeys(h.VAULT_VARS))
            assert result.exit_code == 0, result.output
            found[command] = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                                    if p.is_file() and p.name != ".rampart-manifest.json")
    return found


@pytest.fixture
def run_in_process(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
                   ) -> Callable[[h.Arena, list[str], dict[str, str | None]], h.Outcome]:
    """`rampart ...` through typer's CliRunner, in the arena's project, with the temporary
    directory and HOME inside the arena and every log record captured."""
    from infra.cli.main import app

    def run(arena: h.Arena, args: list[str], env: dict[str, str | None]) -> h.Outcome:
        monkeypatch.chdir(arena.project)
        monkeypatch.setattr(tempfile, "tempdir", str(arena.tmp))
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        result = CliRunner().invoke(app, args, env=env)
        return h.Outcome(result.exit_code, result.stdout, result.stderr, result.exception,
                         caplog.text)

    return run
