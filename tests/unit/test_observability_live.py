"""infra.observability.live: where the demo finds the lab Prometheus (a real ansible-inventory
run on small inventories) and one clear error when Prometheus cannot be reached. The live
answer itself is checked against the lab's Prometheus in tests/hosts/prometheus/."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from infra.observability import live

pytestmark = pytest.mark.unit


def _inventory(tmp_path: Path, mon1: dict) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {
        "monitoring": {"hosts": {"mon1": mon1}},
        "db": {"hosts": {"db1": {"ansible_host": "192.0.2.13"}}},
    }}}))
    return path


def test_url_is_the_monitoring_host_address_and_the_role_default_port(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, {"ansible_host": "192.0.2.14"})
    assert live.prometheus_url(inventory) == "http://192.0.2.14:9090"


def test_a_literal_listen_address_and_port_win(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, {"ansible_host": "192.0.2.14",
                                      "prometheus_listen_address": "198.51.100.7",
                                      "prometheus_port": 19090})
    assert live.prometheus_url(inventory) == "http://198.51.100.7:19090"


def test_a_templated_listen_address_falls_back_to_ansible_host(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, {"ansible_host": "192.0.2.14",
                                      "prometheus_listen_address": "{{ ansible_host }}"})
    assert live.prometheus_url(inventory) == "http://192.0.2.14:9090"


def test_no_monitoring_host_is_an_error_naming_the_group(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, {"ansible_host": "192.0.2.14"})
    with pytest.raises(live.LiveError, match=r"group 'metrics' has no host"):
        live.prometheus_url(inventory, group="metrics")


def test_a_missing_inventory_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(live.LiveError, match=r"inventory .*nope.yml does not exist"):
        live.prometheus_url(tmp_path / "nope.yml")


def test_the_drills_find_prometheus_and_alertmanager_where_the_demo_does(
    tmp_path: Path,
) -> None:
    from infra.drills.errors import DrillInputError
    from infra.drills.monitor import endpoints

    inventory = _inventory(tmp_path, {"ansible_host": "2001:db8::14",
                                      "prometheus_alertmanager_port": 19093})
    found = endpoints(inventory)
    assert found.prometheus == live.prometheus_url(inventory) == "http://[2001:db8::14]:9090"
    assert found.alertmanager == "http://[2001:db8::14]:19093"
    # The drill CLI's errors are its own type (exit 2, one line), with the same message.
    with pytest.raises(DrillInputError, match=r"group 'monitoring' has no host"):
        endpoints(_without_monitoring(tmp_path))


def _without_monitoring(tmp_path: Path) -> Path:
    path = tmp_path / "empty.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"db1": {"ansible_host": "192.0.2.13"}}}}))
    return path


def test_unreachable_prometheus_is_one_error_naming_the_url() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(live.LiveError, match=rf"Prometheus at {url}: .*refused"):
        live.fetch_targets(url, timeout=2)
