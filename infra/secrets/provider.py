"""Where Pulumi targets get secret values from, at deploy time.

Targets ask a `SecretsProvider` for `(service, name)` and receive a `pulumi.Output.secret`,
which they deliver as a file; the value never enters the model, the code, the catalog or a
stack file. A deploy reads every value from Vault (`infra/secrets/vault_provider.py`), which
checks them all before the program declares a single resource. `RenderSecretsProvider`
stands in during `rampart render`, where no secret is read and the recording shows `[secret]`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import pulumi

from infra.secrets.errors import SecretsError, VaultAccessError

if TYPE_CHECKING:
    from infra.model.types import Platform
    from infra.secrets.settings import SecretsSettings


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


def for_stack(platform: Platform, stack: str, settings: SecretsSettings) -> SecretsProvider:
    """The provider a deploy of `stack` uses: always Vault.

    At the stack's `rampart:vaultAddr` or else `VAULT_ADDR` (the dev stack names no address:
    the operator's, or the demo's dev server, is in the environment), loaded and checked
    before any resource is declared. No address at all is refused: secrets come only from
    Vault. (The offline render passes its stand-in to `infra.program.run` instead.)"""
    if not settings.addr and not os.environ.get("VAULT_ADDR"):
        raise VaultAccessError(
            f"stack {stack}: no Vault address: set rampart:vaultAddr in Pulumi.{stack}.yaml "
            "or export VAULT_ADDR (secrets come only from Vault; docs/secrets.md)")
    from infra.secrets.vault_provider import from_stack_settings

    return from_stack_settings(platform, stack, settings)
