"""Where Pulumi targets get secret values from, at deploy time.

Targets ask a `SecretsProvider` for `(service, name)` and receive a `pulumi.Output.secret`,
which they deliver as a file; the value never enters the model, the code, the catalog or a
stack file. `EnvSecretsProvider` is the placeholder until the Vault-backed provider lands: it
reads `RAMPART_SECRET_<NAME>` from the environment of `pulumi up`. `RenderSecretsProvider`
stands in during `rampart render`, where no secret exists and the recording shows `[secret]`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import pulumi

if TYPE_CHECKING:
    from infra.model.types import Platform

ENV_PREFIX = "RAMPART_SECRET_"
PREVIOUS_SUFFIX = "_previous"  # `<NAME>_previous`: the version before the last rotation


class MissingSecretError(RuntimeError):
    """A secret the platform needs has no usable value. Names the secret, never a value."""


class SecretsProvider(Protocol):
    def get(self, service: str, name: str) -> pulumi.Output[str]:
        """The secret `name` owned by `service`, wrapped with `pulumi.Output.secret`."""
        ...


def env_var(name: str) -> str:
    """`JWT_SECRET` -> `RAMPART_SECRET_JWT_SECRET` (non-alphanumerics become `_`)."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


class EnvSecretsProvider:
    """Placeholder provider: one environment variable per secret name."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, service: str, name: str) -> pulumi.Output[str]:
        var = env_var(name)
        value = self._environ.get(var)
        if value is None and name.lower().endswith(PREVIOUS_SUFFIX):
            # Never rotated: the previous version is the current one (as the Vault provider).
            return self.get(service, name[: -len(PREVIOUS_SUFFIX)])
        if value is None or not value.strip():
            state = "is not set" if value is None else "is empty"
            raise MissingSecretError(
                f"secret {name} (service '{service}') {state}: export {var} before deploying "
                "(or use the Vault provider)"
            )
        return pulumi.Output.secret(value)


class RenderSecretsProvider:
    """Offline render: a secret-wrapped stand-in, so the recording shows `[secret]`.

    The stand-in is never a usable value (and the recorder redacts secrets before writing)."""

    def get(self, service: str, name: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(f"render-placeholder:{service}/{name}")


_active: SecretsProvider | None = None


def active() -> SecretsProvider:
    """The override (render, tests) if one is set, else the environment placeholder."""
    return _active if _active is not None else EnvSecretsProvider()


def for_stack(platform: Platform, stack: str, settings: Mapping[str, Any]) -> SecretsProvider:
    """The provider a deploy of `stack` uses.

    An override wins (the offline render never touches Vault); a stack that names its Vault
    (`rampart:vaultAddr`) gets the Vault provider, loaded and checked before any resource is
    declared; otherwise the `RAMPART_SECRET_<NAME>` placeholder."""
    if _active is not None:
        return _active
    if settings.get("vaultAddr"):
        from infra.secrets.vault_provider import from_stack_settings

        return from_stack_settings(platform, stack, settings)
    return EnvSecretsProvider()


@contextmanager
def override(provider: SecretsProvider) -> Iterator[SecretsProvider]:
    """Use `provider` for programs run inside this block (the offline render does this)."""
    global _active
    previous, _active = _active, provider
    try:
        yield provider
    finally:
        _active = previous
