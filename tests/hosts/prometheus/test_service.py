"""prometheus: both Debian packages installed and running, listening on the private address
only (no gossip listener), with the retention the inventory asks for and the files the
generator produced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lab_support import Monitoring
from testinfra.host import Host

from .support import MONITOR, REPO, api, listening, role_vars

SERVICES = ["prometheus", "prometheus-alertmanager"]


@pytest.mark.parametrize("name", SERVICES)
def test_package_is_installed_enabled_and_running(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(MONITOR)
    assert host.package(name).is_installed, f"{MONITOR}: package {name} is not installed"
    service = host.service(name)
    assert service.is_enabled, f"{MONITOR}: {name} is not enabled"
    assert service.is_running, f"{MONITOR}: {name} is not running"


@pytest.mark.parametrize("port_var", ["prometheus_port", "prometheus_alertmanager_port"])
def test_listens_on_the_private_address_only(
    hardened: Callable[[str], Host], port_var: str
) -> None:
    host = hardened(MONITOR)
    v = role_vars(host)
    port = int(v[port_var])
    on_port = {addr for addr, p in listening(host) if p == port}
    assert on_port == {v["prometheus_listen_address"]}, (
        f"{MONITOR}: port {port} ({port_var}) listens on {sorted(on_port)}, expected only "
        f"{v['prometheus_listen_address']}"
    )


def test_alertmanager_does_not_gossip(hardened: Callable[[str], Host]) -> None:
    """Alertmanager's cluster listener (0.0.0.0:9094 out of the box) is off."""
    ports = {p for _, p in listening(hardened(MONITOR))}
    assert 9094 not in ports, f"{MONITOR}: something listens on 9094 (Alertmanager gossip)"


def test_retention_is_the_inventory_s(monitoring: Monitoring) -> None:
    v = role_vars(monitoring.host)
    flags = api(f"{monitoring.prometheus}/api/v1/status/flags")
    assert flags["storage.tsdb.retention.time"] == v["prometheus_retention_time"], (
        f"{MONITOR}: Prometheus runs with retention "
        f"{flags['storage.tsdb.retention.time']}, inventory says {v['prometheus_retention_time']}"
    )


@pytest.mark.parametrize(
    ("generated", "installed"),
    [
        ("prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"),
        ("alertmanager/alertmanager.yml", "/etc/prometheus/alertmanager.yml"),
    ],
)
def test_installed_files_are_the_generated_ones(
    monitoring: Monitoring, generated: str, installed: str
) -> None:
    out = REPO / "build" / "prometheus" / MONITOR / "out" / generated
    assert out.is_file(), f"the converge did not generate {out}"
    on_host = monitoring.host.file(installed).content_string
    assert on_host == out.read_text(), f"{MONITOR}:{installed} differs from {out}"


def test_only_generated_rule_files_are_installed(monitoring: Monitoring) -> None:
    out = REPO / "build" / "prometheus" / MONITOR / "out" / "prometheus" / "rules"
    expected = sorted(p.name for p in out.glob("*.rules.yml"))
    assert expected, f"no rule files generated under {out}"
    listing = monitoring.host.check_output("ls -1 /etc/prometheus/rules").split()
    assert sorted(listing) == expected, f"{MONITOR}:/etc/prometheus/rules holds {listing}"
    for name in expected:
        content = monitoring.host.file(f"/etc/prometheus/rules/{name}").content_string
        assert content == Path(out / name).read_text(), f"{MONITOR}: rule file {name} differs"
