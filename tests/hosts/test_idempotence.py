"""A second site.yml run changes nothing on any host; both converge times are recorded
(out/converge-times.json, with the Ansible settings that shape them) for docs/benchmarks.md."""

from __future__ import annotations

import configparser
import json
from collections.abc import Callable
from pathlib import Path

from infra.lab.playbook import PlaybookRun

REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "out" / "converge-times.json"


def _settings() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "ansible.cfg")
    return {
        "forks": cfg.get("defaults", "forks", fallback="5"),
        "pipelining": cfg.get("ssh_connection", "pipelining", fallback="False"),
        "fact_caching": cfg.get("defaults", "fact_caching", fallback="memory"),
        "gathering": cfg.get("defaults", "gathering", fallback="implicit"),
        "ssh_args": cfg.get("ssh_connection", "ssh_args", fallback=""),
    }


def test_second_site_run_changes_nothing(
    converged: PlaybookRun, run_playbook: Callable[..., PlaybookRun]
) -> None:
    second = run_playbook("playbooks/site.yml", "-v")  # -v: a changed result says what it did
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({
        "hosts": sorted(second.recap),
        "first_run_seconds": round(converged.seconds, 1),
        "first_run_changed": {h: c.get("changed", 0) for h, c in converged.recap.items()},
        "idempotent_run_seconds": round(second.seconds, 1),
        "ansible": _settings(),
    }, indent=2) + "\n")
    assert second.returncode == 0, f"second run failed: {second.failure_summary()}"
    assert set(second.recap) == set(converged.recap), f"hosts differ: {sorted(second.recap)}"
    assert not second.changed_hosts, (
        f"second site.yml run changed something: {second.changed_hosts}; {second.changed_tasks}"
    )
