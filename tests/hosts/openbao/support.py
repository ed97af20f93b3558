"""Helpers of the openbao host tests: the role's variables as the inventory sets them, and
requests to the live API from the controller, TLS verified with the CA the role fetched."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import lab_support
from lab_sockets import listening
from lab_support import REPO
from testinfra.host import Host

__all__ = ["SECRETS_HOST", "api_url", "listening", "request", "role_vars", "root_token",
           "tls_context"]
# The lab inventory's secrets group.
SECRETS_HOST = "mon1"
CA_FILE = REPO / "inventories/lab/.state/openbao-ca.pem"
INIT_FILE = REPO / "inventories/lab/.state/openbao-init.json"


def role_vars(host: Host) -> dict[str, Any]:
    """The expected figures with the inventory's openbao_* values on top, templates resolved."""
    return lab_support.role_vars(host, "openbao")


def api_url(host: Host) -> str:
    v = role_vars(host)
    return f"https://{v['openbao_listen_address']}:{v['openbao_port']}"


def tls_context() -> ssl.SSLContext:
    assert CA_FILE.is_file(), f"the converge did not fetch the OpenBao CA to {CA_FILE}"
    return ssl.create_default_context(cafile=str(CA_FILE))


def request(url: str, token: str | None = None, method: str = "GET") -> tuple[int, Any]:
    """(HTTP status, JSON body or None) of one verified TLS request."""
    req = urllib.request.Request(url, method=method)  # noqa: S310 (lab https URL)
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, context=tls_context(), timeout=15) as response:  # noqa: S310
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body) if body else None
        except json.JSONDecodeError:
            return exc.code, body.decode(errors="replace")


def root_token() -> str:
    assert INIT_FILE.is_file(), f"no {INIT_FILE}: playbooks/openbao-init.yml has not run"
    return str(json.loads(INIT_FILE.read_text())["root_token"])
