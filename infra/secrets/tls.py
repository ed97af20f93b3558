"""TLS material kept in Vault: a service's private key travels with its certificate and CA.

The catalog declares all three with kind `tls-key` (the certificate and CA are not secret, but
must change together with the key). Which is which follows from the name, by suffix:
`*_CA`, `*_CA_CERT` -> the CA certificate; `*_CERT`, `*_CRT` -> the service certificate; any
other name -> the private key. The members of one service are generated and rotated together:
a private CA (its key is discarded: the next rotation makes a new CA), a certificate for the
service's DNS name signed by it, and the key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.model.types import SecretKind

from .plan import SecretSpec

Role = Literal["ca", "cert", "key"]
CERT_DAYS = 397  # the public-CA maximum; rotation renews long before
MIN_REMAINING = dt.timedelta(days=14)


def tls_role(name: str) -> Role:
    upper = name.upper()
    if upper.endswith(("_CA", "_CA_CERT", "_CA_CRT")):
        return "ca"
    if upper.endswith(("_CERT", "_CRT", "_CERTIFICATE")):
        return "cert"
    return "key"


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def generate_set(service: str, *, days: int = CERT_DAYS) -> dict[Role, str]:
    """A fresh CA, a key and a certificate for `service` (DNS name, localhost, 127.0.0.1)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"rampart {service} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(service), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return {
        "ca": ca.public_bytes(serialization.Encoding.PEM).decode(),
        "cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "key": _pem_key(key),
    }


def certificate_reasons(value: str, *, is_ca: bool) -> list[str]:
    """A PEM certificate that parses, is still valid for a while, with a strong key."""
    try:
        cert = x509.load_pem_x509_certificate(value.encode())
    except ValueError:
        return ["is not a PEM certificate"]
    reasons: list[str] = []
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if remaining <= dt.timedelta(0):
        reasons.append("certificate has expired (rotate it)")
    elif remaining < MIN_REMAINING:
        reasons.append(f"certificate expires in {remaining.days} days (rotate it)")
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < 2048:
        reasons.append(f"certificate has an RSA key of {public.key_size} bits, needs 2048")
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.key_size < 256:
        reasons.append("certificate has an EC key under 256 bits")
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        ca_flag = basic.ca
    except x509.ExtensionNotFound:
        ca_flag = False
    if is_ca and not ca_flag:
        reasons.append("is not a CA certificate")
    return reasons


def set_reasons(members: dict[Role, str]) -> list[str]:
    """Cross-member rules: the certificate belongs to the key and was issued by the CA."""
    reasons: list[str] = []
    try:
        cert = x509.load_pem_x509_certificate(members["cert"].encode()) \
            if "cert" in members else None
        key = serialization.load_pem_private_key(members["key"].encode(), password=None) \
            if "key" in members else None
        ca = x509.load_pem_x509_certificate(members["ca"].encode()) if "ca" in members else None
    except (ValueError, TypeError):
        return []  # the per-member rules already name the unparsable member
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if cert is not None and key is not None and \
            cert.public_key().public_bytes(der, pub) != key.public_key().public_bytes(der, pub):
        reasons.append("certificate does not belong to the private key")
    if cert is not None and ca is not None:
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):
            reasons.append("certificate was not issued by the CA stored with it")
    return reasons


def tls_sets(specs: tuple[SecretSpec, ...]) -> dict[str, tuple[SecretSpec, ...]]:
    """owner -> its tls-key secrets, for owners whose TLS material includes a certificate or
    CA (those members must be generated and rotated together)."""
    by_owner: dict[str, list[SecretSpec]] = {}
    for spec in specs:
        if spec.kind is SecretKind.TLS_KEY:
            by_owner.setdefault(spec.owner, []).append(spec)
    return {owner: tuple(members) for owner, members in by_owner.items()
            if any(tls_role(m.name) != "key" for m in members)}
