"""What `rampart demo` shows with the lab up: the live targets of the lab Prometheus, found
through the inventory (infra.observability.live), every one up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lab_support import Monitoring

from infra.observability import live

from .support import HOSTS, REPO


def test_demo_finds_the_lab_prometheus_through_the_inventory(monitoring: Monitoring) -> None:
    assert live.prometheus_url(REPO / "inventories/lab/hosts.yml") == monitoring.prometheus


def test_demo_reads_every_live_target_up(monitoring: Monitoring) -> None:
    targets = live.fetch_targets(monitoring.prometheus)
    nodes = [t for t in targets if t.job == "node"]
    assert len(nodes) == len(HOSTS), f"node targets: {[t.instance for t in nodes]}"
    assert all(t.health == "up" and t.service == "node-exporter" for t in nodes), nodes


def test_live_module_prints_the_table_and_exits_0_when_all_are_up(
    monitoring: Monitoring,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "infra.observability.live",
         "--inventory", str(Path("inventories/lab/hosts.yml"))],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},  # rich wraps narrow tables
    )
    assert run.returncode == 0, f"exit {run.returncode}: {run.stdout[-500:]} {run.stderr[-500:]}"
    assert monitoring.prometheus in run.stdout and "node-exporter" in run.stdout, run.stdout
