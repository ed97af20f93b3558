"""New secret values at the strength their kind requires, from the `secrets` module.

Every generated value is checked with the same rules `rampart secrets check` applies and
regenerated in the (astronomically rare) case it trips a pattern rule, so a freshly
bootstrapped stack always passes its own check.

htpasswd entries are bcrypt (`$2b$`, cost 12) through the system's libcrypt (libxcrypt on
Debian/Ubuntu, which every supported controller has); no Python dependency is needed. Where
libcrypt lacks bcrypt, entries fall back to Apache's apr1 (MD5, 1000 rounds) implemented here:
weaker against offline cracking, but the password behind it is 32 random characters (190 bits),
so the fallback costs no practical security. The fallback is reported by `hash_scheme()`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import secrets
import string
import threading
from dataclasses import dataclass

from infra.model.types import SecretKind

from .strength import check_value

# Alphanumeric only: passwords end up in connection URLs and config files where symbols need
# escaping; 32 characters from 62 symbols are 190 bits, far above the 80-bit rule.
_ALNUM = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
JWT_KEY_BYTES = 64  # 512 bits: enough for HS512 too; the rule demands >= 256
PEPPER_BYTES = 48
API_KEY_BYTES = 32
BCRYPT_COST = 12


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


# --- htpasswd hashing -------------------------------------------------------------------

_crypt_lock = threading.Lock()  # crypt()/crypt_gensalt() return static buffers


def _load_libcrypt() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypt")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        lib.crypt_gensalt.restype = ctypes.c_char_p
        lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                      ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return lib


_LIBCRYPT = _load_libcrypt()


def _libcrypt(password: str, setting: str) -> str | None:
    if _LIBCRYPT is None:
        return None
    with _crypt_lock:
        out = _LIBCRYPT.crypt(password.encode(), setting.encode())
    # libxcrypt signals failure with NULL or a string starting with "*".
    if not out or out.startswith(b"*"):
        return None
    return out.decode()


def _bcrypt(password: str) -> str | None:
    if _LIBCRYPT is None:
        return None
    rbytes = secrets.token_bytes(16)
    with _crypt_lock:
        setting = _LIBCRYPT.crypt_gensalt(b"$2b$", BCRYPT_COST, rbytes, len(rbytes))
    if not setting or setting.startswith(b"*"):
        return None
    return _libcrypt(password, setting.decode())


_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _to64(value: int, count: int) -> str:
    out = ""
    for _ in range(count):
        out += _ITOA64[value & 0x3F]
        value >>= 6
    return out


def apr1(password: str, salt: str, magic: str = "$apr1$") -> str:
    """Apache's MD5-crypt (`htpasswd -m`), the documented fallback when bcrypt is missing.

    MD5 is mandated by the format here, not chosen; see the module docstring."""
    pw, sl, mg = password.encode(), salt.encode()[:8], magic.encode()

    def md5(data: bytes) -> bytes:
        return hashlib.md5(data, usedforsecurity=False).digest()

    ctx = pw + mg + sl
    alt = md5(pw + sl + pw)
    for left in range(len(pw), 0, -16):
        ctx += alt[: min(16, left)]
    i = len(pw)
    while i:
        ctx += b"\x00" if i & 1 else pw[:1]
        i >>= 1
    final = md5(ctx)
    for i in range(1000):
        step = pw if i & 1 else final
        if i % 3:
            step += sl
        if i % 7:
            step += pw
        step += final if i & 1 else pw
        final = md5(step)
    f = final
    encoded = (
        _to64((f[0] << 16) | (f[6] << 8) | f[12], 4)
        + _to64((f[1] << 16) | (f[7] << 8) | f[13], 4)
        + _to64((f[2] << 16) | (f[8] << 8) | f[14], 4)
        + _to64((f[3] << 16) | (f[9] << 8) | f[15], 4)
        + _to64((f[4] << 16) | (f[10] << 8) | f[5], 4)
        + _to64(f[11], 2)
    )
    return f"{magic}{sl.decode()}${encoded}"


def hash_scheme() -> str:
    """"bcrypt" when libcrypt provides it, else "apr1" (the documented fallback)."""
    return "bcrypt" if _bcrypt("probe") else "apr1"


def htpasswd_hash(password: str) -> str:
    """The hash part of an htpasswd entry: bcrypt, or apr1 when bcrypt is unavailable."""
    hashed = _bcrypt(password)
    if hashed:
        return hashed
    salt = "".join(secrets.choice(_ITOA64) for _ in range(8))
    return apr1(password, salt)


def can_verify(hashed: str) -> bool:
    """apr1 is verified in Python; every other scheme needs the system's libcrypt."""
    return hashed.startswith("$apr1$") or _libcrypt("probe", hashed) is not None


def htpasswd_verify(password: str, hashed: str) -> bool:
    """Does `hashed` (bcrypt, sha-crypt or apr1) match `password`? Constant-time compare."""
    if hashed.startswith("$apr1$"):
        salt = hashed[len("$apr1$"):].split("$", 1)[0]
        computed: str | None = apr1(password, salt)
    else:
        # Apache writes bcrypt as $2y$; libxcrypt accepts $2y$ and answers in the same prefix.
        computed = _libcrypt(password, hashed)
    return computed is not None and hmac.compare_digest(computed, hashed)
