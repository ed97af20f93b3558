"""Fault drills on the lab (`rampart drill`, docs/drills.md): inject one real fault, prove
the alert reaches Alertmanager within its bound, apply the runbook's documented fix, see the
alert resolve and nothing lost; revert the fault in every case.

Owns the drill engine (bounds, the runbook blocks a drill executes, cleanup on failure and on
signals), the drills themselves (catalog) and how they reach the lab and Prometheus. May
import: the standard library, infra.lab (hosts, SSH) and infra.observability (settings,
runbook pages, the monitoring host's address); never the targets or the CLI.
"""

from infra.drills.engine import Bound, Drill, DrillResult, Expect, Fix, Stage, bound, run
from infra.drills.errors import (
    DrillError,
    DrillInputError,
    DrillInterrupted,
    DrillUnavailableError,
)

__all__ = [
    "Bound",
    "Drill",
    "DrillError",
    "DrillInputError",
    "DrillInterrupted",
    "DrillResult",
    "DrillUnavailableError",
    "Expect",
    "Fix",
    "Stage",
    "bound",
    "run",
]
