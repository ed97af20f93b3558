"""Every selected drill passes on the lab: its alerts arrive within their bounds, the
runbook's fix resolves them, nothing is lost, and the fault is reverted. The figures of the
run are written to build/drills/<drill>.json (docs/drills.md, docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.drills.catalog import drills
from infra.drills.engine import Ctx, Drill, run

FIGURES = Path(__file__).resolve().parents[2] / "build" / "drills"
# The fast subset by default; RAMPART_DRILLS=all adds the slow ones (conftest.py).
SELECTED = [d for d in drills() if os.environ.get("RAMPART_DRILLS", "") == "all" or d.fast]


@pytest.mark.parametrize("drill", SELECTED, ids=lambda d: d.name)
def test_drill_passes_within_its_bounds(drill: Drill, drill_ctx: Ctx) -> None:
    result = run(drill, drill_ctx)
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{drill.name}.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    figures = "; ".join(f"{a.alert} {a.severity}: {a.time_to_alert_s} s of {a.bound_s} s"
                        for a in result.arrivals)
    assert result.passed, f"{drill.name} on {drill.host}: {result.error or result.cleanup_error}" \
                          f" ({figures})"
    assert not result.cleanup_error, f"{drill.name}: cleanup failed: {result.cleanup_error}"
    assert result.arrivals and all(a.within_bound for a in result.arrivals), figures
