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
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import config as stack_config  # noqa: E402
from infra.policy_check import evaluate, resources_of  # noqa: E402
from infra.render import record_stack  # noqa: E402
from policies.core import Plain, Resource  # noqa: E402
from policies.settings import from_config_values, waiver_lines  # noqa: E402

STACK = "dev"


def time_command(runs: int) -> list[float]:
    rampart = Path(sys.executable).parent / "rampart"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([str(rampart), "policy", "check", "--stack", STACK, "--format",
                               "json"], cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):  # 1 = findings; still a complete check
            raise SystemExit(f"policy check failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode()[-500:]}")
    return times


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

    command = time_command(args.runs)
    print(f"rampart policy check --stack {STACK}: median {statistics.median(command):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in command)})")

    values = stack_config.stack_file_config(STACK, ROOT)
    stack_path = stack_config.stack_file(STACK, ROOT)
    settings = from_config_values(values, stack=STACK, source=str(stack_path),
                                  waiver_lines=waiver_lines(stack_path.read_text()))
    base = resources_of(record_stack(STACK, ROOT))
    rows = []
    for n in sizes:
        resources = synthetic(base, n)
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            outcomes = evaluate(resources, settings)
            samples.append(time.perf_counter() - start)
        seconds = statistics.median(samples)
        rows.append({"resources": n, "seconds": seconds, "per_second": n / seconds,
                     "outcomes": len(outcomes)})
    baseline = rows[0]["seconds"]
    print(f"{'resources':>10} {'seconds':>8} {'res/s':>8} {'x baseline':>10}")
    for row in rows:
        row["ratio"] = row["seconds"] / baseline
        print(f"{row['resources']:>10} {row['seconds']:>8.2f} {row['per_second']:>8.0f} "
              f"{row['ratio']:>10.2f}")
    if args.json:
        args.json.write_text(json.dumps({"command_s": command, "evaluation": rows}, indent=2))


if __name__ == "__main__":
    main()
