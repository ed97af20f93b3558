"""The lab's apt proxy: an apt-cacher-ng instance of its own, on the bridge address.

Out of the box apt-cacher-ng remaps deb.debian.org to a mirror list these machines cannot
reach ("503 Host not found"), so its Debian and security backends are pointed at the mirrors
the machine's own apt sources use. The daemon is ours (own config dir, PID recorded), never the
distribution's service, and its cache lives under the cache dir so repeated runs are fast.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from infra.lab import sysutil
from infra.lab.config import LabConfig
from infra.lab.errors import LabError, LabUnavailableError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
ACNG_USER = "apt-cacher-ng"


@dataclass(frozen=True)
class Mirrors:
    debian: str
    security: str


def parse_apt_sources(texts: list[str]) -> Mirrors:
    """The machine's Debian and Debian-security mirrors, from sources.list / deb822 texts.

    Only http(s) URIs count (a proxy cannot fetch cdrom: or file:); a URI ending in
    '-security' (or a security.debian.org host) is the security mirror, any other URI whose
    path ends in '/debian' the main one. Missing ones fall back to deb.debian.org.
    """
    uris: list[str] = []
    for text in texts:
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            one_line = re.match(r"^deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if one_line:
                uris.append(one_line.group(1))
                continue
            deb822 = re.match(r"^URIs:\s*(.+)$", line, re.IGNORECASE)
            if deb822:
                uris.extend(deb822.group(1).split())
    debian = security = None
    for uri in uris:
        uri = uri.rstrip("/")
        if not uri.startswith(("http://", "https://")):
            continue
        if uri.endswith("-security") or "security.debian.org" in uri:
            security = security or uri
        elif uri.endswith("/debian"):
            debian = debian or uri
    return Mirrors(debian or DEFAULT_MIRROR, security or DEFAULT_SECURITY)


def machine_mirrors(root: Path = Path("/")) -> Mirrors:
    etc = root / "etc/apt"
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    files += sorted((etc / "sources.list.d").glob("*.sources"))
    return parse_apt_sources([f.read_text() for f in files if f.is_file()])


def render_config(lab: LabConfig, mirrors: Mirrors) -> str:
    """acng.conf for the lab's instance. Hosts' apt sources say deb.debian.org; the
    backends below are where the daemon really fetches from."""
    proxy = lab.proxy_dir
    return "\n".join(
        [
            "# Written by rampart lab (infra/lab/proxy.py); regenerated on every `lab up`.",
            f"CacheDir: {lab.proxy_cache_dir}",
            f"LogDir: {proxy / 'log'}",
            "SupportDir: /usr/lib/apt-cacher-ng",
            f"BindAddress: {lab.gateway}",
            f"Port: {lab.proxy_port}",
            f"SocketPath: {proxy / 'acng.socket'}",
            f"PidFile: {proxy / 'acng.pid'}",
            "ForeGround: 1",
            "ReportPage: acng-report.html",
            "ExThreshold: 4",
            "FollowIndexFileRemoval: 1",
            "# The distribution's mirror list is unreachable from here: map both Debian archive",
            "# names onto the machine's own mirrors.",
            f"Remap-debrep: deb.debian.org/debian /debian ; {mirrors.debian.rstrip('/')}/",
            "Remap-secdeb: security.debian.org security.debian.org/debian-security "
            f"deb.debian.org/debian-security /debian-security ; {mirrors.security.rstrip('/')}/",
            "",
        ]
    )


def apt_proxy_conf(lab: LabConfig) -> str:
    """/etc/apt/apt.conf.d snippet for the hosts (covers the security suite: all http)."""
    return (
        "// Written by rampart lab: every lab host installs packages through the lab's proxy.\n"
        f'Acquire::http::Proxy "{lab.proxy_url}";\n'
    )


def listening(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _as_acng() -> list[str]:
    return ["setpriv", f"--reuid={ACNG_USER}", f"--regid={ACNG_USER}", "--init-groups"]


def start(lab: LabConfig, current: sysutil.Proc | None, mirrors: Mirrors) -> sysutil.Proc:
    """Ensure the lab's apt-cacher-ng runs; return its process."""
    conf_dir = lab.proxy_dir / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    config = render_config(lab, mirrors)
    conf_file = conf_dir / "acng.conf"
    changed = not conf_file.is_file() or conf_file.read_text() != config
    if current is not None and current.alive() and not changed:
        return current
    if current is not None:
        sysutil.stop(current, 15, 10, f"apt-cacher-ng of lab {lab.name}")
    conf_file.write_text(config)
    for sub in (lab.proxy_cache_dir, lab.proxy_dir / "log"):
        sub.mkdir(parents=True, exist_ok=True)
        sysutil.run(["chown", "-R", f"{ACNG_USER}:{ACNG_USER}", str(sub)], "apt proxy dirs")
    sysutil.run(["chown", f"{ACNG_USER}:{ACNG_USER}", str(lab.proxy_dir)], "apt proxy dir")
    # The daemon runs as its own user: every parent of its cache must let it through (a
    # cache directory made with mktemp is 0700 root).
    reach = subprocess.run([*_as_acng(), "test", "-w", str(lab.proxy_cache_dir)], check=False)
    if reach.returncode != 0:
        raise LabError(
            f"lab {lab.name}: the apt proxy (user {ACNG_USER}) cannot write its cache "
            f"{lab.proxy_cache_dir}: a parent directory is not searchable by other users "
            f"(e.g. `chmod 0755 {lab.cache_dir}`)"
        )
    if listening(str(lab.gateway), lab.proxy_port):
        raise LabError(
            f"lab {lab.name}: {lab.gateway}:{lab.proxy_port} is already taken by a process this "
            "lab did not start (a system apt-cacher-ng listening on all addresses? stop it)"
        )
    # Drop root: the daemon only needs its own cache and log directories.
    proc = sysutil.spawn(
        [
            *_as_acng(),
            "/usr/sbin/apt-cacher-ng",
            "-c",
            str(conf_dir),
        ],
        lab.proxy_dir / "daemon.log",
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if listening(str(lab.gateway), lab.proxy_port):
            return proc
        if not proc.alive():
            break
        time.sleep(0.1)
    sysutil.stop(proc, 15, 5, f"apt-cacher-ng of lab {lab.name}")
    raise LabUnavailableError(
        f"lab {lab.name}: apt-cacher-ng did not listen on {lab.gateway}:{lab.proxy_port}; "
        f"see {lab.proxy_dir / 'daemon.log'} and {lab.proxy_dir / 'log'}"
    )
