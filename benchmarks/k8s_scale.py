"""Kubernetes target: render + manifests + policy check of the k8s stacks, ERP and synthetic
catalogs of 50/100/250/500 services.

    .venv/bin/python benchmarks/k8s_scale.py [--runs 3] [--sizes 50,100,250,500] [--json F]

One "check" is what `rampart render --format manifests` and `rampart policy check` do after
start-up, in one process: read the stack, build the model, run the program under the recording
engine, collect the manifests (apply order, redaction, YAML text) and evaluate the policy pack
over the recorded resources. The baseline is the same work for the Docker `dev` stack of the
same catalog, timed in the same run, so figures are also given as a ratio to it.

Synthetic catalogs grow the ERP catalog with copies of one business service
(benchmarks/render_scale.py `synthetic_catalog`), so objects grow with N as a real catalog's.
Targets (issue 14 item 11): ERP catalog <= 5 s per stack; growth linear (500 services within
10x the 50-service time, 10x the services).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from render_scale import reference_s, synthetic_catalog  # noqa: E402 (script's dir)

from infra import stack as stack_config  # noqa: E402
from infra.offline import manifests  # noqa: E402
from infra.offline.evaluate import evaluate, resources_of  # noqa: E402
from infra.offline.render import record  # noqa: E402


def one_check(stack_name: str, catalog: Path | None) -> tuple[float, float, int, int]:
    """(wall s, CPU s, objects or resources, findings) of one render + check."""
    started, cpu = time.perf_counter(), time.process_time()
    stack = stack_config.load(stack_name, ROOT)
    if catalog is not None:
        stack = stack_config.from_values({**stack.values, "catalog": str(catalog)},
                                         name=stack.name, source=stack.source,
                                         root=stack.project_dir, positions=stack.positions)
    recording = record(stack)
    count = len(recording)
    if stack.target == "kubernetes":
        collected = manifests.collect(recording)
        collected.texts()
        count = len(collected)
    outcomes = evaluate(resources_of(recording), stack.policy)
    findings = sum(1 for o in outcomes if o.waiver is None)
    return time.perf_counter() - started, time.process_time() - cpu, count, findings


def timed(stack_name: str, catalog: Path | None, runs: int) -> dict[str, float]:
    walls, cpus, count, findings = [], [], 0, 0
    for _ in range(runs):
        wall, cpu, count, findings = one_check(stack_name, catalog)
        walls.append(wall)
        cpus.append(cpu)
    return {"objects": count, "findings": findings,
            "wall_s": round(statistics.median(walls), 3),
            "cpu_s": round(statistics.median(cpus), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="50,100,250,500")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reference_before = reference_s()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="rampart-k8s-bench-") as tmp:
        catalogs: dict[str, Path | None] = {"erp": None}
        for size in (int(s) for s in args.sizes.split(",") if s):
            directory = Path(tmp) / f"cat-{size}"
            directory.mkdir()
            catalogs[str(size)] = synthetic_catalog(size, directory)
        for label, catalog in catalogs.items():
            row = {name: timed(name, catalog, args.runs)
                   for name in ("k8s-dev", "k8s-prod", "dev")}
            for name in ("k8s-dev", "k8s-prod"):
                row[name]["x_docker_dev"] = round(row[name]["wall_s"] / row["dev"]["wall_s"],
                                                  2)
            results[label] = row
            print(f"{label}: {json.dumps(row, sort_keys=True)}", flush=True)
    reference = statistics.median([reference_before, reference_s()])
    sizes = [k for k in results if k != "erp"]
    summary: dict[str, object] = {
        "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
        "reference_cpu_s": round(reference, 3), "results": results,
        "erp_within_5s": all(results["erp"][n]["wall_s"] <= 5.0 for n in ("k8s-dev",
                                                                            "k8s-prod")),
    }
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        growth = round(results[last]["k8s-dev"]["wall_s"] / results[first]["k8s-dev"]["wall_s"],
                       2)
        summary[f"k8s_dev_ratio_{last}_over_{first}"] = growth
        summary["services_ratio"] = round(int(last) / int(first), 2)
        summary["linear"] = growth <= int(last) / int(first)
    print(json.dumps(summary, indent=2, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
