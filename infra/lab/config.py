"""What a lab is made of, and the names of everything it owns. Pure: no I/O here.

Every name a lab creates on the machine (bridge, netns, veth, nspawn machine, directories)
derives from `LabConfig`, so a test lab with another name, bridge and subnet never touches
the default lab, and `down` knows exactly what to remove.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from infra.lab.errors import LabError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Lab key and pinned known_hosts of the default lab; the inventory's connection vars point here.
DEFAULT_STATE_DIR = REPO_ROOT / "inventories" / "lab" / ".state"
# Host roots, PIDs and logs: big and machine-local, so outside the repository.
DEFAULT_RUN_BASE = Path("/var/lib/rampart/labs")
# The cached base rootfs and the apt proxy's cache survive `down` and new clones.
DEFAULT_CACHE_DIR = Path("/var/cache/rampart")
# Moves that cache, e.g. to an empty directory to run exactly as a fresh machine does.
CACHE_DIR_ENV = "RAMPART_CACHE_DIR"

ADMIN_USER = "rampart"
PROXY_PORT = 3142

# Linux interface names are at most 15 bytes; veths are named "<bridge>-<last octet>".
_IFNAME_MAX = 15
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_HOST_RE = re.compile(r"^[a-z][a-z0-9]*$")


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: ipaddress.IPv4Address


@dataclass(frozen=True)
class LabConfig:
    name: str
    bridge: str
    subnet: ipaddress.IPv4Network
    hosts: tuple[HostSpec, ...]
    state_dir: Path
    run_base: Path = DEFAULT_RUN_BASE
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    proxy_port: int = PROXY_PORT
    boot_timeout: float = 90.0

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name) or len(self.name) > 24:
            raise LabError(
                f"lab name {self.name!r}: use lowercase letters, digits and '-', start with a "
                "letter, at most 24 characters"
            )
        if not _NAME_RE.match(self.bridge) or len(self.bridge) > _IFNAME_MAX - 4:
            raise LabError(
                f"lab {self.name}: bridge name {self.bridge!r} must be lowercase and at most "
                f"{_IFNAME_MAX - 4} characters (veths are named '<bridge>-<octet>')"
            )
        if self.subnet.prefixlen > 29:
            raise LabError(f"lab {self.name}: subnet {self.subnet} is too small for a lab")
        if not self.hosts:
            raise LabError(f"lab {self.name}: no hosts")
        seen_names: set[str] = set()
        seen_addrs: set[ipaddress.IPv4Address] = set()
        for host in self.hosts:
            if not _HOST_RE.match(host.name):
                raise LabError(
                    f"lab {self.name}: host name {host.name!r} must be lowercase letters and digits"
                )
            if host.address not in self.subnet or host.address in (
                self.subnet.network_address,
                self.subnet.broadcast_address,
                self.gateway,
            ):
                raise LabError(
                    f"lab {self.name}: host {host.name} address {host.address} is not a usable "
                    f"host address in {self.subnet} (the gateway {self.gateway} is the bridge)"
                )
            if host.name in seen_names:
                raise LabError(f"lab {self.name}: host {host.name} is listed twice")
            if host.address in seen_addrs:
                raise LabError(f"lab {self.name}: address {host.address} is used twice")
            seen_names.add(host.name)
            seen_addrs.add(host.address)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The bridge's own address: the hosts' default route and the apt proxy."""
        return self.subnet.network_address + 1

    @property
    def bridge_cidr(self) -> str:
        return f"{self.gateway}/{self.subnet.prefixlen}"

    def host_cidr(self, host: HostSpec) -> str:
        return f"{host.address}/{self.subnet.prefixlen}"

    @property
    def proxy_url(self) -> str:
        return f"http://{self.gateway}:{self.proxy_port}"

    def host(self, name: str) -> HostSpec:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise LabError(f"lab {self.name}: no host named {name!r} (hosts: {known})")

    # -- names on the machine ----------------------------------------------------------------
    def netns(self, host: HostSpec) -> str:
        return f"{self.name}-{host.name}"

    def machine(self, host: HostSpec) -> str:
        return f"{self.name}-{host.name}"

    def veth(self, host: HostSpec) -> str:
        return f"{self.bridge}-{int(host.address) & 0xFF}"

    @property
    def veth_prefix(self) -> str:
        return f"{self.bridge}-"

    # -- directories -------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.run_base / self.name

    def host_dir(self, host: HostSpec) -> Path:
        return self.run_dir / "hosts" / host.name

    def host_root(self, host: HostSpec) -> Path:
        return self.host_dir(host) / "root"

    @property
    def proxy_dir(self) -> Path:
        return self.run_dir / "apt-cacher-ng"

    @property
    def proxy_cache_dir(self) -> Path:
        # One cache per lab: two daemons must never share a cache directory.
        return self.cache_dir / f"apt-cacher-ng-{self.name}"

    @property
    def key_path(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"


DEFAULT_HOSTS = (
    ("edge1", "10.77.0.11"),
    ("app1", "10.77.0.12"),
    ("db1", "10.77.0.13"),
    ("mon1", "10.77.0.14"),
)


def make_lab(
    name: str,
    bridge: str,
    subnet: str,
    hosts: list[tuple[str, str]] | tuple[tuple[str, str], ...],
    state_dir: Path,
    **kwargs: object,
) -> LabConfig:
    """Build a LabConfig from plain strings (CLI, tests)."""
    try:
        net = ipaddress.IPv4Network(subnet)
        specs = tuple(HostSpec(n, ipaddress.IPv4Address(a)) for n, a in hosts)
    except ValueError as exc:
        raise LabError(f"lab {name}: {exc}") from exc
    return LabConfig(name, bridge, net, specs, state_dir, **kwargs)  # type: ignore[arg-type]


LAB_ENV = "RAMPART_LAB"


def default_cache_dir() -> Path:
    """`RAMPART_CACHE_DIR` when set (made absolute: labs outlive the working directory)."""
    spec = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(spec).absolute() if spec else DEFAULT_CACHE_DIR


def default_lab() -> LabConfig:
    """The lab contract's default lab: four hosts on rampart0, 10.77.0.0/24.

    `RAMPART_LAB=NAME,BRIDGE,SUBNET` moves it (same host names and last octets) so a second
    checkout can run the host tier beside the default lab; that checkout's inventory must use
    the same addresses."""
    spec = os.environ.get(LAB_ENV, "").strip()
    if not spec:
        return make_lab("rampart", "rampart0", "10.77.0.0/24", DEFAULT_HOSTS, DEFAULT_STATE_DIR)
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 3 or not all(parts):
        raise LabError(f"{LAB_ENV}={spec!r}: expected NAME,BRIDGE,SUBNET")
    name, bridge, subnet = parts
    try:
        base = ipaddress.IPv4Network(subnet).network_address
    except ValueError as exc:
        raise LabError(f"{LAB_ENV}: {exc}") from exc
    hosts = tuple(
        (host, str(base + int(address.rsplit(".", 1)[1]))) for host, address in DEFAULT_HOSTS
    )
    return make_lab(name, bridge, subnet, hosts, DEFAULT_STATE_DIR)
