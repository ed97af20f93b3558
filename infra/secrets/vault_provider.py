"""The Vault-backed `SecretsProvider` the Pulumi program uses at deploy time.

`load()` reads every secret the platform declares, current and previous version, through one
authenticated hvac client, and judges them with exactly the rules of `rampart secrets check`.
It runs before the program creates any resource and raises `WeakSecretsError` naming every
missing or weak secret (never a value), so a bad secret stops the deploy with nothing done.
Afterwards `get()` only hands out cached values wrapped in `pulumi.Output.secret`.

Rotation-aware delivery: `get(service, "JWT_SECRET")` is the current version and
`get(service, "JWT_SECRET_previous")` (or `get_previous`) the version before it, or the
current one again when the secret has never been rotated, so the `<name>_previous` file
always exists and the application can accept both without special cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra.model.types import Platform

from .check import judge
from .errors import SecretsError, WeakSecretsError
from .plan import SecretSpec, find_spec, secret_specs, validate_stack
from .settings import SecretsSettings
from .vault import Vault, VaultSettings
from .versions import PREVIOUS_SUFFIX


@dataclass(frozen=True)
class _Pair:
    current: str = field(repr=False)
    previous: str = field(repr=False)
    version: int


class VaultSecretsProvider:
    """Implements `infra.secrets.provider.SecretsProvider` from Vault KV v2."""

    def __init__(self, platform: Platform, stack: str, settings: VaultSettings,
                 vault: Vault | None = None) -> None:
        self.stack = validate_stack(stack)
        self.specs: tuple[SecretSpec, ...] = secret_specs(platform)
        self._settings = settings
        self._vault = vault
        self._values: dict[SecretSpec, _Pair] | None = None

    def __repr__(self) -> str:  # never show cached values, even in debug output
        return f"VaultSecretsProvider(stack={self.stack!r}, addr={self._settings.addr!r})"

    def load(self) -> VaultSecretsProvider:
        """Read and judge every declared secret. Call before creating any resource.

        Raises `VaultAccessError` (Vault unusable) or `WeakSecretsError` (missing/weak)."""
        vault = self._vault or Vault(self._settings)
        values: dict[SecretSpec, _Pair] = {}
        stored: dict[SecretSpec, tuple[dict[str, str] | None, int | None]] = {}
        for spec in self.specs:
            path = spec.path(self.stack)
            current = vault.read(path)
            if current is None:
                stored[spec] = (None, None)
                continue
            meta = vault.metadata(path)
            previous = None
            if current.version > 1 and meta is not None and \
                    current.version - 1 in meta.live_versions:
                previous = vault.read(path, version=current.version - 1)
            stored[spec] = (dict(current.data), meta.max_versions if meta else None)
            values[spec] = _Pair(current=current.value,
                                 previous=(previous or current).value,
                                 version=current.version)
        findings = judge(self.stack, self.specs, stored)
        if findings:
            raise WeakSecretsError([f"{f.label} ({'; '.join(f.reasons)})" for f in findings])
        self._values = values
        return self

    def _pair(self, service: str, name: str) -> _Pair:
        if self._values is None:
            raise SecretsError("VaultSecretsProvider.load() must run before get()")
        spec = find_spec(self.specs, service, name)
        return self._values[spec]

    def get(self, service: str, name: str) -> pulumi.Output[str]:
        """Current value of `name` for `service`; `<name>_previous` gives the previous one."""
        if name.lower().endswith(PREVIOUS_SUFFIX):
            return self.get_previous(service, name[: -len(PREVIOUS_SUFFIX)])
        return pulumi.Output.secret(self._pair(service, name).current)

    def get_previous(self, service: str, name: str) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._pair(service, name).previous)

    def version(self, service: str, name: str) -> int:
        """The current version number (safe to log; lets a target label what it delivered)."""
        return self._pair(service, name).version


def from_stack_settings(platform: Platform, stack: str,
                        settings: SecretsSettings) -> VaultSecretsProvider:
    """The loaded provider for a stack: Vault address and mount from the stack's `rampart:`
    settings (`vaultAddr`, `vaultMount`, `vaultAllowInsecureHttp`), credentials from the
    environment (VAULT_TOKEN, or VAULT_ROLE_ID + VAULT_SECRET_ID; VAULT_CACERT).

    Call it before any resource is created: it raises `VaultAccessError` or `WeakSecretsError`
    (one line naming the address/path or the secrets, never a value)."""
    vault_settings = VaultSettings.from_env(addr=settings.addr, mount=settings.mount,
                                            allow_insecure_http=settings.allow_insecure_http)
    return VaultSecretsProvider(platform, stack, vault_settings).load()
