"""Offline policy check: time for the ERP dev stack, and evaluation throughput at scale.

    .venv/bin/python benchmarks/policy_scale.py [--runs 3] [--sizes 1000,2000,5000,10000]

Two figures (issue 6, item 7):
1. `rampart policy check --stack dev` end to end, as a user runs it (a fresh process: start-up,
   render under the recording engine, evaluation, report). Target: <= 5 s.
2. Evaluation alone over N synthetic resources (resources per second) and its growth from
   1,000 to 10,000 resources; the 1,000-resource time is the baseline measured in the same
   run, so the 10,000 figure is reported as a ratio to it (linear = 10x).

Synthetic resources are the rendered dev stack's resources, copied round-robin until there are
N, each copy with its own name and URN and one distinct value in every container (an
environment entry) and every uploaded file (a trailing comment), so no per-content cache in
the rules can make copies cheaper than real, distinct resources.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from render_scale import reference_s  # noqa: E402  (benchmarks/ is the script's dir)

from infra import stack as stack_config  # noqa: E402
from infra.offline.evaluate import evaluate, resources_of  # noqa: E402
from infra.offline.render import record_stack  # noqa: E402
from policies.core import Plain, Resource, parse_yaml  # noqa: E402

STACK = "dev"


# The same-run CPU reference as render_scale.py's, so both benchmarks' ratios compare.


def time_command(runs: int) -> list[dict[str, float]]:
    """Wall and CPU time of `rampart policy check` as a user runs it, and the time the
    command itself reports (render + evaluation, without interpreter start-up)."""
    rampart = Path(sys.executable).parent / "rampart"
    rows = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([str(rampart), "policy", "check", "--stack", STACK, "--format",
                               "json"], cwd=ROOT, capture_output=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode not in (0, 1):  # 1 = findings; still a complete check
            raise SystemExit(f"policy check failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode()[-500:]}")
        report = json.loads(proc.stdout)
        rows.append({"wall_s": wall,
                     "cpu_s": (after.ru_utime - before.ru_utime)
                     + (after.ru_stime - before.ru_stime),
                     "in_command_s": report["summary"]["seconds"],
                     "passed": report["passed"]})
    return rows


def _distinct(props: dict[str, Any], i: int) -> dict[str, Any]:
    props = copy.deepcopy(props)
    if isinstance(props.get("envs"), list):
        props["envs"].append(f"RAMPART_BENCH_COPY={i}")
    for upload in props.get("uploads") or []:
        if isinstance(upload, dict) and isinstance(upload.get("content"), str):
            upload["content"] += f"\n# copy {i}\n"
    return props


def synthetic(base: list[Resource], n: int) -> list[Resource]:
    out = []
    for i in range(n):
        r = base[i % len(base)]
        name = f"{r.name}-c{i}"
        props = _distinct(dict(r.props), i)
        out.append(Resource(r.type, name, r.urn.rsplit("::", 1)[0] + f"::{name}", Plain(props)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,2000,5000,10000")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    reference_before = reference_s()
    command = time_command(args.runs)
    wall = statistics.median(r["wall_s"] for r in command)
    cpu = statistics.median(r["cpu_s"] for r in command)
    inside = statistics.median(r["in_command_s"] for r in command)
    walls = ", ".join(f"{r['wall_s']:.2f}" for r in command)
    print(f"rampart policy check --stack {STACK}: median wall {wall:.2f} s, CPU {cpu:.2f} s, "
          f"reported by the command {inside:.2f} s; passed: "
          f"{all(r['passed'] for r in command)} (runs: {walls})")

    settings = stack_config.load(STACK, ROOT).policy
    base = resources_of(record_stack(STACK, ROOT))
    rows = []
    for n in sizes:
        resources = synthetic(base, n)
        samples, cpu_samples = [], []
        for _ in range(args.runs):
            parse_yaml.cache_clear()  # every run starts cold, as a fresh `policy check` does
            start, cpu_start = time.perf_counter(), time.process_time()
            outcomes = evaluate(resources, settings)
            samples.append(time.perf_counter() - start)
            cpu_samples.append(time.process_time() - cpu_start)
        seconds, cpu_s = statistics.median(samples), statistics.median(cpu_samples)
        rows.append({"resources": n, "seconds": seconds, "cpu_s": cpu_s,
                     "per_second": n / seconds, "per_cpu_second": n / cpu_s,
                     "outcomes": len(outcomes)})
    reference = statistics.median([reference_before, reference_s()])
    baseline, cpu_baseline = rows[0]["seconds"], rows[0]["cpu_s"]
    print(f"{'resources':>10} {'wall s':>8} {'CPU s':>8} {'res/s':>8} {'res/CPU s':>10} "
          f"{'x baseline':>10} {'CPU x base':>10}")
    for row in rows:
        row["ratio"] = row["seconds"] / baseline
        row["cpu_ratio"] = row["cpu_s"] / cpu_baseline
        print(f"{row['resources']:>10} {row['seconds']:>8.2f} {row['cpu_s']:>8.2f} "
              f"{row['per_second']:>8.0f} {row['per_cpu_second']:>10.0f} "
              f"{row['ratio']:>10.2f} {row['cpu_ratio']:>10.2f}")
    summary = {
        "cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0],
        "reference_cpu_s": round(reference, 3),
        "command": command,
        "command_cpu_x_reference": round(cpu / reference, 1),
        "check_within_5s": wall <= 5.0, "check_cpu_within_5s": cpu <= 5.0,
        "evaluation": rows,
        "growth_cpu": round(rows[-1]["cpu_ratio"], 2),
        "size_ratio": rows[-1]["resources"] / rows[0]["resources"],
    }
    print(json.dumps({k: v for k, v in summary.items() if k not in ("command", "evaluation")},
                     indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
