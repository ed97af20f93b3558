"""openbao: the API listens on the private address only, TLS only (no plain-text answer), with
a certificate the fetched CA verifies for the listen address, and no UI."""

from __future__ import annotations

import socket
import ssl

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import SECRETS_HOST, api_url, listening, request, role_vars, tls_context


# The raft cluster listener opens once the server is initialised and active.
@pytest.mark.parametrize("port_var", ["openbao_port", "openbao_cluster_port"])
def test_listens_on_the_private_address_only(
    secrets_host: Host, lab_initialised: PlaybookRun, port_var: str
) -> None:
    v = role_vars(secrets_host)
    port = int(v[port_var])
    on_port = {addr for addr, p in listening(secrets_host) if p == port}
    assert on_port == {v["openbao_listen_address"]}, (
        f"{SECRETS_HOST}: port {port} ({port_var}) listens on {sorted(on_port)}"
    )


def test_tls_handshake_verifies_with_the_fetched_ca(secrets_host: Host) -> None:
    v = role_vars(secrets_host)
    address, port = v["openbao_listen_address"], int(v["openbao_port"])
    context = tls_context()
    with socket.create_connection((address, port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=address) as tls:
        version = tls.version()
        cert = tls.getpeercert()
    assert version in ("TLSv1.2", "TLSv1.3"), f"{SECRETS_HOST}: negotiated {version}"
    sans = {value for kind, value in cert.get("subjectAltName", ()) if kind == "IP Address"}
    assert address in sans, f"{SECRETS_HOST}: certificate IP names {sorted(sans)}"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_below_the_minimum_is_refused(secrets_host: Host) -> None:
    v = role_vars(secrets_host)
    assert v["openbao_tls_min_version"] == "tls12", "test written for the tls12 default"
    context = tls_context()
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection((v["openbao_listen_address"], int(v["openbao_port"])),
                                  timeout=10) as raw, pytest.raises(ssl.SSLError) as refused:
        context.wrap_socket(raw, server_hostname=v["openbao_listen_address"])
    # The server's protocol_version alert, not this client declining to offer TLS 1.1.
    assert "PROTOCOL_VERSION" in str(refused.value).upper(), (
        f"{SECRETS_HOST}: TLS 1.1 failed for another reason: {refused.value}"
    )


def test_plain_http_gets_no_api_answer(secrets_host: Host) -> None:
    v = role_vars(secrets_host)
    with socket.create_connection((v["openbao_listen_address"], int(v["openbao_port"])),
                                  timeout=10) as raw:
        raw.sendall(b"GET /v1/sys/health HTTP/1.0\r\n\r\n")
        reply = raw.recv(4096)
    # Go's TLS server answers a plain request with a 400 telling the client to use HTTPS.
    assert b'"initialized"' not in reply and b"HTTPS" in reply, (
        f"{SECRETS_HOST}: plain HTTP got {reply[:120]!r}"
    )


def test_ui_is_off(secrets_host: Host) -> None:
    status, _ = request(f"{api_url(secrets_host)}/ui/")
    assert status == 404, f"{SECRETS_HOST}: /ui/ answered {status}, the UI should be off"
    config = secrets_host.file(f"{role_vars(secrets_host)['openbao_config_dir']}/openbao.hcl")
    assert "ui        = false" in config.content_string, f"{SECRETS_HOST}: ui not false"
