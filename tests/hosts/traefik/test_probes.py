"""edge1 as clients meet it, probed from other lab hosts: redirect, the public route to the
stand-in gateway on app1, the admin route to the real Prometheus on mon1 (401/200, 403 from
outside the allowlist), TLS versions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import (
    EDGE,
    INSIDE,
    INTERNAL_PORT,
    OUTSIDE,
    REPO,
    admin_password,
    basic_auth,
    handshake,
    request,
)

DOMAIN = "erp.localhost"  # the dev stack's edge domain (traefik_stack: dev in the lab)
API = f"api.{DOMAIN}"
PROMETHEUS = f"prometheus.{DOMAIN}"
ALERTMANAGER = f"alertmanager.{DOMAIN}"


@pytest.fixture(scope="module")
def edge_address(hardened: Callable[[str], Host]) -> str:
    return str(hardened(EDGE).ansible.get_variables()["ansible_host"])


@pytest.fixture(scope="module")
def inside(hardened: Callable[[str], Host]) -> Host:
    return hardened(INSIDE)


@pytest.fixture(scope="module")
def outside(hardened: Callable[[str], Host]) -> Host:
    return hardened(OUTSIDE)


def test_http_redirects_to_https(inside: Host, edge_address: str) -> None:
    answer = request(inside, edge_address, API, "/orders?x=1", tls=False)
    assert answer.status in (301, 308), f"HTTP answered {answer.status}"
    assert answer.headers.get("location") == f"https://{API}/orders?x=1", answer.headers


def test_public_route_reaches_the_gateway_stand_in_on_app1(
    inside: Host, edge_address: str
) -> None:
    answer = request(inside, edge_address, API, "/orders")
    assert answer.status == 200, f"{answer.status}: {answer.body[:200]}"
    echo = answer.json()
    assert echo["service"] == "api-gateway" and echo["path"] == "/orders", echo
    assert echo["host"] == API, echo
    inside_address = inside.ansible.get_variables()["ansible_host"]
    assert echo["x_forwarded_for"] == inside_address, echo
    assert answer.headers.get("strict-transport-security", "").startswith("max-age="), (
        answer.headers)
    assert "server" not in answer.headers, answer.headers


def test_admin_route_needs_credentials(inside: Host, edge_address: str) -> None:
    assert request(inside, edge_address, PROMETHEUS, "/-/ready").status == 401
    wrong = request(inside, edge_address, PROMETHEUS, "/-/ready",
                    headers=basic_auth("not-the-password"))
    assert wrong.status == 401, wrong.status


def test_admin_route_reaches_the_real_prometheus_with_credentials(
    inside: Host, edge_address: str
) -> None:
    answer = request(inside, edge_address, PROMETHEUS, "/api/v1/status/buildinfo",
                     headers=basic_auth(admin_password()))
    assert answer.status == 200, f"{answer.status}: {answer.body[:200]}"
    assert answer.json()["data"]["version"], answer.body[:200]


def test_alertmanager_route_reaches_the_real_alertmanager(
    inside: Host, edge_address: str
) -> None:
    answer = request(inside, edge_address, ALERTMANAGER, "/api/v2/status",
                     headers=basic_auth(admin_password()))
    assert answer.status == 200, f"{answer.status}: {answer.body[:200]}"
    assert "versionInfo" in answer.json(), answer.body[:200]


def test_admin_route_is_forbidden_outside_the_allowlist(
    outside: Host, edge_address: str
) -> None:
    for headers in ({}, basic_auth(admin_password())):
        answer = request(outside, edge_address, PROMETHEUS, "/-/ready", headers=headers)
        assert answer.status == 403, f"from {OUTSIDE}: {answer.status}"


def test_public_route_is_open_outside_the_admin_allowlist(
    outside: Host, edge_address: str
) -> None:
    assert request(outside, edge_address, API, "/orders").status == 200


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_old_tls_is_refused(inside: Host, edge_address: str, version: str) -> None:
    rc, out = handshake(inside, edge_address, API, version)
    assert rc != 0 and "BEGIN CERTIFICATE" not in out, f"{version} accepted:\n{out[-600:]}"
    # The server's protocol_version alert (70), not a client unable to offer the version.
    assert "alert protocol version" in out, out[-600:]


@pytest.mark.parametrize("version", ["tls1_2", "tls1_3"])
def test_modern_tls_is_accepted(inside: Host, edge_address: str, version: str) -> None:
    rc, out = handshake(inside, edge_address, API, version)
    assert rc == 0, f"{version} refused:\n{out[-600:]}"
    assert "Cipher is" in out and "Cipher is (NONE)" not in out, out[-600:]


def test_internal_entry_point_is_not_reachable_from_other_hosts(
    outside: Host, edge_address: str
) -> None:
    """The firewall admits 80/443 only; metrics and ping stay on the host."""
    probe = ("import socket,sys\n"
             "s=socket.socket(); s.settimeout(3)\n"
             "try:\n"
             "    s.connect((sys.argv[1], int(sys.argv[2]))); print('connected')\n"
             "except TimeoutError: print('filtered')\n"
             "except ConnectionRefusedError: print('refused')")
    result = outside.run(f"python3 -c \"{probe}\" {edge_address} {INTERNAL_PORT}")
    # A crashed probe prints none of these: it must not pass for a closed port.
    assert result.rc == 0 and result.stdout.strip() in ("filtered", "refused"), (
        f"{OUTSIDE} -> {edge_address}:{INTERNAL_PORT}: rc {result.rc}, {result.stdout!r} "
        f"{result.stderr[-300:]!r}")


def test_the_demos_probe_table_passes_against_edge1_from_the_controller(
    edge_address: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`make demo`'s "edge probes" step, as the demo runs it: every probe of the table passes
    against edge1 from the controller (the internal port filtered for it)."""
    import json
    import subprocess

    from rich.console import Console

    from infra import demo
    from infra.lab import default_lab

    out = tmp_path_factory.mktemp("demo-out")
    step = next(s for s in demo.demo_steps(Console(), out, REPO, default_lab())
                if s.name == "edge probes")
    assert edge_address in step.argv
    run = subprocess.run(step.argv, cwd=REPO, capture_output=True, text=True, timeout=300,
                         check=False)
    rows = json.loads((out / "edge-probes.json").read_text())
    failed = [r for r in rows if not r["ok"]]
    assert run.returncode == 0 and not failed, (failed, run.stderr[-1000:])
    assert {"HTTP redirected to HTTPS", "TLS 1.1 refused", "Admin route with credentials",
            "Metrics/ping port 8082 closed to this client"} <= {r["name"] for r in rows}
