"""Idempotent re-run of playbooks/site.yml on the four lab hosts through Mitogen (the
playbooks' strategy), against the same run with Ansible's plain strategies, measured in the
same run.

    .venv/bin/python benchmarks/converge.py [--runs 3] [--fresh] [--json out/converge-bench.json]

Needs the default lab up (`rampart lab up`); converges it once first (recorded as
`first_converge`, not part of the medians). With `--fresh` the lab is brought down and up first,
so that converge is the first one of four fresh hosts (the apt proxy's cache survives `lab down`:
packages come from a warm cache). Then, alternately, the same
`ansible-playbook playbooks/site.yml` (changed=0 asserted on every host):

1. as shipped: strategies mitogen_linear / mitogen_free (playbooks/strategy_plugins);
2. the baseline: RAMPART_MITOGEN=0, Ansible's own linear / free strategies (one SSH-piped
   `sudo python3` per task and host, which each host's sudo log counts: its module calls).

Each run records wall time, the controller's CPU (Ansible and its ssh children) and the
whole machine's busy CPU (/proc/stat: the controller and all four hosts share it). Not part
of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))

from infra.lab import default_lab, lifecycle  # noqa: E402
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


def measured(roots: dict[str, Path], mitogen: bool) -> tuple[PlaybookRun, dict]:
    os.environ["RAMPART_MITOGEN"] = "1" if mitogen else "0"
    calls0, busy0 = module_calls(roots), busy_jiffies()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_playbook("playbooks/site.yml")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, calls1 = busy_jiffies(), module_calls(roots)
    hz = os.sysconf("SC_CLK_TCK")
    return run, {
        "wall_s": round(run.seconds, 1),
        # The machine is shared (other jobs may run): its 1-minute load when the run ended.
        "load_1m": round(os.getloadavg()[0], 1),
        "controller_cpu_s": round(cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 1),
        "machine_busy_cpu_s": round((busy1 - busy0) / hz, 1),
        # Under Mitogen sudo runs once per host and become user, not once per task.
        "sudo_calls": {h: calls1[h] - calls0[h] for h in roots},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "converge-bench.json")
    parser.add_argument("--fresh", action="store_true",
                        help="lab down and up first: the first converge is of fresh hosts")
    opts = parser.parse_args()
    (ROOT / "out").mkdir(exist_ok=True)
    lab = default_lab()
    if opts.fresh:
        lifecycle.down(lab)
        lifecycle.up(lab)
    roots = {h.name: lab.host_root(h) for h in lab.hosts}
    if not all(r.is_dir() for r in roots.values()):
        sys.exit(f"lab {lab.name} is not up: run `rampart lab up` first")

    first = run_playbook("playbooks/site.yml")
    if first.returncode != 0:
        sys.exit(first.failure_summary())
    first_converge = {"fresh_hosts": opts.fresh, "wall_s": round(first.seconds, 1),
                      "changed": {h: c.get("changed", 0) for h, c in first.recap.items()}}
    print(f"first converge ({'fresh hosts' if opts.fresh else 'lab as found'}): "
          f"{first_converge['wall_s']} s, changed {first_converge['changed']}", flush=True)

    fast, plain = [], []
    for i in range(opts.runs):
        for mitogen, rows in ((True, fast), (False, plain)):
            run, row = measured(roots, mitogen)
            if run.returncode != 0 or run.changed_hosts:
                problem = run.changed_hosts or run.failure_summary()
                label = "mitogen" if mitogen else "plain"
                sys.exit(f"site run {i + 1} ({label}) not idempotent: {problem}")
            rows.append(row)
        print(f"run {i + 1}: mitogen {fast[-1]['wall_s']} s, plain {plain[-1]['wall_s']} s "
              f"(module calls per host {plain[-1]['sudo_calls']})", flush=True)

    def med(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 1)

    result = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
        "runs": opts.runs,
        "first_converge": first_converge,
        "mitogen": fast,
        "plain": plain,
        "median": {
            "mitogen_wall_s": med(fast, "wall_s"),
            "plain_wall_s": med(plain, "wall_s"),
            "ratio_mitogen_to_plain": round(med(fast, "wall_s") / med(plain, "wall_s"), 2),
            "mitogen_controller_cpu_s": med(fast, "controller_cpu_s"),
            "plain_controller_cpu_s": med(plain, "controller_cpu_s"),
            "mitogen_machine_busy_cpu_s": med(fast, "machine_busy_cpu_s"),
            "plain_machine_busy_cpu_s": med(plain, "machine_busy_cpu_s"),
            "module_calls_per_host": plain[-1]["sudo_calls"],
        },
    }
    opts.json.write_text(json.dumps(result, indent=2) + "\n")
    m = result["median"]
    print(f"site.yml idempotent re-run, median of {opts.runs}: mitogen {m['mitogen_wall_s']} s, "
          f"plain {m['plain_wall_s']} s, ratio {m['ratio_mitogen_to_plain']}; "
          f"module calls per host {m['module_calls_per_host']}; json {opts.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
