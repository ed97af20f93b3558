"""Helpers of the prometheus host tests: the live HTTP APIs of Prometheus and Alertmanager on
the monitoring host, queried from the controller (through the lab firewall, as an operator
would), and Prometheus durations."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import struct
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from testinfra.host import Host

REPO = Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles/prometheus/defaults/main.yml").read_text())
MONITOR = "mon1"
HOSTS = ["edge1", "app1", "db1", "mon1"]
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus duration ("1m30s", "20s", "2d") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def role_vars(host: Host) -> dict[str, Any]:
    """The role's defaults with the inventory's prometheus_* values on top; the one template
    the lab uses ("{{ ansible_host }}") resolved."""
    inventory = host.ansible.get_variables()
    merged = {**DEFAULTS, **{k: v for k, v in inventory.items() if k.startswith("prometheus_")}}
    if "{{" in str(merged["prometheus_listen_address"]):
        merged["prometheus_listen_address"] = inventory["ansible_host"]
    return merged


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (lab URL)
        return json.load(response)


def api(url: str) -> Any:
    """`data` of a Prometheus API answer, after checking its status."""
    body = get_json(url)
    assert body.get("status") == "success", f"{url}: {body}"
    return body["data"]


def _decode(hex_addr: str) -> tuple[str, int]:
    addr, port = hex_addr.split(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(addr, 16)))
    else:
        words = struct.unpack("<4I", raw)
        ip = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
    return str(ipaddress.ip_address(ip)), int(port, 16)


def listening(host: Host) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket, from /proc (no ss on minimal hosts)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        result = host.run(f"cat {table}")
        for line in result.stdout.splitlines()[1:] if result.rc == 0 else []:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                found.add(_decode(fields[1]))
    return found
