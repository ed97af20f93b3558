"""htpasswd hashes: bcrypt through the system's libcrypt, Apache's apr1 as the fallback.

Shared by generation (infra/secrets/generate.py) and the strength check
(infra/secrets/strength.py), which verifies a stored hash against its stored password; neither
imports the other. MD5 inside apr1 is mandated by the format, not chosen.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import secrets
import threading

BCRYPT_COST = 12

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
