"""Render time for the ERP catalog and for synthetic catalogs of 50/100/250/500 services.

    .venv/bin/python benchmarks/render_scale.py [--runs 3] [--sizes 50,100,250,500] [--json F]

"Render" is what `rampart render --stack dev --out NEW` does after start-up: read the stack,
build the model, run `__main__.py` under the recording engine, write a new output directory
(with its `.rampart-manifest.json`; every run gets a fresh one, so each timed write is the
same work and never meets the guard against overwriting files). Interpreter start-up and
imports (about 0.5 s, paid once per command) are reported separately.

Synthetic catalogs are the ERP catalog plus copies of one business service (`crm`, same image,
dependencies and secrets) until the catalog holds N services; each copy is a complete hardened
service (image, container, secrets volume), so resources grow with N like a real catalog would.
Targets (issue 2): ERP catalog <= 3 s; 500 services <= 10x the 50-service time.

Every CPU time is also given as a multiple of a fixed reference workload timed in the same
run (`cpu_x_reference`), the figure to compare between runs on a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

IMPORT_STARTED = time.perf_counter()
from infra.model import DEFAULT_CATALOG  # noqa: E402 (timed import)
from infra.offline.render import record_stack, write  # noqa: E402 (timed import)

IMPORT_S = time.perf_counter() - IMPORT_STARTED


def reference_s(runs: int = 5) -> float:
    """A fixed, pure-Python CPU workload (YAML round trip of a catalog-sized document),
    timed in the same run: dividing by it makes figures from differently loaded runs and
    machines comparable. Median CPU seconds."""
    doc = {"services": {f"svc-{i}": {"port": 3000 + i, "depends_on": ["postgres", "redis"],
                                     "environment": {"A": "b" * 20, "C": str(i)}}
                        for i in range(400)}}
    samples = []
    for _ in range(runs):
        started = time.process_time()
        yaml.safe_load(yaml.safe_dump(doc))
        samples.append(time.process_time() - started)
    return statistics.median(samples)
TEMPLATE = "crm"
FIRST_PORT = 20000  # clear of every port the ERP catalog uses


def synthetic_catalog(total: int, directory: Path) -> Path:
    """The ERP catalog grown to `total` services; returns the catalog path."""
    source = yaml.safe_load(DEFAULT_CATALOG.read_text())
    services = source["services"]
    if total < len(services):
        raise SystemExit(f"{total} services is fewer than the ERP catalog's {len(services)}")
    template = services[TEMPLATE]
    for i in range(total - len(services)):
        clone = copy.deepcopy(template)
        clone["port"] = FIRST_PORT + i
        services[f"synthetic-{i:03d}"] = clone
    # Anchors were resolved on load; `x-` blocks are dropped as the model ignores them anyway.
    data = {k: v for k, v in source.items() if not str(k).startswith("x-")}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    shutil.copy(DEFAULT_CATALOG.parent / data.get("versions", "versions.yaml"),
                directory / data.get("versions", "versions.yaml"))
    return path


def time_render(catalog: Path | None, out: Path, runs: int) -> dict[str, float]:
    """Median figures of `runs` renders, run `i` written to the new directory `out/run-i`."""
    overrides = {"catalog": str(catalog)} if catalog else None
    record_s, total_s, cpu_s, resources = [], [], [], 0
    for run in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        recording = record_stack("dev", ROOT, overrides=overrides)
        recorded = time.perf_counter()
        write(recording, out / f"run-{run}")
        done, cpu_done = time.perf_counter(), time.process_time()
        record_s.append(recorded - started)
        total_s.append(done - started)
        cpu_s.append(cpu_done - cpu_started)
        resources = len(recording)
    # CPU time is reported next to wall time: on a shared, loaded machine it is the steadier
    # figure (the render is CPU-bound and single-threaded in effect).
    return {"resources": resources, "record_s": round(statistics.median(record_s), 3),
            "render_s": round(statistics.median(total_s), 3),
            "render_min_s": round(min(total_s), 3),
            "render_cpu_s": round(statistics.median(cpu_s), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument("--sizes", default="50,100,250,500")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    reference_before = reference_s()
    with tempfile.TemporaryDirectory(prefix="rampart-bench-") as tmp:
        work = Path(tmp)
        results["erp"] = time_render(None, work / "out-erp", args.runs)
        print(f"erp: {results['erp']}", flush=True)
        for size in (int(s) for s in args.sizes.split(",")):
            directory = work / f"cat-{size}"
            directory.mkdir()
            catalog = synthetic_catalog(size, directory)
            results[str(size)] = time_render(catalog, work / f"out-{size}", args.runs)
            print(f"{size}: {results[str(size)]}", flush=True)

    reference = statistics.median([reference_before, reference_s()])
    for row in results.values():
        row["cpu_x_reference"] = round(row["render_cpu_s"] / reference, 1)
    sizes = [k for k in results if k != "erp"]
    ratio = (results[sizes[-1]]["render_s"] / results[sizes[0]]["render_s"]) if sizes else 0.0
    cpu_ratio = (results[sizes[-1]]["render_cpu_s"] / results[sizes[0]]["render_cpu_s"]
                 if sizes else 0.0)
    summary = {
        "import_s": IMPORT_S, "cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0],
        "reference_cpu_s": round(reference, 3),
        "results": results,
        "erp_within_3s": results["erp"]["render_s"] <= 3.0,
        "erp_cpu_within_3s": results["erp"]["render_cpu_s"] <= 3.0,
    }
    if sizes:
        summary[f"ratio_{sizes[-1]}_over_{sizes[0]}"] = round(ratio, 2)
        summary[f"cpu_ratio_{sizes[-1]}_over_{sizes[0]}"] = round(cpu_ratio, 2)
        summary["linear_within_10x"] = ratio <= 10.0
    print(json.dumps(summary, indent=2, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
