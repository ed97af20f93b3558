"""The corpus itself: generated, deterministic, every class with several variants, every
planted secret carrying its own canary, and the unmutated project as the control."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import corpus as c
from . import harness as h

pytestmark = pytest.mark.unit

CLASSES = ("literal-secret", "data-store-exposed", "root-user", "admin-allowlist", "cors",
           "bad-stack-file", "unknown-stack", "waiver", "unsafe-out")


def test_every_class_has_several_variants() -> None:
    counts = Counter(case.cls for case in c.corpus())
    assert set(counts) == set(CLASSES)
    assert all(n >= 10 for n in counts.values()), counts


def test_ids_are_unique_and_stable() -> None:
    ids = [case.id for case in c.corpus()]
    assert len(ids) == len(set(ids))
    c.corpus.cache_clear()
    try:
        assert [case.id for case in c.corpus()] == ids, "the generator is not deterministic"
    finally:
        c.corpus.cache_clear()


def test_canaries_are_unique_and_shaped_like_secrets() -> None:
    tokens = [t for case in c.corpus() for t in case.canaries if t.startswith(c.CANARY_PREFIX)]
    assert len(tokens) == len(set(tokens))
    assert all(len(t) == len(c.CANARY_PREFIX) + 12 for t in tokens)


def test_every_case_changes_the_real_inputs(tmp_path: Path, template: Path,
                                            vault: h.VaultListener) -> None:
    """A case that wrote the committed inputs back unchanged would test nothing; a secret
    case must have planted its canary."""
    unchanged, unplanted = [], []
    for index, case in enumerate(c.corpus()):
        if case.cls == "unknown-stack":
            assert case.stack_name not in ("dev", "prod")
            continue
        if case.cls == "unsafe-out":
            continue
        arena = h.make_arena(template, tmp_path / str(index), case, vault)
        if all(p.read_bytes() == (template / p.relative_to(arena.project)).read_bytes()
               for p in arena.planted):
            unchanged.append(case.id)
        tokens = [t for t in case.canaries if t.startswith(c.CANARY_PREFIX)]
        if case.cls == "literal-secret" and tokens and not any(
                t.encode() in p.read_bytes() for t in tokens for p in arena.planted):
            unplanted.append(case.id)
    assert unchanged == [] and unplanted == []


@pytest.mark.parametrize("command", [c.RENDER, c.POLICY, c.OBSERVABILITY, c.SECRETS])
def test_the_unmutated_copy_passes(command: str, tmp_path: Path, template: Path,
                                   vault: h.VaultListener, monkeypatch: pytest.MonkeyPatch
                                   ) -> None:
    """The control: the arena's copy of the project passes every command, so each refusal in
    the corpus is its mutation's. `secrets check` has nothing to refuse, so it goes on to
    Vault: the stand-in counts the connection (exit 3), which shows the corpus would notice
    any command that reached Vault."""
    from infra.cli.main import app

    arena = h.make_arena(template, tmp_path / "arena", c.Case(cls="control", variant="none",
                                                              commands=()))
    monkeypatch.chdir(arena.project)
    contacts = vault.connections
    out = h.default_out(arena, command)
    result = CliRunner().invoke(app, h.argv(command, "dev", out),
                                env=h.environment(arena, vault))
    if command == c.SECRETS:
        assert result.exit_code == 3, result.output
        assert vault.connections > contacts
        assert h.VAULT_TOKEN not in result.output
    else:
        assert result.exit_code == 0, result.output
        assert vault.connections == contacts
        if out is not None:
            assert (out / ".rampart-manifest.json").is_file()
