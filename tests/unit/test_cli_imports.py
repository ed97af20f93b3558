"""`import infra.cli.main` stays cheap: every `rampart` invocation (`--help`, `render`,
`policy check`) pays it, so the commands import the Vault client, the model, the
observability builders, the lab lifecycle and rich when they run, not at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from infra.cli.main import app

pytestmark = pytest.mark.unit

# Heavy modules no sub-command needs at import time (measured with `python -X importtime`:
# hvac/requests alone were ~0.34 s of CPU).
DEFERRED = ("hvac", "requests", "infra.secrets.vault", "infra.secrets.bootstrap",
            "infra.model", "infra.observability", "infra.lab.lifecycle", "infra.lab.ssh",
            "pulumi")


def test_importing_the_cli_defers_the_heavy_modules():
    code = ("import json, sys, infra.cli.main; "
            f"print(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert json.loads(done.stdout) == [], f"imported at start-up: {done.stdout}"


def test_the_help_default_is_bootstraps():
    from infra.cli import secrets as cli
    from infra.secrets import bootstrap

    assert cli.DEFAULT_MAX_VERSIONS == bootstrap.DEFAULT_MAX_VERSIONS


@pytest.mark.parametrize("args", [
    [], ["secrets", "bootstrap"], ["secrets", "check"], ["secrets", "rotate"], ["lab"],
    ["lab", "status"], ["observability", "build"], ["render"], ["policy", "check"],
], ids=lambda a: " ".join(a) or "rampart")
def test_every_help_still_renders(args):
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    if args == ["secrets", "bootstrap"]:
        assert "default: 5" in result.output, result.output
