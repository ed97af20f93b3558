"""Strength rules per secret kind. Pure functions: no I/O, no Vault.

Every function returns *reasons* ("on the denylist of known default or weak values"), never
the value, so callers can print them freely. `evaluate` applies the per-value rules and the
one cross-secret rule (no value shared between two stored secrets).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from infra.model.types import SecretKind

from .htpasswd import can_verify, htpasswd_verify
from .weak import DENYLIST_EXACT, PASSWORD_MIN_BITS, estimated_bits


@dataclass(frozen=True)
class Rule:
    """Minimums for one kind. Entropy is the estimate of `estimated_bits`."""

    min_length: int
    min_bits: int


# Why these figures: passwords are machine-generated and machine-read, so there is no
# memorability trade-off; 80 bits is beyond online and offline guessing. Peppers and API keys
# protect every stored hash / every client at once: 128 bits. JWT HS256 keys must carry at
# least as many bits as the hash output (RFC 7518 §3.2): 256.
RULES: Mapping[SecretKind, Rule] = {
    SecretKind.PASSWORD: Rule(min_length=16, min_bits=PASSWORD_MIN_BITS),
    SecretKind.HTPASSWD: Rule(min_length=16, min_bits=80),  # applies to the plaintext password
    SecretKind.PEPPER: Rule(min_length=32, min_bits=128),
    SecretKind.API_KEY: Rule(min_length=24, min_bits=128),
    SecretKind.JWT_SIGNING_KEY: Rule(min_length=32, min_bits=256),
}

# Fragments that make any value weak wherever they appear (compared lower-cased). Only
# fragments of five characters or more: a random 32-character value contains a given
# five-letter word with odds of about 1 in 10^8, so generated values are never flagged.
DENYLIST_FRAGMENTS: tuple[str, ...] = (
    "change-in-production", "changeinproduction", "change_in_production", "changeme",
    "change-me", "change_me", "changeit", "password", "passw0rd", "p@ssw0rd", "secret",
    "minioadmin", "minio123", "erpgo", "default", "example", "letmein", "admin", "guest",
    "qwerty", "qwertz", "azerty", "asdfgh", "zxcvbn", "12345", "54321", "abcdef",
)

# Runs this long of one character or of consecutive code points ("abcdef", "654321") are
# patterns, not randomness. Six rather than five so that a random 64-hex key (16-symbol
# alphabet) is flagged less than once in ten thousand.
_RUN_LIMIT = 6
_MIN_DISTINCT = 8


def _is_repetition(value: str) -> bool:
    """True when the value is a shorter unit repeated ("abcabcabc", "xyxyxyxy")."""
    return len(value) > 1 and (value + value).find(value, 1) < len(value)


def _longest_run(value: str) -> tuple[int, int]:
    """(longest run of one character, longest run of consecutive code points +1/-1)."""
    same = seq = best_same = best_seq = 1
    direction = 0
    for prev, cur in zip(value, value[1:], strict=False):
        step = ord(cur) - ord(prev)
        same = same + 1 if step == 0 else 1
        if step in (1, -1) and step == direction:
            seq += 1
        elif step in (1, -1):
            seq, direction = 2, step
        else:
            seq, direction = 1, 0
        best_same, best_seq = max(best_same, same), max(best_seq, seq)
    return best_same, best_seq


def pattern_reasons(value: str) -> list[str]:
    """Weaknesses every kind shares: empty, denylisted, repeated, sequential, low variety."""
    if not value.strip():
        return ["is empty"]
    reasons: list[str] = []
    lowered = value.strip().lower()
    if lowered in DENYLIST_EXACT:
        reasons.append("is on the denylist of known default or weak values")
    else:
        if any(frag in lowered for frag in DENYLIST_FRAGMENTS):
            # The fragment is not named: it is part of the value.
            reasons.append("contains a known default or weak word")
    if _is_repetition(value):
        reasons.append("is a repeated pattern")
    same, seq = _longest_run(value)
    if same >= _RUN_LIMIT:
        reasons.append(f"repeats one character {same} times in a row")
    if seq >= _RUN_LIMIT:
        reasons.append(f"contains a sequential run of {seq} characters")
    if len(value) >= 16 and len(set(value)) < _MIN_DISTINCT:
        reasons.append(f"uses only {len(set(value))} distinct characters")
    return reasons


def _rule_reasons(value: str, rule: Rule, what: str) -> list[str]:
    reasons: list[str] = []
    size = len(value.encode()) if what == "key" else len(value)
    unit = "bytes" if what == "key" else "characters"
    if size < rule.min_length:
        reasons.append(f"is shorter than {rule.min_length} {unit}")
    bits = estimated_bits(value)
    if bits < rule.min_bits:
        reasons.append(f"has about {int(bits)} bits of entropy, needs at least {rule.min_bits}")
    return reasons


def _tls_key_reasons(value: str) -> list[str]:
    """A PEM private key that parses, unencrypted (the runtime must read it), big enough."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError):
        return ["is not an unencrypted PEM private key"]
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        return [f"is an RSA key of {key.key_size} bits, needs at least 2048"]
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < 256:
        return [f"is an EC key on a {key.curve.key_size}-bit curve, needs at least 256"]
    if isinstance(key, dsa.DSAPrivateKey):
        return ["is a DSA key; use EC, Ed25519 or RSA"]
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        return ["is a private key of an unsupported type"]
    return []


