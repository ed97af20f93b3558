"""checkov (`--framework kubernetes`, its own venv, offline) over the manifests both k8s stacks
render: every failed check is waived in waivers/checkov.yml with a reason, and no waiver is
stale, expired or wider than one check on one resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import stack as stacks
from infra.offline import manifests
from infra.offline.render import record
from k8s import checkov

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkov_bin() -> Path:
    return checkov.ensure_venv()


@pytest.mark.parametrize("name", ["k8s-dev", "k8s-prod"])
def test_checkov_finds_nothing_unwaived(name: str, checkov_bin: Path, tmp_path: Path) -> None:
    for rel, text in manifests.manifest_files(record(stacks.load(name, ROOT))).items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    findings = checkov.run_checkov(tmp_path / "manifests", checkov=checkov_bin)
    unwaived, waived, problems = checkov.apply_waivers(findings)
    assert [f"{f.check_id} {f.resource}" for f in unwaived] == []
    assert problems == []
    assert waived  # the run judged the workloads (a checkov that saw nothing waives nothing)
