"""Strength rules per secret kind (no network, no Vault)."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from infra.model.types import SecretKind
from infra.secrets.generate import generate
from infra.secrets.htpasswd import apr1, hash_scheme, htpasswd_hash, htpasswd_verify
from infra.secrets.strength import (
    DENYLIST_EXACT,
    RULES,
    Candidate,
    check_value,
    estimated_bits,
    evaluate,
)

pytestmark = pytest.mark.unit

P = SecretKind.PASSWORD
# 24 chars, mixed classes, no patterns (a test value, used nowhere else)
STRONG_PASSWORD = "Qm7Zr2Lp9xWm4nKt8vBc1yHd"  # noqa: S105


def reasons_for(kind: SecretKind, value: str, **kw: object) -> list[str]:
    reasons = check_value(kind, value, **kw)  # type: ignore[arg-type]
    for reason in reasons:
        # The rule under every other rule: a reason never repeats the value.
        # (The fixed wording itself may coincide with a short denylisted word like "default".)
        text = reason.replace("known default or weak", "")
        assert len(value) < 5 or value not in text, f"reason {reason!r} repeats the value"
    return reasons


@pytest.mark.parametrize("value", sorted(DENYLIST_EXACT))
def test_every_denylisted_value_is_refused(value: str) -> None:
    reasons = reasons_for(P, value)
    assert "is on the denylist of known default or weak values" in reasons, value


@pytest.mark.parametrize(("kind", "value"), [
    (SecretKind.PEPPER, "erpgo-secret-pepper-change-in-production"),
    (P, "minio123"),
    (P, "minioadmin"),
    (P, "changeme"),
    (P, "guest"),
    (P, "postgres"),
    (SecretKind.JWT_SIGNING_KEY, "your-256-bit-secret"),
    (P, "  ChangeMe "),
    (P, "MINIOADMIN"),
])
def test_platform_and_vendor_defaults_refused(kind: SecretKind, value: str) -> None:
    assert "is on the denylist of known default or weak values" in reasons_for(kind, value)


@pytest.mark.parametrize("value", [
    "Qm7Zr2Lp9xWm4nKt-password-8vBc",
    "erpgo-Qm7Zr2Lp9xWm4nKt8vBc1yHd",
    "Qm7Zr2Lp9xWm4nKtADMIN8vBc1yHd",
    "Qm7Zr2Lp9x-change-in-production",
])
def test_known_weak_words_inside_a_value_refused(value: str) -> None:
    assert "contains a known default or weak word" in reasons_for(P, value)


@pytest.mark.parametrize(("value", "reason"), [
    ("kX9#kX9#kX9#kX9#kX9#kX9#", "is a repeated pattern"),
    ("Qm7Zabcdefgh2Lp9xWm4nKt", "contains a sequential run of 8 characters"),
    ("Qm7Z9876542Lp9xWm4nKtx", "contains a sequential run of 6 characters"),
    ("Qm7Zr2Lp0000000Wx81Lp9", "repeats one character 7 times in a row"),
    ("aabbccaabbccddaaccbbdd", "uses only 4 distinct characters"),
    ("", "is empty"),
    ("   ", "is empty"),
])
def test_patterns_refused(value: str, reason: str) -> None:
    assert reason in reasons_for(P, value)


def test_strong_password_passes() -> None:
    assert reasons_for(P, STRONG_PASSWORD) == []


def test_short_password_refused_with_minimum_named() -> None:
    assert "is shorter than 16 characters" in reasons_for(P, "Qm7Zr2Lp9xWm4")


def test_low_entropy_password_refused() -> None:
    # 20 characters, but lower-case letters only: about 94 bits -> fine; digits only: 66 bits.
    assert reasons_for(P, "qmzrlpxwmnktvbcyhdsf") == []
    reasons = reasons_for(P, "83920571648203957162")
    assert any("needs at least 80" in r for r in reasons), reasons


def test_value_containing_its_service_name_refused() -> None:
    reasons = check_value(P, "postgresQm7Zr2Lp9xWm4nKt", context=("postgres", "POSTGRES_PASSWORD"))
    assert "contains its own service or secret name" in reasons


class TestJwtSigningKey:
    K = SecretKind.JWT_SIGNING_KEY

    def test_32_random_alphanumerics_are_below_256_bits(self) -> None:
        value = "".join(secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                        for _ in range(32))
        reasons = reasons_for(self.K, value)
        assert any("needs at least 256" in r for r in reasons), reasons

    def test_64_hex_characters_are_exactly_256_bits(self) -> None:
        value = "3f9a1c7e5b2d8046f1e3a5c7b9d0e2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b7"
        assert estimated_bits(value) == 256
        assert reasons_for(self.K, value) == []

    def test_token_urlsafe_32_bytes_passes(self) -> None:
        for _ in range(20):
            value = secrets.token_urlsafe(32)
            assert reasons_for(self.K, value) == [], "43 url-safe characters carry 256+ bits"

    def test_short_key_refused_in_bytes(self) -> None:
        assert "is shorter than 32 bytes" in reasons_for(self.K, "Qm7Zr2Lp9xWm4nKt8vBc1yHd")

    def test_rule_is_256_bits(self) -> None:
        assert RULES[self.K].min_bits == 256


def test_pepper_and_api_key_need_128_bits() -> None:
    assert RULES[SecretKind.PEPPER].min_bits == 128
    assert RULES[SecretKind.API_KEY].min_bits == 128
    reasons = reasons_for(SecretKind.PEPPER, STRONG_PASSWORD)
    assert "is shorter than 32 characters" in reasons


class TestHtpasswd:
    H = SecretKind.HTPASSWD

    def test_bcrypt_entry_with_strong_password_passes(self) -> None:
        entry = f"traefik-admin:{htpasswd_hash(STRONG_PASSWORD)}"
        assert reasons_for(self.H, entry, password=STRONG_PASSWORD) == []

    def test_weak_plaintext_refused(self) -> None:
        reasons = reasons_for(self.H, f"admin:{htpasswd_hash('admin')}",
                              password="admin")  # noqa: S106 - the weak value under test
        assert "password is on the denylist of known default or weak values" in reasons

    def test_sha1_scheme_refused(self) -> None:
        entry = "admin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        reasons = reasons_for(self.H, entry, password=STRONG_PASSWORD)
        assert "uses a weak or unknown htpasswd hash scheme (need bcrypt)" in reasons

    def test_hash_not_matching_password_refused(self) -> None:
        entry = f"admin:{htpasswd_hash(STRONG_PASSWORD)}"
        assert "hash does not match its stored password" in reasons_for(
            self.H, entry, password=STRONG_PASSWORD + "x")

    def test_not_an_entry_refused(self) -> None:
        assert "is not a single `user:hash` htpasswd entry" in reasons_for(
            self.H, "no colon here", password=STRONG_PASSWORD)

    def test_apr1_fallback_matches_apache_vector(self) -> None:
        # `openssl passwd -apr1 -salt abcdefgh hello`
        assert apr1("hello", "abcdefgh") == "$apr1$abcdefgh$cy3DSYyOwfhsyu7QOMQzd."
        assert htpasswd_verify("hello", "$apr1$abcdefgh$cy3DSYyOwfhsyu7QOMQzd.")
        assert not htpasswd_verify("hellO", "$apr1$abcdefgh$cy3DSYyOwfhsyu7QOMQzd.")

    def test_bcrypt_available_on_this_controller(self) -> None:
        # Debian/Ubuntu libxcrypt provides bcrypt; if this fails, entries fall back to apr1.
        assert hash_scheme() == "bcrypt"
        assert htpasswd_hash("x").startswith("$2b$12$")


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()


class TestTlsKey:
    T = SecretKind.TLS_KEY

    def test_ec_p256_passes(self) -> None:
        assert reasons_for(self.T, _pem(ec.generate_private_key(ec.SECP256R1()))) == []

    def test_ed25519_passes(self) -> None:
        assert reasons_for(self.T, _pem(ed25519.Ed25519PrivateKey.generate())) == []

    def test_rsa_1024_refused(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose
        assert "is an RSA key of 1024 bits, needs at least 2048" in reasons_for(self.T, _pem(key))

    def test_garbage_refused(self) -> None:
        assert reasons_for(self.T, "not a key") == ["is not an unencrypted PEM private key"]

    def test_encrypted_key_refused(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(b"pw")).decode()
        assert reasons_for(self.T, pem) == ["is not an unencrypted PEM private key"]


@pytest.mark.parametrize("kind", list(SecretKind))
def test_generated_values_pass_their_own_rules(kind: SecretKind) -> None:
    for _ in range(3 if kind is SecretKind.HTPASSWD else 50):
        gen = generate(kind, username="svc-admin", context=("svc", "NAME", "name"))
        assert reasons_for(kind, gen.value, password=gen.extra.get("password")) == [], kind


def test_generated_values_differ() -> None:
    values = {generate(SecretKind.PASSWORD).value for _ in range(100)}
    assert len(values) == 100


class TestEvaluate:
    def test_value_shared_by_two_secrets_flags_both_by_name(self) -> None:
        failures = evaluate([
            Candidate("postgres/POSTGRES_PASSWORD", P, STRONG_PASSWORD),
            Candidate("redis/REDIS_PASSWORD", P, STRONG_PASSWORD),
            Candidate("minio/MINIO_ROOT_PASSWORD", P, "Zp4Lk8Wq2Rt6Yx1Mv5Nb9Hc3"),
        ])
        assert set(failures) == {"postgres/POSTGRES_PASSWORD", "redis/REDIS_PASSWORD"}
        assert "has the same value as redis/REDIS_PASSWORD (not declared shared in the catalog)" \
            in failures["postgres/POSTGRES_PASSWORD"]
        assert all(STRONG_PASSWORD not in r for rs in failures.values() for r in rs)

    def test_htpasswd_compared_by_password(self) -> None:
        entry = f"a:{htpasswd_hash(STRONG_PASSWORD)}"
        failures = evaluate([
            Candidate("traefik/HTPASSWD", SecretKind.HTPASSWD, entry, password=STRONG_PASSWORD),
            Candidate("redis/REDIS_PASSWORD", P, STRONG_PASSWORD),
        ])
        assert set(failures) == {"traefik/HTPASSWD", "redis/REDIS_PASSWORD"}

    def test_distinct_strong_values_pass(self) -> None:
        assert evaluate([
            Candidate("a/X", P, generate(P).value),
            Candidate("b/Y", P, generate(P).value),
        ]) == {}
