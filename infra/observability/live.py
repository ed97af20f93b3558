"""The live state of a running Prometheus's scrape targets, read from its HTTP API.

`rampart demo` shows it for the monitoring host of the lab (role `prometheus`); the address
comes from the Ansible inventory the role was applied with, so the demo asks the Prometheus
the playbook configured, not a guess:

    python -m infra.observability.live [--inventory inventories/lab/hosts.yml]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

# The checkout holding roles/ (the prometheus role's defaults name the port).
REPO = Path(__file__).resolve().parents[2]


MONITORING_GROUP = "monitoring"


class LiveError(Exception):
    """Prometheus or the inventory could not be read; the message names which."""


@dataclass(frozen=True)
class TargetState:
    job: str
    instance: str
    service: str
    tier: str
    health: str  # up, down or unknown (not scraped yet)
    last_scrape: str
    error: str


def fetch_targets(url: str, timeout: float = 5.0) -> list[TargetState]:
    """Active targets of the Prometheus at `url` (http://host:port), sorted by job, instance."""
    api = f"{url.rstrip('/')}/api/v1/targets?state=active"
    try:
        with urllib.request.urlopen(api, timeout=timeout) as response:  # noqa: S310 (http URL)
            body = json.load(response)
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise LiveError(f"Prometheus at {url}: {getattr(exc, 'reason', exc)}") from exc
    if body.get("status") != "success":
        raise LiveError(f"Prometheus at {url}: {body.get('error', body)}")
    return sorted(
        (
            TargetState(
                job=t["labels"].get("job", "?"),
                instance=t["labels"].get("instance", "?"),
                service=t["labels"].get("service", ""),
                tier=t["labels"].get("tier", ""),
                health=t.get("health", "unknown"),
                last_scrape=t.get("lastScrape", ""),
                error=t.get("lastError", ""),
            )
            for t in body["data"]["activeTargets"]
        ),
        key=lambda s: (s.job, s.instance),
    )


def _role_default(name: str) -> Any:
    """A variable's default in roles/prometheus/defaults/main.yml."""
    defaults = REPO / "roles/prometheus/defaults/main.yml"
    return yaml.safe_load(defaults.read_text())[name]


@dataclass(frozen=True)
class MonitoringHost:
    """The group's first host as the prometheus role serves on it."""

    address: str  # ready for a URL: an IPv6 address in brackets
    hostvars: dict[str, Any]

    def url(self, port_var: str) -> str:
        """http://<address>:<the port variable, or the role's default>"""
        return f"http://{self.address}:{self.hostvars.get(port_var, _role_default(port_var))}"


def monitoring_host(inventory: Path, group: str = MONITORING_GROUP) -> MonitoringHost:
    """The group's first host: prometheus_listen_address when the inventory sets a literal
    one, else ansible_host (the role's default), else its inventory name."""
    if not inventory.is_file():
        raise LiveError(f"inventory {inventory} does not exist")
    ansible_inventory = shutil.which("ansible-inventory") or str(
        Path(sys.executable).parent / "ansible-inventory"
    )
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [ansible_inventory, "-i", str(inventory), "--list"],
        capture_output=True, text=True, check=False, timeout=120,
    )
    if result.returncode != 0:
        raise LiveError(f"inventory {inventory}: {result.stderr.strip()[-300:]}")
    data = json.loads(result.stdout)
    hosts = data.get(group, {}).get("hosts", [])
    if not hosts:
        raise LiveError(f"inventory {inventory}: group {group!r} has no host")
    hostvars = data.get("_meta", {}).get("hostvars", {}).get(hosts[0], {})
    address = str(hostvars.get("prometheus_listen_address", ""))
    if not address or "{{" in address:
        address = str(hostvars.get("ansible_host", hosts[0]))
    return MonitoringHost(f"[{address}]" if ":" in address else address, hostvars)


def prometheus_url(inventory: Path, group: str = MONITORING_GROUP) -> str:
    """http://<address>:<port> of the Prometheus the role runs on the group's first host
    (monitoring_host), at prometheus_port or the role's default port."""
    return monitoring_host(inventory, group).url("prometheus_port")


def targets_table(url: str, targets: list[TargetState]) -> Table:
    up = sum(t.health == "up" for t in targets)
    table = Table(title=f"Live scrape targets of {url} ({up}/{len(targets)} up)")
    for col in ("job", "instance", "service", "tier", "health", "last scrape", "error"):
        table.add_column(col)
    colours = {"up": "green", "down": "red"}
    for t in targets:
        colour = colours.get(t.health, "yellow")
        table.add_row(t.job, t.instance, t.service, t.tier, f"[{colour}]{t.health}[/]",
                      t.last_scrape[:19].replace("T", " "), t.error[:60])
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=Path("inventories/lab/hosts.yml"))
    parser.add_argument("--url", help="Prometheus base URL (default: from the inventory)")
    args = parser.parse_args(argv)
    try:
        url = args.url or prometheus_url(args.inventory)
        targets = fetch_targets(url)
    except LiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Console().print(targets_table(url, targets))
    return 0 if targets and all(t.health == "up" for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
