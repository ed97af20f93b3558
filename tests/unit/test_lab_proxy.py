"""apt-cacher-ng configuration: backends from the machine's apt sources, bound to the bridge."""

from __future__ import annotations

import pytest

from infra.lab import default_lab
from infra.lab.proxy import Mirrors, apt_proxy_conf, parse_apt_sources, render_config

pytestmark = pytest.mark.unit

DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""

ONE_LINE = """# local mirror
deb [arch=amd64 signed-by=/x.gpg] http://ftp.de.debian.org/debian/ bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb cdrom:[Debian 12]/ bookworm main
"""


def test_deb822_sources_as_on_this_machine() -> None:
    assert parse_apt_sources([DEB822]) == Mirrors(
        "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    )


def test_one_line_sources_with_options_and_foreign_repos() -> None:
    assert parse_apt_sources([ONE_LINE]) == Mirrors(
        "http://ftp.de.debian.org/debian", "http://security.debian.org/debian-security"
    )


def test_no_debian_sources_falls_back_to_deb_debian_org() -> None:
    assert parse_apt_sources(["deb cdrom:[x]/ bookworm main\n"]) == Mirrors(
        "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    )


def test_config_binds_the_bridge_and_maps_both_archives_to_the_machine_mirrors() -> None:
    lab = default_lab()
    text = render_config(lab, Mirrors("http://mirror.example/debian", "http://sec.example/ds"))
    lines = text.splitlines()
    assert "BindAddress: 10.77.0.1" in lines
    assert "Port: 3142" in lines
    assert f"CacheDir: {lab.proxy_cache_dir}" in lines
    debrep = next(line for line in lines if line.startswith("Remap-debrep:"))
    assert debrep.endswith("; http://mirror.example/debian/"), debrep
    assert "deb_mirror" not in debrep, "the distribution mirror list is unreachable here"
    secdeb = next(line for line in lines if line.startswith("Remap-secdeb:"))
    assert "deb.debian.org/debian-security" in secdeb and secdeb.endswith(
        "; http://sec.example/ds/"
    )


def test_hosts_use_the_proxy_for_every_http_source() -> None:
    assert apt_proxy_conf(default_lab()).splitlines()[-1] == (
        'Acquire::http::Proxy "http://10.77.0.1:3142";'
    )
