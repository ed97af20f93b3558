"""The pack imports the one literal-secret detector (`infra.secrets.literals`) under both
entries: `rampart policy check` and `pulumi preview --policy-pack policies`. The latter runs
`python -m pulumi.policy` from the pack directory, so `policies/secrets` sits first on
sys.path as a top-level `secrets` until policies/__main__.py fixes the path; a fresh
interpreter (nothing imported yet, unlike this test process) proves the fix holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"

ENGINE_LIKE = """
import json, runpy, sys
sys.path.insert(0, {pack!r})  # what `python -m` run from the pack directory does
import pulumi_policy
captured = {{}}
pulumi_policy.PolicyPack = lambda name, policies, **kw: captured.update(
    names=[p.name for p in policies])
runpy.run_path({main!r}, run_name="__main__")
import secrets, infra.secrets.literals as literals, policies.secrets.scan as scan
print(json.dumps({{"stdlib_secrets": secrets.__file__, "literals": literals.__file__,
                   "scan_uses": scan.scan_env.__module__, "token": len(secrets.token_hex(4)),
                   "rules": captured["names"]}}))
"""


def test_engine_entry_imports_the_detector_from_the_repository():
    code = ENGINE_LIKE.format(pack=str(PACK), main=str(PACK / "__main__.py"))
    out = subprocess.run([sys.executable, "-c", code], cwd=PACK, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not seen["stdlib_secrets"].startswith(str(PACK)), seen
    assert seen["token"] == 8  # the real stdlib `secrets`
    assert Path(seen["literals"]).resolve() == ROOT / "infra" / "secrets" / "literals.py"
    assert seen["scan_uses"] == "infra.secrets.literals"
    assert "no-literal-secret-args" in seen["rules"] and "no-literal-secret-env" in seen["rules"]


def test_offline_entry_uses_the_same_detector():
    from infra.policy_check import evaluate  # noqa: F401 - the offline entry's imports
    from policies.secrets import scan

    assert scan.scan_env.__module__ == "infra.secrets.literals"
