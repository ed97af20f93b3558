"""Idempotent re-run of playbooks/site.yml on the four lab hosts, against the floor of the same
number of trivial module calls measured in the same run.

    .venv/bin/python benchmarks/converge.py [--runs 3] [--json out/converge-bench.json]

Needs the default lab up (`rampart lab up`); converges it once first when it is not yet
(that run is not timed). Then, alternately:

1. `ansible-playbook playbooks/site.yml` (changed=0 asserted on every host) — wall time,
   the controller's CPU (Ansible and its ssh children), the whole machine's busy CPU
   (/proc/stat: the controller and all four hosts share it), and the module calls each host
   ran (lines its sudo log gained: every task that reaches a host is one `sudo python3`);
2. the baseline: a generated playbook in which each host runs as many `ansible.builtin.stat`
   calls as it ran module calls in the site run, as one loop (same ansible.cfg, hosts not
   waiting for each other) — what that many module calls cost on this machine at the least.

The ratio site / baseline tells how much of the re-run is more than the per-call floor; the
call count tells how far the floor itself is from a target. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))

from infra.lab import default_lab  # noqa: E402
from infra.lab.playbook import PlaybookRun, run_playbook  # noqa: E402

SUDO_LOG = "var/log/sudo.log"


def busy_jiffies() -> int:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def module_calls(roots: dict[str, Path]) -> dict[str, int]:
    """Commands each host's sudo log holds (role common logs every sudo use there)."""
    counts = {}
    for name, root in roots.items():
        log = root / SUDO_LOG
        text = log.read_text(errors="replace") if log.is_file() else ""
        counts[name] = text.count("COMMAND=")
    return counts


def measured(playbook: str, roots: dict[str, Path], *args: str) -> tuple[PlaybookRun, dict]:
    calls0, busy0 = module_calls(roots), busy_jiffies()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_playbook(playbook, *args)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, calls1 = busy_jiffies(), module_calls(roots)
    hz = os.sysconf("SC_CLK_TCK")
    return run, {
        "wall_s": round(run.seconds, 1),
        "controller_cpu_s": round(cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 1),
        "machine_busy_cpu_s": round((busy1 - busy0) / hz, 1),
        "module_calls": {h: calls1[h] - calls0[h] for h in roots},
    }


def baseline_playbook(calls: dict[str, int]) -> str:
    play = [{
        "name": "Baseline: trivial module calls",
        "hosts": "all",
        "gather_facts": False,
        "strategy": "free",
        "vars": {"baseline_calls": calls},
        "tasks": [{
            "name": "The same number of module calls as the site run",
            "ansible.builtin.stat": {"path": "/etc/hostname"},
            "loop": "{{ range(baseline_calls[inventory_hostname]) | list }}",
        }],
    }]
    fd, path = tempfile.mkstemp(prefix="rampart-baseline-", suffix=".yml", dir=ROOT / "out")
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(play, fh, sort_keys=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "converge-bench.json")
    opts = parser.parse_args()
    (ROOT / "out").mkdir(exist_ok=True)
    lab = default_lab()
    roots = {h.name: lab.host_root(h) for h in lab.hosts}
    if not all(r.is_dir() for r in roots.values()):
        sys.exit(f"lab {lab.name} is not up: run `rampart lab up` first")

    first = run_playbook("playbooks/site.yml")
    if first.returncode != 0:
        sys.exit(first.failure_summary())

    sites, bases = [], []
    baseline_path = None
    try:
        for i in range(opts.runs):
            run, site = measured("playbooks/site.yml", roots)
            if run.returncode != 0 or run.changed_hosts:
                problem = run.changed_hosts or run.failure_summary()
                sys.exit(f"site run {i + 1} not idempotent: {problem}")
            sites.append(site)
            if baseline_path is None:
                baseline_path = baseline_playbook(site["module_calls"])
            run, base = measured(baseline_path, roots)
            if run.returncode != 0:
                sys.exit(run.failure_summary())
            bases.append(base)
            print(f"run {i + 1}: site {site['wall_s']} s ({site['module_calls']}), "
                  f"baseline {base['wall_s']} s", flush=True)
    finally:
        if baseline_path:
            Path(baseline_path).unlink(missing_ok=True)

    def med(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 1)

    result = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
        "runs": opts.runs,
        "site": sites,
        "baseline": bases,
        "median": {
            "site_wall_s": med(sites, "wall_s"),
            "baseline_wall_s": med(bases, "wall_s"),
            "ratio_site_to_baseline": round(med(sites, "wall_s") / med(bases, "wall_s"), 2),
            "site_controller_cpu_s": med(sites, "controller_cpu_s"),
            "site_machine_busy_cpu_s": med(sites, "machine_busy_cpu_s"),
            "module_calls_per_host": sites[-1]["module_calls"],
        },
    }
    opts.json.write_text(json.dumps(result, indent=2) + "\n")
    m = result["median"]
    print(f"site.yml idempotent re-run: median {m['site_wall_s']} s over {opts.runs} runs; "
          f"baseline (the same module calls per host, {m['module_calls_per_host']}) "
          f"{m['baseline_wall_s']} s; ratio {m['ratio_site_to_baseline']}; json {opts.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
