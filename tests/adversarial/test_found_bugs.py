"""Product bugs the adversarial run found outside the corpus's own parametrization.

The corpus marks a case that fails because of a product bug xfail(strict=True) with `BUG-n`
in the reason (none open now). The reproductions here need a setup the corpus does not have;
an open one is strict, so when its bug is fixed it fails as XPASS and the mark must go.
Fixed: BUG-1 (a password in rampart:vaultAddr, here through `render --vault`), BUG-2
(credentials in observability webhook URLs), BUG-3 (refusals quoting a credential back),
BUG-4 (stale entries through a symlinked directory), BUG-5 (CORS port above 65535), BUG-6
(policy check without the pack, here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import corpus as c
from . import harness as h
from .test_entry_point import RAMPART, run_process

pytestmark = pytest.mark.unit


# BUG-6 (fixed twice): a project without a policies/ directory once crashed `policy check`;
# the pack now ships with the installed package, so the check runs the same rules.
@pytest.mark.skipif(not RAMPART.is_file(), reason="no rampart entry point next to python")
def test_policy_check_without_a_pack_directory_uses_the_installed_pack(
        tmp_path: Path, template: Path, vault: h.VaultListener) -> None:
    case = c.Case(cls="found-bug", variant="no-policy-pack", commands=(c.POLICY,))
    arena = h.make_arena(template, tmp_path / "arena", case)
    (arena.project / "policies").unlink()
    outcome = run_process(arena, h.argv(c.POLICY, "dev", None), vault)
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.exit_code == 0, outcome.stderr[-2000:]
    assert '"passed": true' in outcome.stdout


# BUG-1 (fixed): refused naming the stack file and key before Vault is contacted, exit 2.
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
    assert "Pulumi.dev.yaml" in result.output and "rampart:vaultAddr" in result.output
    assert not out.exists()
