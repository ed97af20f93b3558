"""New secret values at the strength their kind requires, from the `secrets` module.

Every generated value is checked with the same rules `rampart secrets check` applies and
regenerated in the (astronomically rare) case it trips a pattern rule, so a freshly
bootstrapped stack always passes its own check.

htpasswd entries are bcrypt (`$2b$`, cost 12) through the system's libcrypt (libxcrypt on
Debian/Ubuntu, which every supported controller has); no Python dependency is needed. Where
libcrypt lacks bcrypt, entries fall back to Apache's apr1 (MD5, 1000 rounds): both live in
infra/secrets/htpasswd.py. apr1 is weaker against offline cracking, but the password behind
it is 32 random characters (190 bits), so the fallback costs no practical security. The
fallback is reported by `htpasswd.hash_scheme()`.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from infra.model.types import SecretKind

from .htpasswd import htpasswd_hash
from .strength import check_value

# Alphanumeric only: passwords end up in connection URLs and config files where symbols need
# escaping; 32 characters from 62 symbols are 190 bits, far above the 80-bit rule.
_ALNUM = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
JWT_KEY_BYTES = 64  # 512 bits: enough for HS512 too; the rule demands >= 256
PEPPER_BYTES = 48
API_KEY_BYTES = 32


@dataclass(frozen=True)
class Generated:
    """What gets stored: `value` is what the service reads; `extra` holds companions
    (for htpasswd: the username and the plaintext password an operator logs in with)."""

    value: str
    extra: dict[str, str]

    def as_data(self) -> dict[str, str]:
        return {"value": self.value, **self.extra}


def _password(length: int = PASSWORD_LENGTH) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _tls_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _candidate(kind: SecretKind, username: str) -> Generated:
    if kind is SecretKind.PASSWORD:
        return Generated(_password(), {})
    if kind is SecretKind.JWT_SIGNING_KEY:
        return Generated(secrets.token_urlsafe(JWT_KEY_BYTES), {})
    if kind is SecretKind.PEPPER:
        return Generated(secrets.token_urlsafe(PEPPER_BYTES), {})
    if kind is SecretKind.API_KEY:
        return Generated(secrets.token_urlsafe(API_KEY_BYTES), {})
    if kind is SecretKind.HTPASSWD:
        password = _password()
        return Generated(f"{username}:{htpasswd_hash(password)}",
                         {"username": username, "password": password})
    if kind is SecretKind.TLS_KEY:
        return Generated(_tls_key(), {})
    raise ValueError(f"no generator for secret kind {kind!r}")


def generate(
    kind: SecretKind, *, username: str = "admin", context: tuple[str, ...] = ()
) -> Generated:
    """A new value for `kind` that passes `check_value` (with the same context words)."""
    for _ in range(20):
        gen = _candidate(kind, username)
        if not check_value(kind, gen.value, password=gen.extra.get("password"), context=context):
            return gen
    # Twenty consecutive rejections of random values means a rule is broken, not bad luck.
    raise RuntimeError(f"generated {kind.value} values keep failing the strength rules")



