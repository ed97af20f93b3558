"""Helpers of the traefik host tests: the figures they demand, and a client that runs on
another lab host (Python's http.client/ssl there, or openssl s_client), as a client would.

The figures below are written here independently of the role's defaults and the lab's
inventory, so a weakened unit or a mode changed in the role fails a test.
"""

from __future__ import annotations

import base64
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab_sockets import listening
from testinfra.host import Host

__all__ = ["listening"]

REPO = Path(__file__).resolve().parents[3]
STATE = REPO / "inventories" / "lab" / ".state"
CA_FILE = STATE / "traefik" / "ca" / "ca.crt"
PASSWORD_FILE = STATE / "secrets" / "traefik_admin_password"
ADMIN_USER = "admin"

EDGE = "edge1"
INSIDE = "mon1"  # in the lab's admin allowlist (inventories/lab/group_vars/edge/traefik.yml)
OUTSIDE = "app1"  # a lab client outside it
STANDIN_HOST = "app1"

MAX_EXPOSURE = 2.0
UNIT = "traefik"
BINARY = "/usr/local/bin/traefik"
CONFIG_DIR = "/etc/traefik"
ACME_DIR = "/var/lib/traefik/acme"
ACME_FILE = f"{ACME_DIR}/acme.json"
PUBLIC_PORTS = {80, 443}
INTERNAL_PORT = 8082  # the catalog's traefik metrics_port
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "User": "traefik",
    "Group": "traefik",
    "CapabilityBoundingSet": "cap_net_bind_service",
    "AmbientCapabilities": "cap_net_bind_service",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
}


_CLIENT = r"""
import base64, http.client, json, socket, ssl, sys
a = json.loads(base64.b64decode(sys.argv[1]))
if a["tls"]:
    ctx = ssl.create_default_context(cadata=a["ca"])
    conn = http.client.HTTPSConnection(a["address"], a["port"], context=ctx, timeout=10)
    conn._server_hostname = a["host"]
    sock = socket.create_connection((a["address"], a["port"]), timeout=10)
    conn.sock = ctx.wrap_socket(sock, server_hostname=a["host"])
else:
    conn = http.client.HTTPConnection(a["address"], a["port"], timeout=10)
headers = {"Host": a["host"], **a["headers"]}
conn.request(a["method"], a["path"], headers=headers)
r = conn.getresponse()
body = r.read().decode(errors="replace")
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "body": body}))
"""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def request(client: Host, address: str, host: str, path: str, *, tls: bool = True,
            method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    """One HTTP(S) request from the lab host `client` to `address` (SNI and Host `host`),
    verified against the lab CA."""
    args = {"address": address, "port": 443 if tls else 80, "host": host, "path": path,
            "tls": tls, "method": method, "headers": headers or {},
            "ca": CA_FILE.read_text()}
    payload = base64.b64encode(json.dumps(args).encode()).decode()
    result = client.run(f"python3 -c {shlex.quote(_CLIENT)} {payload}")
    assert result.rc == 0, f"client failed: {result.stderr.strip()}"
    data = json.loads(result.stdout)
    return Answer(data["status"], data["headers"], data["body"])


def basic_auth(password: str) -> dict[str, str]:
    token = base64.b64encode(f"{ADMIN_USER}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def admin_password() -> str:
    return PASSWORD_FILE.read_text().strip()


def handshake(client: Host, address: str, host: str, version: str) -> tuple[int, str]:
    """openssl s_client from `client` limited to one protocol version (`tls1_1`, `tls1_2`),
    at security level 0 so the client itself is willing to offer old versions."""
    cmd = (f"echo | openssl s_client -connect {address}:443 -servername {host} -{version} "
           f"-cipher 'DEFAULT:@SECLEVEL=0' 2>&1")
    result = client.run(f"timeout 15 sh -c {shlex.quote(cmd)}")
    return result.rc, result.stdout
