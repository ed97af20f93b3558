"""The edge's configuration for a bare host (the `traefik` Ansible role), from the model.

    python -m infra.cli.edge_config --stack dev --out DIR --admin-address 10.77.0.11 \\
        --upstream api-gateway=http://10.77.0.12:4000 --upstream prometheus=http://...

writes `DIR/traefik.yml` (static) and `DIR/dynamic/edge.yml` (the file provider's dynamic
file) with the same builders as the Docker target (`infra.edge.traefik.static_config` and
`dynamic_config`): only what a bare host changes is passed through their keywords, i.e. the
internal entry point on the host's admin address, the services' upstream URLs, the paths of
the users file, the certificate pair and the ACME store on the host.

TLS follows the stack: `acme` keeps Traefik's own resolver (HTTP-01 or TLS-ALPN as the stack
says); `self-signed` serves a pair from a lab CA kept in `--ca-dir` (made once, reused), the
leaf written to `DIR/certs/` and renewed only when it nears expiry or the CA changed, so a
second run writes the same bytes. `--admin-password-file` makes `DIR/users` (htpasswd, one
user), kept while it still matches the password (bcrypt salts are random).

Exit codes: 0 written; 2 bad input (unknown stack, a missing upstream, a bad option).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from infra.edge import traefik
from infra.model.types import Platform
from infra.secrets.htpasswd import htpasswd_hash, htpasswd_verify

# Where the role puts things on the host (roles/traefik/vars/main.yml uses the same paths).
HOST_CONFIG_DIR = "/etc/traefik"
HOST_DYNAMIC = f"{HOST_CONFIG_DIR}/dynamic/edge.yml"
HOST_USERS = f"{HOST_CONFIG_DIR}/users"
HOST_CERT = f"{HOST_CONFIG_DIR}/certs/edge.crt"
HOST_KEY = f"{HOST_CONFIG_DIR}/certs/edge.key"
HOST_ACME = "/var/lib/traefik/acme/acme.json"

ADMIN_USER = "admin"
CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(hours=traefik.SELF_SIGNED_VALIDITY_H)
LEAF_RENEW_BEFORE = dt.timedelta(days=7)


class RenderError(ValueError):
    """Bad input: named, nothing written."""


def platform_of(stack_name: str, admin_allowlist: Sequence[str] = ()) -> Platform:
    """The stack's platform; `admin_allowlist` replaces the stack's admin allowlist (a lab
    narrows it so that one lab host is outside)."""
    from infra import program
    from infra import stack as stacks

    try:
        stack = stacks.load(stack_name)
    except Exception as exc:  # the stack loader names the file and field
        raise RenderError(f"stack '{stack_name}': {exc}") from exc
    if admin_allowlist:
        for net in admin_allowlist:
            try:
                ipaddress.ip_network(net)
            except ValueError as exc:
                raise RenderError(f"--admin-allowlist {net!r}: {exc}") from None
        stack = stacks.from_values(
            {**stack.values, "adminAllowlist": list(admin_allowlist)}, name=stack.name,
            source=stack.source, root=stack.project_dir, positions=stack.positions)
    return program.platform_of(stack)


def _upstreams(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, url = pair.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise RenderError(f"--upstream {pair!r}: expected SERVICE=http(s)://HOST:PORT")
        out[name] = url
    return out


def render(platform: Platform, *, admin_address: str, upstream: dict[str, str],
           ports: tuple[int, int] = (traefik.WEB_PORT, traefik.WEBSECURE_PORT),
           ) -> tuple[str, str]:
    """(traefik.yml, dynamic/edge.yml) of a bare host, as YAML text."""
    self_signed = platform.edge.tls_mode != "acme"
    routed = {s.name for s in traefik.routed_services(platform)} - {traefik.SERVICE}
    extra = sorted(set(upstream) - routed)
    if extra:
        raise RenderError(f"--upstream for services the edge does not route: {', '.join(extra)}"
                          f" (routed: {', '.join(sorted(routed))})")
    static = traefik.static_config(
        platform, ports=ports, internal_host=admin_address,
        providers={"file": {"filename": HOST_DYNAMIC, "watch": False}},
        acme_storage_path=HOST_ACME)
    try:
        dynamic = traefik.dynamic_config(
            platform, upstream=upstream, users_file=HOST_USERS,
            certificate=(HOST_CERT, HOST_KEY) if self_signed else None)
    except traefik.EdgeConfigError as exc:
        raise RenderError(str(exc)) from None
    return traefik.to_yaml(static), traefik.to_yaml(dynamic)


def _write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    """Atomic, and only when the bytes differ (so the role sees no change)."""
    data = text.encode() if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _constrained_to(cert: x509.Certificate, domain: str) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return False
    return [n.value for n in ext.permitted_subtrees or ()] == [domain]


def lab_ca(ca_dir: Path, domain: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The lab CA (ca.crt, ca.key 0600 in `ca_dir`), made on first use. Name-constrained
    (critical) to `domain` and its subdomains: a client that trusts it to reach the lab edge
    trusts it for nothing else, should its key leak. A CA without that constraint (or for
    another domain) is replaced."""
    cert_path, key_path = ca_dir / "ca.crt", ca_dir / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if _constrained_to(cert, domain):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rampart lab edge CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.NameConstraints(permitted_subtrees=[x509.DNSName(domain)],
                                                excluded_subtrees=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    ca_dir.mkdir(parents=True, exist_ok=True)
    _write(key_path, _pem_key(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _leaf_current(cert_path: Path, key_path: Path, ca: x509.Certificate,
                  names: Sequence[str]) -> bool:
    if not (cert_path.exists() and key_path.exists()):
        return False
    leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):  # signature or issuer mismatch
        return False
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    if sorted(sans.get_values_for_type(x509.DNSName)) != sorted(names):
        return False
    return leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > LEAF_RENEW_BEFORE


def lab_certificate(platform: Platform, ca_dir: Path, out: Path) -> None:
    """`out/certs/edge.crt` (leaf + CA) and `edge.key` for the domain and its subdomains, as
    the stack's self-signed certificate covers them, issued by the lab CA."""
    domain = platform.edge.domain
    ca, ca_key = lab_ca(ca_dir, domain)
    names = [domain, f"*.{domain}"]
    cert_path, key_path = out / "certs" / "edge.crt", out / "certs" / "edge.key"
    if _leaf_current(cert_path, key_path, ca, names):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    _write(key_path, _pem_key(key), 0o600)
    _write(cert_path, leaf.public_bytes(serialization.Encoding.PEM)
           + ca.public_bytes(serialization.Encoding.PEM))


_HTPASSWD_LINE = re.compile(r"^[A-Za-z0-9._-]{1,64}:(\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"
                            r"|\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22})$")


def users_entry(htpasswd_file: Path, out: Path) -> None:
    """`out/users` from one stored `user:hash` htpasswd entry (the catalog's
    TRAEFIK_DASHBOARD_HTPASSWD, as `rampart secrets bootstrap` writes it): copied, never
    re-hashed, so a rotation in Vault reaches the edge on the next run."""
    lines = htpasswd_file.read_text().strip().splitlines()
    if len(lines) != 1 or not _HTPASSWD_LINE.match(lines[0].strip()):
        # Never the content: it is a credential.
        raise RenderError(f"{htpasswd_file}: expected one `user:hash` htpasswd line "
                          "(bcrypt $2b$ or apr1)")
    _write(out / "users", lines[0].strip() + "\n", 0o600)


def users_file(password_file: Path, out: Path) -> None:
    """`out/users`: one htpasswd line for ADMIN_USER, rewritten only when the password
    changed."""
    password = password_file.read_text().strip()
    if not password:
        raise RenderError(f"{password_file}: empty admin password")
    path = out / "users"
    if path.exists():
        user, _, hashed = path.read_text().strip().partition(":")
        if user == ADMIN_USER and htpasswd_verify(password, hashed):
            return
    _write(path, f"{ADMIN_USER}:{htpasswd_hash(password)}\n", 0o600)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cli.edge_config",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name (dev, prod)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--admin-address", required=True,
                        help="the host's admin address: the internal (metrics, ping) entry point")
    parser.add_argument("--upstream", action="append", default=[], metavar="SERVICE=URL",
                        help="where a routed service answers (every routed service)")
    parser.add_argument("--admin-allowlist", action="append", default=[], metavar="CIDR",
                        help="replaces the stack's admin allowlist (repeatable)")
    parser.add_argument("--ca-dir", type=Path,
                        help="lab CA directory (self-signed stacks): made on first use")
    users = parser.add_mutually_exclusive_group()
    users.add_argument("--admin-password-file", type=Path,
                       help="write OUT/users (htpasswd) for user 'admin' with this password")
    users.add_argument("--admin-htpasswd-file", type=Path,
                       help="write OUT/users from this one `user:hash` htpasswd entry")
    args = parser.parse_args(argv)
    try:
        ipaddress.ip_address(args.admin_address)
        platform = platform_of(args.stack, args.admin_allowlist)
        static, dynamic = render(platform, admin_address=args.admin_address,
                                 upstream=_upstreams(args.upstream))
        if platform.edge.tls_mode != "acme":
            if args.ca_dir is None:
                raise RenderError(f"stack '{args.stack}' is self-signed: --ca-dir is required")
            lab_certificate(platform, args.ca_dir, args.out)
        if args.admin_password_file is not None:
            users_file(args.admin_password_file, args.out)
        if args.admin_htpasswd_file is not None:
            users_entry(args.admin_htpasswd_file, args.out)
    except (RenderError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _write(args.out / "traefik.yml", static)
    _write(args.out / "dynamic" / "edge.yml", dynamic)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
