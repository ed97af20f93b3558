"""TLS material in Vault: roles by name, coherent sets, certificate rules (no network)."""

from __future__ import annotations

import pytest

from infra.model.types import SecretKind
from infra.secrets.strength import check_value
from infra.secrets.tls import generate_set, set_reasons, tls_role

pytestmark = pytest.mark.unit
T = SecretKind.TLS_KEY


@pytest.mark.parametrize(("name", "role"), [
    ("EVENTSTOREDB_CA", "ca"), ("KAFKA_CA_CERT", "ca"), ("X_CA_CRT", "ca"),
    ("EVENTSTOREDB_TLS_CERT", "cert"), ("X_CRT", "cert"), ("X_CERTIFICATE", "cert"),
    ("EVENTSTOREDB_TLS_KEY", "key"), ("DEFAULT_TLS_KEY", "key"), ("CACHE_KEY", "key"),
])
def test_role_from_name(name: str, role: str) -> None:
    assert tls_role(name) == role


def test_generated_set_is_coherent_and_passes() -> None:
    tls = generate_set("eventstoredb")
    assert check_value(T, tls["key"], name="ES_TLS_KEY") == []
    assert check_value(T, tls["cert"], name="ES_TLS_CERT") == []
    assert check_value(T, tls["ca"], name="ES_CA") == []
    assert set_reasons(tls) == []


def test_certificate_of_another_key_refused() -> None:
    one, other = generate_set("a"), generate_set("a")
    reasons = set_reasons({"key": other["key"], "cert": one["cert"], "ca": one["ca"]})
    assert reasons == ["certificate does not belong to the private key"]


def test_certificate_of_another_ca_refused() -> None:
    one, other = generate_set("a"), generate_set("a")
    reasons = set_reasons({"key": one["key"], "cert": one["cert"], "ca": other["ca"]})
    assert reasons == ["certificate was not issued by the CA stored with it"]


def test_certificate_about_to_expire_refused() -> None:
    tls = generate_set("a", days=3)
    assert any("expires in" in r for r in check_value(T, tls["cert"], name="A_CERT"))


def test_leaf_certificate_is_not_a_ca() -> None:
    tls = generate_set("a")
    assert "is not a CA certificate" in check_value(T, tls["cert"], name="A_CA")


def test_key_in_place_of_certificate_refused() -> None:
    tls = generate_set("a")
    assert check_value(T, tls["key"], name="A_CERT") == ["is not a PEM certificate"]
    assert check_value(T, tls["cert"], name="A_KEY") == ["is not an unencrypted PEM private key"]
