"""docker_engine: package, hardened daemon.json, the running daemon, no TCP socket.

The lab hosts are systemd-nspawn containers. dockerd runs there (vfs storage driver) when
the host has CAP_NET_ADMIN in its own network namespace, which the lab grants for nftables;
the role tolerates a daemon that cannot start in a container, but these tests do not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from testinfra.host import Host

from .support import DOCKER_HOSTS, role_vars


def _daemon_json(host: Host) -> dict[str, Any]:
    path = role_vars(host)["docker_engine_config_path"]
    f = host.file(path)
    assert f.exists, f"{host.backend.host}: {path} missing"
    return json.loads(f.content_string)


def _hardened_settings(host: Host) -> dict[str, Any]:
    v = role_vars(host)
    return {
        "icc": v["docker_engine_icc"],
        "live-restore": v["docker_engine_live_restore"],
        "userland-proxy": v["docker_engine_userland_proxy"],
        "no-new-privileges": v["docker_engine_no_new_privileges"],
        "log-driver": v["docker_engine_log_driver"],
        "log-opts": {"max-size": str(v["docker_engine_log_max_size"]),
                     "max-file": str(v["docker_engine_log_max_file"])},
    }


@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_docker_package_from_the_configured_source(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    package = {"debian": "docker.io", "docker": "docker-ce"}[
        role_vars(host)["docker_engine_source"]]
    assert host.package(package).is_installed, f"{name}: {package} is not installed"


@pytest.mark.parametrize(
    "key", ["icc", "live-restore", "userland-proxy", "no-new-privileges", "log-driver",
            "log-opts"])
@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_daemon_json_is_hardened(hardened: Callable[[str], Host], name: str, key: str) -> None:
    host = hardened(name)
    config = _daemon_json(host)
    want = _hardened_settings(host)[key]
    assert config.get(key) == want, (
        f"{name}: daemon.json {key} = {config.get(key)!r}, want {want!r}"
    )


@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_default_ulimits_are_set(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    ulimits = _daemon_json(host).get("default-ulimits", {})
    for limit, values in role_vars(host)["docker_engine_default_ulimits"].items():
        assert ulimits.get(limit) == {"Name": limit, "Soft": values["soft"],
                                      "Hard": values["hard"]}, (
            f"{name}: default ulimit {limit} is {ulimits.get(limit)}"
        )


@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_daemon_socket_is_not_on_tcp(hardened: Callable[[str], Host], name: str) -> None:
    host = hardened(name)
    hosts = _daemon_json(host).get("hosts", [])
    assert not [h for h in hosts if h.lower().startswith("tcp://")], f"{name}: hosts={hosts}"
    exec_start = host.check_output("systemctl show docker --property ExecStart")
    assert "tcp://" not in exec_start, f"{name}: docker.service starts with {exec_start}"
    options = host.run("cat /etc/default/docker")
    assert "tcp://" not in options.stdout, f"{name}: /etc/default/docker exposes TCP"
    # The daemon's documented TCP ports are not listening on any address.
    listening = host.check_output("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true")
    for port in (2375, 2376):
        assert f":{port:04X} 00000000:0000 0A" not in listening and \
            f":{port:04X} 00000000000000000000000000000000:0000 0A" not in listening, (
                f"{name}: something listens on TCP {port}"
            )


@pytest.mark.parametrize("name", DOCKER_HOSTS)
def test_daemon_runs_with_the_hardened_settings(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    service = host.service("docker")
    assert service.is_enabled, f"{name}: docker.service is not enabled"
    assert service.is_running, (
        f"{name}: dockerd is not running (in a lab container it needs CAP_NET_ADMIN in the "
        f"host's network namespace): {host.run('journalctl -u docker -n 5 -o cat').stdout}"
    )
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LiveRestoreEnabled"] is True, f"{name}: live-restore not active"
    assert info["LoggingDriver"] == "json-file", f"{name}: log driver {info['LoggingDriver']}"
    socket = host.file("/run/docker.sock")
    assert (socket.user, socket.group, socket.mode) == ("root", "docker", 0o660), (
        f"{name}: /run/docker.sock is {socket.user}:{socket.group} {oct(socket.mode)}"
    )
