"""node_exporter: installed, running, listening on the private address only, scraped with
the textfile collector wired to the directory other roles write into."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import HOSTS, listening, role_vars

SCRAPER = "mon1"


@pytest.mark.parametrize("name", HOSTS)
def test_exporter_is_installed_enabled_and_running(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    assert host.package("prometheus-node-exporter").is_installed, f"{name}: not installed"
    service = host.service("prometheus-node-exporter")
    assert service.is_enabled, f"{name}: prometheus-node-exporter is not enabled"
    assert service.is_running, f"{name}: prometheus-node-exporter is not running"


@pytest.mark.parametrize("name", HOSTS)
def test_exporter_listens_on_the_private_address_only(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    port = int(v["node_exporter_port"])
    on_port = {addr for addr, p in listening(host) if p == port}
    assert on_port == {v["node_exporter_listen_address"]}, (
        f"{name}: port {port} listens on {sorted(on_port)}, expected only "
        f"{v['node_exporter_listen_address']}"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_textfile_directory_is_owned_by_the_exporter(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    v = role_vars(host)
    d = host.file(v["node_exporter_textfile_directory"])
    assert d.is_directory, f"{name}: {v['node_exporter_textfile_directory']} missing"
    assert (d.user, d.group, d.mode) == (
        v["node_exporter_textfile_owner"],
        v["node_exporter_textfile_group"],
        int(v["node_exporter_textfile_mode"], 8),
    ), f"{name}: textfile directory is {d.user}:{d.group} {oct(d.mode)}"


@pytest.mark.parametrize("name", HOSTS)
def test_textfile_metrics_are_exported_to_the_monitoring_host(
    hardened: Callable[[str], Host], name: str
) -> None:
    """A .prom file dropped into the directory shows up in a scrape made from mon1."""
    host = hardened(name)
    v = role_vars(host)
    metric = f"rampart_test_textfile_probe{{host=\"{name}\"}} 1"
    path = f"{v['node_exporter_textfile_directory']}/rampart_test_probe.prom"
    # As every writer must (role common sets umask 027): the file readable by node_exporter.
    host.check_output(
        f"umask 022 && printf '%s\\n' '{metric}' > {path}.tmp && mv {path}.tmp {path}")
    try:
        url = f"http://{v['node_exporter_listen_address']}:{v['node_exporter_port']}/metrics"
        scrape = hardened(SCRAPER).run(
            "python3 -c 'import sys, urllib.request; "
            "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "
            + url
        )
    finally:
        host.run(f"rm -f {path}")
    assert scrape.rc == 0, f"{SCRAPER} could not scrape {url}: {scrape.stderr}"
    assert "node_exporter_build_info" in scrape.stdout, f"{url} is not a node exporter"
    assert metric in scrape.stdout, f"{name}: textfile metric from {path} not in {url}"
