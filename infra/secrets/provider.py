"""Where Pulumi targets get secret values from, at deploy time.

Targets ask a `SecretsProvider` for `(service, name)` and receive a `pulumi.Output.secret`,
which they deliver as a file; the value never enters the model, the code, the catalog or a
stack file. A deploy reads every value from Vault (`infra/secrets/vault_provider.py`), which
checks them all before the program declares a single resource. `RenderSecretsProvider`
stands in during `rampart render`, where no secret is read and the recording shows `[secret]`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import pulumi

from infra.secrets.errors import SecretsError, VaultAccessError

if TYPE_CHECKING:
    from infra.model.types import Platform

PREVIOUS_SUFFIX = "_previous"  # `<NAME>_previous`: the version before the last rotation

# What a program run raises when secrets stop it (Vault unusable, a secret missing or weak);
# the CLIs catch it by this name. The message names the secret or address, never a value.
MissingSecretError = SecretsError


class SecretsProvider(Protocol):
    def get(self, service: str, name: str) -> pulumi.Output[str]:
        """The secret `name` owned by `service`, wrapped with `pulumi.Output.secret`."""
        ...


class RenderSecretsProvider:
    """Offline render: a secret-wrapped stand-in, so the recording shows `[secret]`.

    The stand-in is never a usable value (and the recorder redacts secrets before writing)."""

    def get(self, service: str, name: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(f"render-placeholder:{service}/{name}")


_active: SecretsProvider | None = None


def for_stack(platform: Platform, stack: str, settings: Mapping[str, Any]) -> SecretsProvider:
    """The provider a deploy of `stack` uses: always Vault.

    An override wins (the offline render never touches Vault). Otherwise the Vault provider,
    at the stack's `rampart:vaultAddr` or else `VAULT_ADDR` (the dev stack names no address:
    the operator's, or the demo's dev server, is in the environment), loaded and checked
    before any resource is declared. No address at all is refused: secrets come only from
    Vault."""
    if _active is not None:
        return _active
    if not settings.get("vaultAddr") and not os.environ.get("VAULT_ADDR"):
        raise VaultAccessError(
            f"stack {stack}: no Vault address: set rampart:vaultAddr in Pulumi.{stack}.yaml "
            "or export VAULT_ADDR (secrets come only from Vault; docs/secrets.md)")
    from infra.secrets.vault_provider import from_stack_settings

    return from_stack_settings(platform, stack, settings)


@contextmanager
def override(provider: SecretsProvider) -> Iterator[SecretsProvider]:
    """Use `provider` for programs run inside this block (the offline render does this)."""
    global _active
    previous, _active = _active, provider
    try:
        yield provider
    finally:
        _active = previous
