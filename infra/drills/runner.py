"""Run drills by name on the default lab: what `rampart drill run` and `make demo` call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from infra.drills.catalog import by_name
from infra.drills.engine import Ctx, DrillResult, run
from infra.drills.errors import DrillUnavailableError
from infra.drills.lab import LabShell
from infra.drills.monitor import Monitor, endpoints

DEFAULT_INVENTORY = Path("inventories/lab/hosts.yml")


def context(hosts: list[str], inventory: Path = DEFAULT_INVENTORY,
            log: Callable[[str], None] = print) -> Ctx:
    """A drill context, checked: Prometheus and Alertmanager answer with their rules loaded
    and the named lab hosts run (DrillUnavailableError otherwise; bad input: DrillInputError)."""
    monitor = Monitor(endpoints(inventory))
    monitor.timing()
    lab = LabShell()
    down = sorted({h for h in hosts if not lab.running(h)})
    if down:
        raise DrillUnavailableError(f"lab hosts not running: {', '.join(down)} (rampart lab up)")
    return Ctx(lab, monitor, log=log)


def run_one(name: str, inventory: Path = DEFAULT_INVENTORY,
            log: Callable[[str], None] = print, timeout: float = 900.0) -> DrillResult:
    """One drill by name, e.g. run_one("node-exporter-stopped"); the result holds each
    alert's time_to_alert_s and bound_s (result.arrivals) and whether it passed."""
    drill = by_name(name)
    return run(drill, context([drill.host], inventory, log), timeout)
