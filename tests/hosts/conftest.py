"""Host tier: the default lab (DESIGN §4) brought up once per session, testinfra hosts reached
through the lab inventory, and one converge of playbooks/site.yml shared by every role test.

Everything runs from the repository root: ansible.cfg and the inventory's connection vars use
paths relative to it, and testinfra's ansible:// backend calls `ansible-inventory` from PATH.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import testinfra
from testinfra.host import Host

from infra.lab import LabConfig, LabError, default_lab, lifecycle
from infra.lab.playbook import PlaybookRun, run_playbook

if TYPE_CHECKING:
    from lab_support import Monitoring

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/lab/hosts.yml"
VENV_BIN = Path(sys.executable).parent

os.chdir(REPO)
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
# testinfra multiplexes SSH only when ansible.cfg's control socket directory exists.
Path("~/.ansible/cp").expanduser().mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test under tests/hosts needs the lab: mark it so `-m "not hosts"` skips the tier.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.hosts)


@pytest.fixture(scope="session")
def lab() -> LabConfig:
    """The default lab, up (idempotent: fast when it already runs). Never torn down here:
    other sessions may be using it."""
    config = default_lab()
    try:
        lifecycle.up(config)
    except LabError as exc:
        pytest.fail(f"lab up failed: {exc}", pytrace=False)
    return config


@pytest.fixture(scope="session")
def lab_host(lab: LabConfig) -> Callable[[str], Host]:
    """lab_host("edge1") -> a testinfra Host over SSH through the lab inventory (become=true)."""
    cache: dict[str, Host] = {}

    def get(name: str) -> Host:
        lab.host(name)  # a clear error for a name the lab does not have
        if name not in cache:
            cache[name] = testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)
        return cache[name]

    return get


def run_playbook_now(playbook: str, *args: str) -> PlaybookRun:
    if not (REPO / playbook).is_file():
        pytest.fail(f"playbook {playbook} does not exist", pytrace=False)
    return run_playbook(playbook, *args)


@pytest.fixture(name="run_playbook", scope="session")
def run_playbook_fixture(lab: LabConfig) -> Callable[..., PlaybookRun]:
    """run_playbook("playbooks/site.yml", "--limit", "edge1") -> PlaybookRun (no assertion)."""
    return run_playbook_now


@pytest.fixture(scope="session")
def converged(lab: LabConfig) -> PlaybookRun:
    """playbooks/site.yml applied once per session to the whole lab; fails (once, cached for
    every dependent test) with the playbook's tail when the converge itself fails."""
    result = run_playbook_now("playbooks/site.yml")
    if result.returncode != 0:
        pytest.fail(f"converge failed: {result.failure_summary()}", pytrace=False)
    return result


@pytest.fixture(scope="module")
def monitoring(converged: PlaybookRun, lab_host: Callable[[str], Host]) -> Monitoring:
    """The monitoring host's Prometheus and Alertmanager, site.yml converged."""
    # Imported here: tests/drills/conftest.py imports this file as `hosts.conftest`, before
    # pytest has put tests/hosts on sys.path (which it does when it loads it as a conftest).
    from lab_support import MONITOR, monitoring_of

    return monitoring_of(lab_host(MONITOR))
