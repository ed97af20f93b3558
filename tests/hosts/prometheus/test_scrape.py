"""The live Prometheus on the monitoring host scrapes node_exporter on every lab host (all
targets up) and has every generated rule group loaded, read through its HTTP API from the
controller."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import yaml
from lab_support import Monitoring
from testinfra.host import Host

from .support import HOSTS, api, seconds


def _targets(monitoring: Monitoring) -> list[dict]:
    return api(f"{monitoring.prometheus}/api/v1/targets?state=active")["activeTargets"]


def _wait_all_up(monitoring: Monitoring, timeout: float) -> list[dict]:
    """A target just (re)configured is 'unknown' until its first scrape."""
    deadline = time.monotonic() + timeout
    while True:
        targets = _targets(monitoring)
        if all(t["health"] == "up" for t in targets) or time.monotonic() > deadline:
            return targets
        time.sleep(1)


@pytest.fixture(scope="module")
def scrape_interval(monitoring: Monitoring) -> float:
    config = yaml.safe_load(api(f"{monitoring.prometheus}/api/v1/status/config")["yaml"])
    return seconds(config["global"]["scrape_interval"])


@pytest.mark.parametrize("name", HOSTS)
def test_node_exporter_of_every_lab_host_is_scraped_and_up(
    monitoring: Monitoring,
    scrape_interval: float,
    hardened: Callable[[str], Host],
    name: str,
) -> None:
    instance = f"{hardened(name).ansible.get_variables()['ansible_host']}:9100"
    targets = _wait_all_up(monitoring, 3 * scrape_interval)
    node = [t for t in targets if t["labels"].get("job") == "node"
            and t["labels"].get("instance") == instance]
    assert node, (
        f"{name}: no node target {instance} in Prometheus "
        f"({sorted(t['labels'].get('instance', '?') for t in targets)})"
    )
    assert node[0]["health"] == "up", f"{name}: {instance} is {node[0]['health']}: " \
        f"{node[0].get('lastError')}"
    assert node[0]["labels"].get("service") == "node-exporter", node[0]["labels"]
    assert node[0]["labels"].get("tier"), f"{name}: {instance} has no tier label"


def test_every_target_is_up(monitoring: Monitoring, scrape_interval: float) -> None:
    targets = _wait_all_up(monitoring, 3 * scrape_interval)
    down = {t["scrapeUrl"]: t.get("lastError") for t in targets if t["health"] != "up"}
    assert targets, "Prometheus has no active targets"
    assert not down, f"targets not up: {down}"
    jobs = {t["labels"]["job"] for t in targets}
    # Bare hosts: no catalog service, but Traefik on the edge hosts (the edge alerts).
    assert jobs == {"prometheus", "alertmanager", "node", "traefik"}, (
        f"jobs scraped: {sorted(jobs)}")


def test_every_generated_rule_group_is_loaded(monitoring: Monitoring) -> None:
    expected: dict[str, set[str]] = {}
    for path in monitoring.host.check_output("ls -1 /etc/prometheus/rules/*.yml").split():
        doc = yaml.safe_load(monitoring.host.file(path).content_string)
        for group in doc["groups"]:
            expected[group["name"]] = {r.get("alert") or r.get("record") for r in group["rules"]}
    loaded = {
        g["name"]: {r["name"] for r in g["rules"]}
        for g in api(f"{monitoring.prometheus}/api/v1/rules")["groups"]
    }
    assert expected, "no rule groups in /etc/prometheus/rules"
    assert loaded == expected, (
        f"loaded rule groups differ from the files: missing "
        f"{sorted(set(expected) - set(loaded))}, unexpected {sorted(set(loaded) - set(expected))}"
        f", rules differing in {sorted(n for n in expected if loaded.get(n) != expected[n])}"
    )
    health = {r["name"]: r.get("lastError") for g in
              api(f"{monitoring.prometheus}/api/v1/rules")["groups"]
              for r in g["rules"] if r.get("health") == "err"}
    assert not health, f"rules failing to evaluate: {health}"

