"""Every selected drill passes on the lab: its alerts arrive within their bounds, the
runbook's fix resolves them, nothing is lost, and the fault is reverted. The figures of the
run are written to build/drills/<drill>.json (docs/drills.md, docs/benchmarks.md).

The demo's drill runs through the demo's own step (`rampart drill run NAME --json`), so the
command a user meets is the one tested, without running that drill twice."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from infra import demo
from infra.drills.catalog import drills
from infra.drills.engine import Ctx, Drill, run
from infra.lab import LabConfig
from infra.readiness import evidence

REPO = Path(__file__).resolve().parents[2]

FIGURES = REPO / "build" / "drills"
# The fast subset by default; RAMPART_DRILLS=all adds the slow ones (conftest.py).
SELECTED = [d for d in drills() if os.environ.get("RAMPART_DRILLS", "") == "all" or d.fast]
# Its own test below, through the demo's step.
EXCEPT_DEMO = [d for d in SELECTED if d.name != demo.FAST_DRILL]


@pytest.mark.parametrize("drill", EXCEPT_DEMO, ids=lambda d: d.name)
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


def test_the_demo_fault_drill_step_passes_and_shows_its_timing(
    drill_ctx: Ctx, lab: LabConfig, tmp_path: Path,
) -> None:
    assert demo.FAST_DRILL in {d.name for d in drills() if d.fast}, "the demo's drill is fast"
    console = Console(file=io.StringIO(), width=200)
    step = next(s for s in demo.demo_steps(console, tmp_path, REPO, lab)
                if s.name == "fault drill")
    assert step.needs_lab and step.show is not None
    # The demo's evidence directory is the repository's out/evidence: here a scratch one.
    argv = list(step.argv)
    at = argv.index("--evidence") + 1
    assert argv[at] == str(REPO / "out" / "evidence"), argv
    argv[at] = str(tmp_path / "evidence")
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=960,
                          check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}: {output[-2000:]}"
    [result] = json.loads((tmp_path / "fault-drill.json").read_text(encoding="utf-8"))
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{demo.FAST_DRILL}.json").write_text(json.dumps(result, indent=2) + "\n")
    assert result["drill"] == demo.FAST_DRILL and result["passed"], output[-2000:]
    assert not result["cleanup_error"], result["cleanup_error"]
    arrivals = result["arrivals"]
    assert arrivals and all(a["time_to_alert_s"] is not None
                            and a["time_to_alert_s"] <= a["bound_s"] for a in arrivals), arrivals
    recorded = evidence.load_dir(tmp_path / "evidence")
    assert not recorded.problems, [str(p) for p in recorded.problems]
    outcomes = {(r.check, r.host): r.outcome for r in recorded.records}
    assert outcomes[(f"drill:{demo.FAST_DRILL}", result["host"])] == "passed", outcomes
    step.show()
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    for a in arrivals:
        assert f"{a['alert']} active in Alertmanager {a['time_to_alert_s']:g} s" in shown, shown
        assert f"(bound {a['bound_s']:g} s)" in shown, shown
