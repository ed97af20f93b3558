"""The stack's secrets section: where Vault is. Credentials never come from the stack.

Keys of the `rampart:` namespace this module owns: `vaultAddr`, `vaultMount`,
`vaultAllowInsecureHttp`. Parsed once (infra/stack) and used by every consumer: the program's
Vault provider, `rampart secrets`, `rampart render --vault`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from infra.model.errors import ValidationError
from infra.secrets.literals import scan_text

NAMESPACE = "rampart"
KEYS = frozenset({"vaultAddr", "vaultMount", "vaultAllowInsecureHttp"})
CREDENTIALS_FROM = "Vault credentials come from VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID"


@dataclass(frozen=True)
class SecretsSettings:
    addr: str | None = None  # None: VAULT_ADDR from the environment
    mount: str | None = None  # None: RAMPART_VAULT_MOUNT, else the default mount
    allow_insecure_http: bool = False  # plain http to a non-loopback Vault


def parse(values: Mapping[str, Any], source: str) -> SecretsSettings:
    """The section from the decoded namespace (keys without the prefix). A credential in
    it (a token, user info in the address) is refused before anything contacts Vault; the
    message names the file and key, never the value."""
    for key in sorted(KEYS - {"vaultAllowInsecureHttp"}):
        value = values.get(key)
        if value is None:
            continue
        full = f"{NAMESPACE}:{key}"
        if not isinstance(value, str):
            raise ValidationError(source, f"must be a string, got {type(value).__name__}",
                                  field=full)
        found = scan_text(value, full)
        if found:
            raise ValidationError(
                source, f"secret declared with a literal value ({found[0].why}); "
                        f"{CREDENTIALS_FROM}, never from the stack file", field=full)
        if key == "vaultAddr":
            try:
                userinfo = "@" in urlsplit(value.strip()).netloc
            except ValueError:
                userinfo = False  # not a URL at all: the Vault client refuses it
            if userinfo:
                raise ValidationError(
                    source, f"the Vault address carries user info (user@host); "
                            f"{CREDENTIALS_FROM}, never from the address", field=full)
    insecure = values.get("vaultAllowInsecureHttp", False)
    if isinstance(insecure, str) and insecure.strip().lower() in ("true", "false"):
        insecure = insecure.strip().lower() == "true"
    if not isinstance(insecure, bool):
        raise ValidationError(source, "must be true or false",
                              field=f"{NAMESPACE}:vaultAllowInsecureHttp")
    return SecretsSettings(addr=values.get("vaultAddr") or None,
                           mount=values.get("vaultMount") or None,
                           allow_insecure_http=insecure)
