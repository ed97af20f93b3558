"""Product bugs the adversarial run found outside the corpus's own parametrization.

The corpus marks its own failing cases xfail(strict=True) with `BUG-n` in the reason
(corpus.py: literal-secret stack-vault-addr / observability / versions cases, unsafe-out
stale-entry-through-symlinked-directory, cors port 99999). The two reproductions here need a
setup the corpus does not have. Each is strict: when the bug is fixed the test fails as
XPASS and the mark must go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import corpus as c
from . import harness as h
from .test_entry_point import RAMPART, run_process

pytestmark = pytest.mark.unit


# BUG-6 (fixed): the missing pack is named in one line, exit 2.
@pytest.mark.skipif(not RAMPART.is_file(), reason="no rampart entry point next to python")
def test_policy_check_without_the_pack_is_one_line(tmp_path: Path, template: Path,
                                                   vault: h.VaultListener) -> None:
    case = c.Case(cls="found-bug", variant="no-policy-pack", commands=(c.POLICY,))
    arena = h.make_arena(template, tmp_path / "arena", case)
    (arena.project / "policies").unlink()
    outcome = run_process(arena, h.argv(c.POLICY, "dev", None), vault)
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.exit_code == 2
    assert len(h.error_lines(outcome.stderr)) == 1


@pytest.mark.xfail(strict=True, reason=(
    "BUG-1 (render --vault): a password in rampart:vaultAddr (URL userinfo) is not refused; "
    "Vault is contacted (exit 3, not 2) and the password is printed in the error line"))
def test_render_vault_refuses_a_password_in_the_vault_address(
        tmp_path: Path, template: Path, vault: h.VaultListener,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.cli.main import app

    secret = c.canary("found-bug-render-vault-addr")
    case = c.Case(cls="found-bug", variant="render-vault-addr", commands=(c.RENDER,),
                  stack=lambda doc: doc["config"].update(
                      {"rampart:vaultAddr": f"http://vault:{secret}@127.0.0.1:{c.VAULT_PORT}"}))
    arena = h.make_arena(template, tmp_path / "arena", case, vault)
    monkeypatch.chdir(arena.project)
    contacts = vault.connections
    out = arena.root / "out"
    result = CliRunner().invoke(app, ["render", "--stack", "dev", "--out", str(out), "--vault"],
                                env=h.environment(arena, vault))
    assert secret not in result.output, result.output
    assert vault.connections == contacts, "Vault was contacted"
    assert result.exit_code == 2, result.output
    assert not out.exists()
