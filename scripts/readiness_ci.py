"""Readiness evidence without the lab: the tests the requirements catalog cites, minus the lab.

    .venv/bin/python scripts/readiness_ci.py --evidence out/evidence   # run them, record
    .venv/bin/python scripts/readiness_ci.py --list                    # what it would run

`make readiness-ci` (and so .github/workflows/readiness.yml) runs this, then the policy check
and the report. Two pytest sessions side by side (the unit tier, and the rest) over the
lab-free part of tests/, each writing its evidence file, keeping a test when the catalog
(infra/readiness/requirements.yaml) cites it through a `pytest:` check, or the test names a
requirement itself (`@pytest.mark.requirement`), and dropping:

- the `hosts` and `drills` tiers (tests/hosts/, tests/drills/): they need the lab;
- the cited tests listed in NEEDS_MORE below, each with its reason: they need what neither the
  lock file's .venv nor a stock runner has (Debian daemons, checkov's own venv), or would run
  this workflow from inside itself.

What is dropped is not hidden: the report lists the requirements these tests prove as *not
run*, and `make test` (every tier, with the lab) proves them. Exit status as pytest's: 0 all
passed, 1 a test failed, 2-5 a session itself went wrong (that code wins); 2 with one line for
a catalog that cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra import side_by_side  # the venv's editable install (make setup)
from infra.readiness import catalog as catalogs

ROOT = Path(__file__).resolve().parents[1]

LAB_DIRS = ("tests/hosts/", "tests/drills/")
LAB_TIERS = "not hosts and not drills"
# (node-id prefix, only items with this marker (None: all), why CI does not run it). Each
# prefix must still match a cited test (tests/integration/test_readiness_workflow.py), so an
# entry cannot outlive the test it excuses.
NEEDS_MORE: tuple[tuple[str, str | None, str], ...] = (
    ("tests/integration/test_workflows.py", "integration",
     "executes every workflow's steps, this one included: it would run itself"),
    ("tests/integration/test_pg_backup_engine.py", None,
     "PostgreSQL and pgBackRest (Debian packages), and over two minutes"),
    ("tests/integration/test_observability_tools.py", None,
     "promtool, amtool, Prometheus and Alertmanager (Debian packages)"),
    ("tests/k8s/test_prometheus_rule.py", None, "promtool (Debian package prometheus)"),
    ("tests/k8s/test_checkov_runner.py", None,
     "checkov's own venv (scripts/checkov-venv.sh), minutes to build on a fresh checkout"),
    ("tests/k8s/test_checkov_stacks.py", None,
     "checkov's own venv (scripts/checkov-venv.sh), minutes to build on a fresh checkout"),
)


def _under(nodeid: str, prefix: str) -> bool:
    return (nodeid == prefix or nodeid.startswith((prefix + "::", prefix + "["))
            or (prefix.endswith("/") and nodeid.startswith(prefix)))


def excluded(item: pytest.Item) -> str | None:
    """Why CI leaves this (cited) test out, or None."""
    for prefix, marker, why in NEEDS_MORE:
        if _under(item.nodeid, prefix) and (marker is None
                                            or item.get_closest_marker(marker) is not None):
            return why
    return None


class Select:
    """pytest plugin: keep the cited (or requirement-marked) lab-free tests CI can run."""

    def __init__(self, catalog: catalogs.Catalog) -> None:
        self.checks = [c for r in catalog.requirements for c in r.checks if c.kind == "pytest"]
        self.kept: list[str] = []
        self.left_out: dict[str, list[str]] = {}

    def cited(self, item: pytest.Item) -> bool:
        return (item.get_closest_marker("requirement") is not None
                or any(c.matches(item.nodeid, "pytest") for c in self.checks))

    @pytest.hookimpl(trylast=True)  # after `-m` has dropped the lab tiers
    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            why = excluded(item) if self.cited(item) else "not cited"
            if why is None:
                keep.append(item)
            else:
                drop.append(item)
                self.left_out.setdefault(why, []).append(item.nodeid)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
        self.kept = [item.nodeid for item in keep]


# Two pytest sessions side by side: the unit tier is CPU-bound, the rest mostly waits on the
# servers it starts (OpenBao, Traefik), so together they take about the time of the longer.
PARTS = {"unit": "unit", "other": f"not unit and {LAB_TIERS}"}


def pytest_args(evidence: Path | None, collect_only: bool, part: str | None = None) -> list[str]:
    # The configuration file by name: pytest would otherwise look for it above the common
    # ancestor of every path on the command line, the evidence directory's included.
    args = ["-p", "no:cacheprovider", "-q", "-m", PARTS[part] if part else LAB_TIERS,
            "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT),
            *(f"--ignore={ROOT / d}" for d in LAB_DIRS)]
    if collect_only:
        args.append("--collect-only")
    if evidence is not None:
        args.append(f"--evidence-dir={evidence}")
    return [*args, str(ROOT / "tests")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evidence", type=Path, metavar="DIR",
                        help="evidence directory the tests write their records to")
    parser.add_argument("--catalog", type=Path, default=catalogs.DEFAULT_CATALOG,
                        help="requirements file (default: infra/readiness/requirements.yaml)")
    parser.add_argument("--list", action="store_true",
                        help="print the tests it would run and why the others are left out")
    parser.add_argument("--part", choices=sorted(PARTS),
                        help="run only this part (the default runs both, side by side)")
    args = parser.parse_args(argv)
    if args.list == (args.evidence is not None):
        parser.error("give exactly one of --evidence DIR (run) and --list")
    try:
        catalog = catalogs.load(args.catalog)
    except catalogs.CatalogError as exc:
        print(f"readiness_ci: {exc}", file=sys.stderr)
        return 2
    select = Select(catalog)
    if args.list:
        code = pytest.main(pytest_args(None, collect_only=True), plugins=[select])
        for why, nodeids in sorted(select.left_out.items()):
            if why != "not cited":
                print(f"left out ({len(nodeids)}): {why}")
        print(f"would run {len(select.kept)} tests")
        return int(code)
    if args.part is None:
        return run_parts(args.evidence, args.catalog)
    code = pytest.main(pytest_args(args.evidence, collect_only=False, part=args.part),
                       plugins=[select])
    for why, nodeids in sorted(select.left_out.items()):
        if why != "not cited":
            print(f"readiness_ci: left out {len(nodeids)} cited test(s) ({args.part} part): "
                  f"{why}")
    return int(code)


def run_parts(evidence: Path, catalog: Path) -> int:
    """Each part in its own process (one evidence file each); their output in turn, after."""
    script = [sys.executable, str(Path(__file__).resolve()), "--evidence", str(evidence),
              "--catalog", str(catalog), "--part"]
    try:
        codes = side_by_side.run({part: [*script, part] for part in PARTS}, label="readiness_ci")
    except KeyboardInterrupt:
        return 2
    return side_by_side.combined(codes)


if __name__ == "__main__":
    sys.exit(main())
