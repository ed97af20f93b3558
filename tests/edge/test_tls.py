"""TLS as a client meets it: protocol versions, TLS 1.2 cipher suites, strict SNI."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from dataclasses import dataclass

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.integration

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# Traefik's (Go's) names of the minimum versions the model allows.
MIN_VERSIONS = {"VersionTLS12": ssl.TLSVersion.TLSv1_2, "VersionTLS13": ssl.TLSVersion.TLSv1_3}
# The client's own floor lowered, so a refusal of TLS 1.0/1.1 is the server's, not OpenSSL's.
ANY_CIPHER = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


def _client(version: ssl.TLSVersion, edge: h.Edge, *, verify: bool = True,
            ciphers: str = ANY_CIPHER) -> ssl.SSLContext:
    ctx = edge.context(verify=verify)
    ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        # Offering TLS 1.0/1.1 is the point of the probe.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def _local_handshake(edge: h.Edge, version: ssl.TLSVersion) -> str:
    """Handshake the same client context with a Python server that allows every version:
    proof that this client can speak `version`, so a refusal by the edge is the edge's."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.set_ciphers(ANY_CIPHER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    server_ctx.load_cert_chain(str(edge.pki.cert_file), str(edge.pki.key_file))
    with socket.socket() as listener:
        listener.bind((h.LOOPBACK, 0))
        listener.listen(1)
        listener.settimeout(h.REQUEST_TIMEOUT_S)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, server_ctx.wrap_socket(conn, server_side=True):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        version_seen, _ = h.handshake(listener.getsockname()[1], edge.pki.names[0],
                                      _client(version, edge))
        thread.join(h.REQUEST_TIMEOUT_S)
    return version_seen


@pytest.mark.parametrize("version", list(VERSIONS))
def test_tls_version(edge: h.Edge, version: str) -> None:
    wanted = VERSIONS[version]
    accepted = wanted >= MIN_VERSIONS[edge.platform.edge.min_tls_version]
    host = edge.host("api-gateway")
    if accepted:
        got, _ = h.handshake(edge.websecure_port, host, _client(wanted, edge))
        assert got == version, f"{edge.name}: asked for {version}, negotiated {got}"
        return
    assert _local_handshake(edge, wanted) == version, "the client cannot offer " + version
    with pytest.raises(ssl.SSLError):
        got, _ = h.handshake(edge.websecure_port, host, _client(wanted, edge, verify=False))
        pytest.fail(f"{edge.name}: {version} accepted ({got}); minimum is "
                    f"{edge.platform.edge.min_tls_version}")


@dataclass(frozen=True)
class Suite:
    name: str  # OpenSSL's
    kx: str  # key exchange: ECDH / DH are ephemeral (forward secrecy)
    auth: str  # ECDSA / RSA / ...
    mac: str  # AEAD for GCM and ChaCha20-Poly1305


def _openssl_suites() -> dict[str, Suite]:
    """IANA name -> the suite as OpenSSL describes it, for every TLS 1.2 suite it knows."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command names the suites (IANA <-> OpenSSL); install openssl"
    out = subprocess.run([openssl, "ciphers", "-stdname", "-tls1_2", ANY_CIPHER],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    table = {}
    for line in out.splitlines():
        iana, _, name, *rest = line.split()
        fields = dict(f.split("=", 1) for f in rest if "=" in f)
        table[iana] = Suite(name, fields["Kx"], fields["Au"], fields["Mac"])
    return table


def _iana(go_name: str, table: dict[str, Suite]) -> str:
    # Go names the ChaCha20 suites without the IANA `_SHA256` suffix (crypto/tls has both).
    for candidate in (go_name, f"{go_name}_SHA256"):
        if candidate in table:
            return candidate
    raise AssertionError(f"suite {go_name} unknown to OpenSSL")


def test_only_configured_tls12_suites(edge: h.Edge) -> None:
    table = _openssl_suites()
    options = edge.dynamic["tls"]["options"]["default"]
    assert options["cipherSuites"] == list(traefik.TLS12_CIPHER_SUITES)
    configured = {_iana(s, table) for s in options["cipherSuites"]}
    # A certificate authenticates one family of suites: ECDSA or RSA.
    expected = {s for s in configured if table[s].auth == edge.pki.key_type}
    assert expected, f"{edge.name}: no configured suite fits a {edge.pki.key_type} certificate"
    by_name = {suite.name: iana for iana, suite in table.items()}
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers(ANY_CIPHER)
    candidates = sorted({c["name"] for c in probe.get_ciphers() if c["protocol"] != "TLSv1.3"})
    assert len(candidates) > 40, f"the client offers few TLS 1.2 suites: {candidates}"
    host = edge.host("api-gateway")
    accepted = set()
    for name in candidates:
        ctx = _client(ssl.TLSVersion.TLSv1_2, edge, ciphers=f"{name}:@SECLEVEL=0")
        try:
            _, negotiated = h.handshake(edge.websecure_port, host, ctx)
        except (ssl.SSLError, ConnectionError):
            continue
        assert negotiated == name
        accepted.add(by_name.get(name, name))
    assert accepted == expected, (
        f"{edge.name} ({edge.pki.key_type} certificate): accepted beyond the configured "
        f"suites: {sorted(accepted - expected)}; configured but refused: "
        f"{sorted(expected - accepted)}")
    # The owners' "modern suites": forward secrecy and authenticated encryption, every one.
    weak = sorted(s for s in accepted
                  if table[s].kx not in ("ECDH", "DH") or table[s].mac != "AEAD")
    assert not weak, f"{edge.name}: accepted suites without forward secrecy or AEAD: {weak}"


@pytest.mark.parametrize("server_name", ["unknown.invalid", "www.example.net", None],
                         ids=["unknown", "foreign", "no-sni"])
def test_unknown_sni_is_refused(edge: h.Edge, server_name: str | None) -> None:
    tls12 = ssl.TLSVersion.TLSv1_2
    # The same client, with a routed name, completes the handshake.
    h.handshake(edge.websecure_port, edge.host("api-gateway"), _client(tls12, edge))
    assert traefik.tls_options(edge.platform.edge)["sniStrict"] is True
    for version in (tls12, ssl.TLSVersion.TLSv1_3):
        with pytest.raises(ssl.SSLError):
            h.handshake(edge.websecure_port, server_name, _client(version, edge, verify=False))
            pytest.fail(f"{edge.name}: handshake with SNI {server_name!r} accepted")
