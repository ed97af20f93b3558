"""The shipped requirements catalog is honest: every requirement is covered by checks that
exist (each pytest reference names collected tests, each evidence reference a check an
adapter writes) or is `manual:` with its reason, and the owners' figures are the targets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.drills.catalog import drills
from infra.readiness import adapters, catalog
from policies import registry

from .support import ROOT, mini_catalog

pytestmark = pytest.mark.unit

CATEGORIES = ["secrets", "edge-tls", "host-hardening", "container-hardening",
              "network-isolation", "observability", "backups", "performance", "operations",
              "supply-chain"]


@pytest.fixture(scope="module")
def collected() -> list[str]:
    """Every test node id of the repository, as `pytest --collect-only` lists them."""
    env = {k: v for k, v in os.environ.items() if k != "RAMPART_EVIDENCE_DIR"}
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests"], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = [line.strip() for line in done.stdout.splitlines() if "::" in line]
    assert len(ids) > 1000, f"only {len(ids)} tests collected"
    return ids


def unresolved(cat: catalog.Catalog, collected: list[str]) -> list[str]:
    """Catalog references that name nothing: pytest references matching no collected test,
    evidence references no adapter writes."""
    rules = {f"{adapters.POLICY_PREFIX}{r.name}" for r in registry.RULES}
    rules |= {f"drill:{d.name}" for d in drills()}  # the drills adapter's per-drill checks
    problems = []
    for req in cat.requirements:
        for check in req.checks:
            if check.kind == "pytest" and not any(check.matches(i, "pytest") for i in collected):
                problems.append(f"{req.id}: pytest {check.ref} matches no collected test")
            if check.kind == "evidence" and check.ref not in adapters.CHECK_IDS | rules:
                problems.append(f"{req.id}: evidence {check.ref} is written by no adapter")
    return problems


def test_the_shipped_catalog_loads_with_every_category() -> None:
    cat = catalog.load()
    assert [c.id for c in cat.categories] == CATEGORIES
    for category in CATEGORIES:
        assert cat.in_category(category), f"category {category} has no requirement"


def test_every_check_the_catalog_names_exists(collected: list[str]) -> None:
    assert unresolved(catalog.load(), collected) == []


def test_a_reference_to_a_missing_test_or_check_is_caught(tmp_path: Path,
                                                          collected: list[str]) -> None:
    text = """\
version: 1
categories: [{id: edge, title: Edge}]
requirements:
  - id: EDGE-1
    category: edge
    title: Redirects
    severity: blocker
    checks:
      - pytest: tests/edge/test_redirect.py::test_http_is_redirected_to_https
      - pytest: tests/edge/test_redirect.py::test_that_was_renamed
      - pytest: tests/edge/test_redirect
      - evidence: audit:nothing
"""
    cat = catalog.load(mini_catalog(tmp_path, text))
    assert unresolved(cat, collected) == [
        "EDGE-1: pytest tests/edge/test_redirect.py::test_that_was_renamed matches no "
        "collected test",
        "EDGE-1: pytest tests/edge/test_redirect matches no collected test",
        "EDGE-1: evidence audit:nothing is written by no adapter",
    ]


def test_every_requirement_is_automated_or_manual_with_its_reason() -> None:
    for req in catalog.load().requirements:
        assert req.checks, f"{req.id} has no check"
        for check in req.manual:
            assert len(check.ref) >= catalog.MIN_REASON, f"{req.id}: manual without a reason"


def test_no_blocker_rests_on_a_manual_check_alone() -> None:
    manual_blockers = [r.id for r in catalog.load().requirements
                       if r.severity == "blocker" and not r.automated]
    assert manual_blockers == []


def test_requirement_ids_are_stable_and_prefixed_by_category() -> None:
    prefixes = {"secrets": "SEC", "edge-tls": "EDGE", "host-hardening": "HOST",
                "container-hardening": "CTR", "network-isolation": "NET",
                "observability": "OBS", "backups": "BAK", "performance": "PERF",
                "operations": "OPS", "supply-chain": "SUP"}
    for req in catalog.load().requirements:
        assert req.id.split("-")[0] == prefixes[req.category], req.id


@pytest.mark.parametrize("rid, check, target", [
    ("BAK-2", "restore-drill", "rto_seconds <= 14400 s"),  # RTO <= 4 h
    ("BAK-3", "restore-drill", "rpo_seconds <= 3600 s"),  # RPO <= 1 h
    ("BAK-4", "restore-drill", "rto_seconds < 3600 s"),  # goal: RTO < 1 h
    ("BAK-4", "restore-drill", "rpo_seconds <= 900 s"),  # goal: RPO <= 15 min
    ("HOST-2", "audit:lynis", "hardening_index >= 85"),
    ("HOST-1", "audit:ssh-audit", "warnings == 0"),
    ("PERF-1", "bench:edge-load", "p99_ms < 500 ms"),  # 1000 req/s at p99 < 500 ms
    ("PERF-1", "bench:edge-load", "error_rate_pct < 0.1 %"),
    ("SEC-5", "secrets-check", "failing == 0"),
])
def test_the_owners_figures_are_the_targets(rid: str, check: str, target: str) -> None:
    req = next(r for r in catalog.load().requirements if r.id == rid)
    targets = [str(c.target) for c in req.checks if c.ref == check and c.target]
    assert target in targets, targets


def test_every_drill_is_cited_by_the_drills_requirement() -> None:
    """OPS-8 is "every drill of `rampart drill run --all`": a drill added to the catalog
    without its evidence line would be proven by the others' records."""
    req = next(r for r in catalog.load().requirements if r.id == "OPS-8")
    cited = sorted(c.ref for c in req.checks if c.kind == "evidence")
    assert cited == sorted(f"drill:{d.name}" for d in drills())
    assert not req.manual

