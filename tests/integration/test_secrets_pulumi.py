"""The Pulumi side: the real Docker target fed by the Vault provider, under the shared
recording engine (no Pulumi CLI), against the OpenBao dev server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.model.types import Platform
from infra.offline import engine, render
from infra.secrets.bootstrap import bootstrap
from infra.secrets.errors import WeakSecretsError
from infra.secrets.plan import find_spec, secret_specs
from infra.secrets.rotate import rotate
from infra.secrets.settings import SecretsSettings
from infra.secrets.vault import Vault, VaultSettings
from infra.secrets.vault_provider import VaultSecretsProvider, from_stack_settings

pytestmark = pytest.mark.integration


def _stored_values(vault: Vault, stack: str, platform: Platform) -> list[str]:
    values: list[str] = []
    for spec in secret_specs(platform):
        meta = vault.metadata(spec.path(stack))
        assert meta is not None, f"{spec.label} missing after bootstrap"
        for version in meta.live_versions:
            data = vault.read(spec.path(stack), version=version)
            assert data is not None
            values.extend(v for v in data.data.values() if len(v) >= 8)
    return values


def test_vault_secrets_reach_the_target_only_as_secrets(
        bao: Any, dev_platform: Platform, unique_stack: str, tmp_path: Path,
        record_platform: Callable[..., engine.Recording]) -> None:
    vault = Vault(VaultSettings(addr=bao.addr, token=bao.root_token))
    specs = secret_specs(dev_platform)
    bootstrap(vault, unique_stack, specs)
    rotate(vault, unique_stack, find_spec(specs, "auth", "JWT_SECRET"))  # previous != current
    provider = VaultSecretsProvider(dev_platform, unique_stack, VaultSettings(
        addr=bao.addr, token=bao.root_token)).load()

    recording = record_platform(dev_platform, secrets=provider, stack=unique_stack)

    assert len(recording) > 0
    files = render.write(recording, tmp_path / "out")
    rendered = "\n".join(p.read_text() for p in files)
    dumped = json.dumps([dict(r.inputs) for r in recording], default=str)
    values = _stored_values(vault, unique_stack, dev_platform)
    assert len(values) >= len(specs) + 1
    for value in values:
        assert value not in rendered, "a Vault value reached a rendered file"
        assert value not in dumped, "a Vault value reached a resource input unredacted"
    assert rendered.count(engine.REDACTED) >= len(specs), "secret uploads should show [secret]"


def test_weak_secret_stops_the_program_before_any_resource(
        bao: Any, dev_platform: Platform, unique_stack: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.targets import docker

    vault = Vault(VaultSettings(addr=bao.addr, token=bao.root_token))
    specs = secret_specs(dev_platform)
    bootstrap(vault, unique_stack, specs)
    path = find_spec(specs, "auth", "PEPPER").path(unique_stack)
    meta = vault.metadata(path)
    assert meta is not None
    planted = "erpgo-secret-pepper-change-in-production"
    vault.write(path, {"value": planted}, cas=meta.current_version)
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    recordings: list[engine.Recording] = []

    class Captured(engine.Recording):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            recordings.append(self)

    monkeypatch.setattr(engine, "Recording", Captured)

    def program() -> None:  # the order __main__.py must keep: load secrets, then deploy
        secrets = from_stack_settings(dev_platform, unique_stack, SecretsSettings(addr=bao.addr))
        docker.deploy(dev_platform, secrets)

    with pytest.raises(Exception) as info:
        engine.run_program(program, stack=unique_stack)
    error = info.value
    while not isinstance(error, WeakSecretsError) and error.__cause__ is not None:
        error = error.__cause__  # type: ignore[assignment]
    text = str(info.value) + str(error)
    assert "auth/PEPPER" in text, text
    assert planted not in text
    assert len(recordings) == 1 and len(recordings[0]) == 0, \
        f"{len(recordings[0])} resources were declared before the secrets check"
