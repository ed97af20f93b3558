"""pytest plugin: every test's outcome as readiness evidence (infra/readiness/evidence.py).

Active when the environment sets RAMPART_EVIDENCE_DIR or the command line passes
`--evidence-dir DIR`; otherwise it only registers the marker and the fixture and writes
nothing. At the end of the session it writes one evidence file, `pytest-<run>.json`, with a
record per test: node id, outcome (passed / failed / skipped / error), duration, measured
values, the markers' requirement ids, commit, timestamp, tool versions.

Linking a test to requirements, two ways (docs/readiness.md):
- the catalog names the test's node id or a prefix of it (`tests/edge/test_tls.py`,
  `tests/hosts/ssh_hardening/`): existing tests are cited without editing them;
- the test names them: `@pytest.mark.requirement("EDGE-3", "EDGE-4")`.

Measured values: the `readiness_measure` fixture,

    def test_restore_is_fast(readiness_measure):
        ...
        readiness_measure("rto_seconds", rto, unit="s", target="<= 14400")

records the value (a number) with its target. A test that passes while one of its own
measurements misses its target is recorded as failed, never as passed.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.readiness import evidence

MEASUREMENT = "rampart_readiness_measurement"
_HOST_PARAMS = ("host", "hostname", "host_name", "name")
_KEY = pytest.StashKey["Collector"]()
_WITHHELD = pytest.StashKey[str]()


class Collector:
    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = directory
        self.root = root
        self.started = time.time()
        self.reports: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.requirements: dict[str, list[str]] = {}
        self.hosts: dict[str, str] = {}

    def record_item(self, item: pytest.Item) -> None:
        ids = [str(a) for mark in item.iter_markers("requirement") for a in mark.args]
        self.requirements[item.nodeid] = ids
        callspec = getattr(item, "callspec", None)
        if callspec is not None and item.nodeid.startswith("tests/hosts/"):
            for name in _HOST_PARAMS:
                value = callspec.params.get(name)
                if isinstance(value, str):
                    self.hosts[item.nodeid] = value
                    break

    def add(self, report: pytest.TestReport) -> None:
        entry = self.reports.get(report.nodeid)
        if entry is None:
            entry = {"outcome": "passed", "duration": 0.0, "message": "", "measurements": []}
            self.reports[report.nodeid] = entry
            self.order.append(report.nodeid)
        entry["duration"] += report.duration
        for name, value in report.user_properties:
            if name == MEASUREMENT and value not in entry["measurements"]:
                entry["measurements"].append(value)
        outcome = _outcome(report)
        if outcome is None:
            return
        # Worst wins: an error in teardown after a passed call is an error.
        rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
        if rank[outcome] > rank[entry["outcome"]]:
            entry["outcome"] = outcome
            entry["message"] = _message(report)

    def records(self, ctx: evidence.Context) -> list[dict[str, Any]]:
        out = []
        for nodeid in self.order:
            entry = self.reports[nodeid]
            outcome, message = entry["outcome"], entry["message"]
            if outcome == "passed":
                for m in entry["measurements"]:
                    target = m.get("target")
                    if target is not None:
                        op, bound = evidence.parse_target(target)
                        if not evidence.meets(float(m["value"]), op, bound):
                            outcome = "failed"
                            message = (f"measured {m['name']} = {m['value']:g}{m.get('unit', '')} "
                                       f"misses its target {target}")
                            break
            out.append(evidence.make_record(
                ctx, check=nodeid, kind="pytest", outcome=outcome,
                host=self.hosts.get(nodeid), duration_s=entry["duration"],
                requirements=self.requirements.get(nodeid, []),
                measurements=entry["measurements"], message=message))
        return out


def _outcome(report: pytest.TestReport) -> str | None:
    if report.when == "call":
        if report.passed:
            return "passed"
        return "skipped" if report.skipped else "failed"
    if report.failed:
        return "error"
    if report.skipped:
        return "skipped"
    return None


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip
        return str(report.longrepr[2])
    return str(report.longrepr or "")[:300]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--evidence-dir", default=None, metavar="DIR",
                     help="Write readiness evidence (one JSON file per session) into DIR "
                          f"(also: {evidence.ENV_DIR}).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids): readiness requirement ids this test proves "
                   "(infra/readiness/requirements.yaml)")
    directory = config.getoption("--evidence-dir") or os.environ.get(evidence.ENV_DIR)
    withheld = os.environ.pop(evidence.ENV_DIR, None)
    if withheld is not None:
        config.stash[_WITHHELD] = withheld
    if directory and not hasattr(config, "workerinput"):
        root = Path(str(config.rootpath))
        config.stash[_KEY] = Collector(Path(directory).absolute(), root)


def pytest_unconfigure(config: pytest.Config) -> None:
    withheld = config.stash.get(_WITHHELD, None)
    if withheld is not None:
        os.environ[evidence.ENV_DIR] = withheld


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collector = config.stash.get(_KEY, None)
    if collector is not None:
        for item in items:
            collector.record_item(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    collector = _active
    if collector is not None:
        collector.add(report)


_active: Collector | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _active
    _active = session.config.stash.get(_KEY, None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _active
    collector = session.config.stash.get(_KEY, None)
    _active = None
    if collector is None or not collector.order:
        return
    ctx = evidence.context(collector.root, tools={"pytest": pytest.__version__,
                                                  "platform": platform.platform()})
    try:
        path = evidence.write(collector.directory, "pytest", collector.records(ctx), ctx)
    except evidence.EvidenceError as exc:
        session.config.get_terminal_writer().line(f"readiness evidence not written: {exc}",
                                                  red=True)
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"readiness evidence: {len(collector.order)} records in {path}")


@pytest.fixture
def readiness_measure(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`readiness_measure(name, value, unit="", target=None)`: a measured value for the
    readiness evidence (`target` like "<= 500"); harmless when no evidence is collected."""
    node = request.node

    def measure(name: str, value: float, unit: str = "", target: str | None = None) -> None:
        if target is not None:
            evidence.parse_target(target)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"readiness_measure({name!r}): value must be a number")
        node.user_properties.append(
            (MEASUREMENT, {"name": name, "value": float(value), "unit": unit,
                           "target": target}))

    return measure
