"""Drill tier: the fault drills (infra/drills) on the default lab, through the same lab
fixtures as the host tier (tests/hosts/conftest.py: the lab brought up once per session).

The drills run last in a session: they need a converged lab, which the host tier's
converge (playbooks/site.yml) leaves behind. Run alone on a lab that is not converged
(Prometheus lacks a rule a drill expects), they converge it once first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hosts.conftest import lab, run_playbook_now  # noqa: F401 - the shared session fixture

from infra.drills.catalog import drills
from infra.drills.engine import Ctx
from infra.drills.errors import DrillError
from infra.drills.lab import LabShell
from infra.drills.monitor import Monitor, endpoints
from infra.lab import LabConfig

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories/lab/hosts.yml"
# The slow drills (host power-off, backup retry, brute force, CPU stress) join the default
# subset with RAMPART_DRILLS=all; every drill is always listed by `rampart drill list`.
ALL = os.environ.get("RAMPART_DRILLS", "") == "all"
SELECTED = [d for d in drills() if ALL or d.fast]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    mine = [i for i in items if here in Path(str(i.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.drills)
    # Last: after the host tier has converged the lab (and so the drills' faults never
    # overlap another tier's tests).
    others = [i for i in items if i not in mine]
    items[:] = others + mine


def _missing_rules(monitor: Monitor) -> list[str]:
    timing = monitor.timing()
    return sorted({f"{e.alert} ({e.severity})" for d in SELECTED for e in d.expects()
                   if not e.query and (e.alert, e.severity) not in timing.rules})


@pytest.fixture(scope="session")
def drill_ctx(lab: LabConfig) -> Ctx:  # noqa: F811 - the imported fixture
    """A drill context on the converged default lab."""
    try:
        monitor = Monitor(endpoints(INVENTORY))
        missing = _missing_rules(monitor)
    except DrillError as exc:  # Prometheus not there yet: a lab never converged
        missing = [str(exc)]
    if missing:
        run = run_playbook_now("playbooks/site.yml")
        if run.returncode != 0:
            pytest.fail(f"converge failed: {run.failure_summary()}", pytrace=False)
        monitor = Monitor(endpoints(INVENTORY))
        missing = _missing_rules(monitor)
        if missing:
            pytest.fail(f"Prometheus on the converged lab lacks {', '.join(missing)}",
                        pytrace=False)
    return Ctx(LabShell(lab), monitor, log=print)
