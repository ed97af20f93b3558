"""Across hosts: who can open a TCP connection to whom, tried from inside the lab.

Each probe runs on the source host (bash's /dev/tcp under `timeout`), so it crosses the lab
bridge and both hosts' firewalls exactly like real traffic. Ports with no service yet
(PostgreSQL on db1, HTTP(S) on the edge) get a temporary listener: `python3 -m http.server`
started under `timeout` (it stops by itself even if the test dies) and killed by PID after.
A listener is proven up (probed locally) before "blocked" is believed. The probe and the
expectations are infra/lab/reachability.py's, which `rampart demo` shows as a matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from lab_support import HOSTS
from testinfra.host import Host

from infra.lab import reachability

LISTENER_SECONDS = 300  # upper bound; the fixture kills the listener when the module ends


@pytest.fixture(scope="module")
def inventory() -> reachability.Inventory:
    return reachability.load_inventory()


def _expected(inventory: reachability.Inventory, service: str, source: str, target: str) -> bool:
    rule = next(r for r in reachability.RULES if r.service == service)
    return reachability.expectation(rule, inventory, source, target) is not (
        reachability.Expect.BLOCKED)


def _address(lab_host: Callable[[str], Host], name: str) -> str:
    return str(lab_host(name).ansible.get_variables()["ansible_host"])


def _connects(source: Host, address: str, port: int) -> bool:
    return source.run(f"{reachability.probe_command(address, port)} 2>/dev/null").rc == 0


@pytest.fixture(scope="module")
def listeners(
    converged: object, lab_host: Callable[[str], Host]
) -> Iterator[Callable[[str, int], None]]:
    """listen("db1", 5432): a temporary TCP listener on the host's lab address."""
    started: list[tuple[Host, str]] = []

    def listen(name: str, port: int) -> None:
        host = lab_host(name)
        address = _address(lab_host, name)
        if _connects(host, address, port):
            return  # a real service already listens there
        pid = host.check_output(
            f"cd /tmp && nohup timeout {LISTENER_SECONDS} python3 -m http.server {port} "
            f"--bind {address} >/dev/null 2>&1 & echo $!"
        ).strip()
        started.append((host, pid))
        for _ in range(20):
            if _connects(host, address, port):
                return
            host.run("sleep 0.5")
        pytest.fail(f"temporary listener on {name}:{port} did not come up", pytrace=False)

    yield listen
    for host, pid in started:
        host.run(f"kill {pid}")


PAIRS = [(src, dst) for src in HOSTS for dst in HOSTS if src != dst]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_postgresql_only_from_app_hosts(
    lab_host: Callable[[str], Host], listeners: Callable[[str, int], None],
    inventory: reachability.Inventory, source: str, target: str
) -> None:
    # A listener on every target: only database hosts may accept, and only from app hosts.
    listeners(target, 5432)
    expected = _expected(inventory, "postgresql", source, target)
    reached = _connects(lab_host(source), _address(lab_host, target), 5432)
    assert reached == expected, (
        f"{source} -> {target}:5432 {'connected' if reached else 'blocked'}, "
        f"expected {'connected' if expected else 'blocked'}"
    )


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_node_exporter_only_from_the_monitoring_host(
    lab_host: Callable[[str], Host], inventory: reachability.Inventory,
    source: str, target: str
) -> None:
    expected = _expected(inventory, "node-exporter", source, target)
    reached = _connects(lab_host(source), _address(lab_host, target), 9100)
    assert reached == expected, (
        f"{source} -> {target}:9100 {'connected' if reached else 'blocked'}, "
        f"expected {'connected' if expected else 'blocked'}"
    )


@pytest.mark.parametrize("port", [80, 443])
@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_http_and_https_only_on_edge_hosts(
    lab_host: Callable[[str], Host], listeners: Callable[[str, int], None],
    inventory: reachability.Inventory, source: str, target: str, port: int
) -> None:
    # A listener on every target: a non-edge host must block the port even when something
    # listens on it.
    listeners(target, port)
    expected = _expected(inventory, {80: "http", 443: "https"}[port], source, target)
    reached = _connects(lab_host(source), _address(lab_host, target), port)
    assert reached == expected, (
        f"{source} -> {target}:{port} {'connected' if reached else 'blocked'}, "
        f"expected {'connected' if expected else 'blocked'}"
    )


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_ssh_is_filtered_between_hosts(
    lab_host: Callable[[str], Host], source: str, target: str
) -> None:
    # SSH only from the admin network: a foothold on one host must not reach another's sshd.
    # Filtered (dropped, so the probe times out), not merely refused: nothing answers at all.
    probe = lab_host(source).run(
        f"{reachability.probe_command(_address(lab_host, target), 22)} 2>/dev/null"
    )
    outcome = {0: "connected", 124: "filtered"}.get(probe.rc, f"refused (rc {probe.rc})")
    assert outcome == "filtered", f"{source} -> {target}:22 {outcome}, expected filtered"
