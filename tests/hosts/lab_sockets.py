"""Listening TCP sockets of a lab host, read from /proc (minimal hosts have no ss)."""

from __future__ import annotations

import ipaddress
import socket
import struct

from testinfra.host import Host


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
    """(address, port) of every listening TCP socket."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        # tcp6 is absent when IPv6 is disabled: nothing listens there then.
        result = host.run(f"cat {table}")
        for line in result.stdout.splitlines()[1:] if result.rc == 0 else []:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                found.add(_decode(fields[1]))
    return found