_HTPASSWD_LINE = re.compile(r"^(?P<user>[^:\s]+):(?P<hash>\S+)$")
# Hash schemes web servers and Traefik accept that are worth accepting: bcrypt first,
# SHA-512/256-crypt and apr1 as documented fallbacks. {SHA}, plain and DES crypt are refused.
_STRONG_HASH_PREFIXES = ("$2y$", "$2b$", "$2a$", "$6$", "$5$", "$apr1$")


def _htpasswd_reasons(entry: str, password: str | None) -> list[str]:
    match = _HTPASSWD_LINE.match(entry.strip())
    if not match:
        return ["is not a single `user:hash` htpasswd entry"]
    reasons: list[str] = []
    if not match["hash"].startswith(_STRONG_HASH_PREFIXES):
        reasons.append("uses a weak or unknown htpasswd hash scheme (need bcrypt)")
    if password is None:
        reasons.append("has no stored plaintext password to check")
        return reasons
    if not can_verify(match["hash"]):
        reasons.append("hash cannot be verified on this machine (libcrypt without bcrypt)")
    elif not htpasswd_verify(password, match["hash"]):
        reasons.append("hash does not match its stored password")
    return reasons + [
        f"password {r}" for r in
        pattern_reasons(password) + _rule_reasons(password, RULES[SecretKind.HTPASSWD], "text")
    ]


def check_value(
    kind: SecretKind, value: str, *, password: str | None = None, context: tuple[str, ...] = (),
    name: str = "",
) -> list[str]:
    """Reasons the value is not acceptable for `kind` (empty list = strong).

    `password` is the plaintext of an htpasswd entry; `context` holds words that must not
    appear in the value (the service and secret names: "postgres-password-2024" is weak);
    `name` tells a tls-key secret's certificate and CA members from its key (see tls.py).
    """
    if kind is SecretKind.TLS_KEY:
        from .tls import certificate_reasons, tls_role

        role = tls_role(name)
        if role != "key":
            return certificate_reasons(value, is_ca=role == "ca")
        return _tls_key_reasons(value)
    if kind is SecretKind.HTPASSWD:
        return _htpasswd_reasons(value, password)
    reasons = pattern_reasons(value)
    if reasons == ["is empty"]:
        return reasons
    lowered = value.lower()
    for word in context:
        if len(word) >= 4 and word.lower() in lowered:
            reasons.append("contains its own service or secret name")
            break
    what = "key" if kind is SecretKind.JWT_SIGNING_KEY else "text"
    return reasons + _rule_reasons(value, RULES[kind], what)


def _is_public_tls(name: str) -> bool:
    from .tls import tls_role

    return tls_role(name) != "key"


@dataclass(frozen=True)
class Candidate:
    """A stored value to judge; `label` names it in findings (never the value)."""

    label: str
    kind: SecretKind
    value: str
    password: str | None = None  # htpasswd plaintext
    context: tuple[str, ...] = ()
    name: str = ""  # the catalog name (tells TLS certificate members from keys)


def evaluate(candidates: list[Candidate]) -> dict[str, list[str]]:
    """Per-value rules plus the cross-secret rule. Returns label -> reasons, failing only.

    Values are compared by SHA-256 digest so no second copy of any plaintext is kept around.
    A secret the catalog shares (`shared_from`) is stored once, so a duplicate value between
    two stored secrets is always an undeclared share.
    """
    failures: dict[str, list[str]] = {}
    by_digest: dict[str, list[str]] = {}
    for cand in candidates:
        if cand.kind is SecretKind.TLS_KEY and cand.name and _is_public_tls(cand.name):
            # Certificates are public and legitimately identical (a CA shared by name): they
            # get the certificate rules only, not the sharing rule.
            reasons = check_value(cand.kind, cand.value, name=cand.name)
            if reasons:
                failures[cand.label] = reasons
            continue
        reasons = check_value(cand.kind, cand.value, password=cand.password,
                              context=cand.context, name=cand.name)
        if reasons:
            failures[cand.label] = reasons
        material = cand.password if cand.kind is SecretKind.HTPASSWD else cand.value
        if material:
            digest = hashlib.sha256(material.encode()).hexdigest()
            by_digest.setdefault(digest, []).append(cand.label)
    for labels in by_digest.values():
        if len(labels) < 2:
            continue
        for label in labels:
            others = ", ".join(other for other in labels if other != label)
            failures.setdefault(label, []).append(
                f"has the same value as {others} (not declared shared in the catalog)"
            )
    return failures
