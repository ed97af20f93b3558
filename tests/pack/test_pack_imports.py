"""The pack is an installed package, loaded without editing sys.path.

`pulumi preview --policy-pack policies` starts `policies/__main__.py` as a script, so Python
puts the pack directory first on sys.path. Nothing may then be imported from that directory
under a top-level name: every module of the pack is `policies.*`, and no name in the pack
directory is the top-level name of another importable module (the old `policies/secrets`
shadowed the standard library's `secrets`). A fresh interpreter runs the entry point exactly
so (a sitecustomize stands in for the analyzer's gRPC server), and a scan of the repository
finds no code that edits sys.path.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from policies import __version__

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"

# Runs inside the pack's interpreter before __main__.py: PolicyPack records instead of serving.
SITECUSTOMIZE = """
import atexit, json, os, sys
import pulumi_policy
captured = {}
def pack(name, policies, **kw):
    captured.update(name=name, rules=[p.name for p in policies],
                    description=kw.get("description", ""))
pulumi_policy.PolicyPack = pack
def report():
    modules = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
    import secrets
    with open(os.environ["RAMPART_TEST_OUT"], "w") as out:
        json.dump({**captured, "modules": modules, "path0": sys.path[0],
                   "token": len(secrets.token_hex(4))}, out)
atexit.register(report)
"""


def test_the_cli_entry_runs_with_the_pack_directory_first_on_sys_path(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    out = tmp_path / "seen.json"
    done = subprocess.run([sys.executable, str(PACK / "__main__.py")], cwd=PACK,
                          env={"PYTHONPATH": str(tmp_path), "RAMPART_TEST_OUT": str(out),
                               "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(out.read_text())
    assert Path(seen["path0"]).resolve() == PACK  # as the Pulumi CLI starts it
    assert seen["name"] == "rampart" and __version__ in seen["description"]
    assert "no-literal-secret-args" in seen["rules"] and "no-literal-secret-env" in seen["rules"]
    assert seen["token"] == 8  # the standard library's `secrets`
    # Every module loaded from the pack directory was loaded as `policies.*`.
    stray = sorted(name for name, file in seen["modules"].items()
                   if file and Path(file).resolve().is_relative_to(PACK)
                   and name != "__main__" and not name.startswith("policies"))
    assert stray == [], stray
    detector = seen["modules"]["infra.secrets.literals"]
    assert Path(detector).resolve() == ROOT / "infra" / "secrets" / "literals.py"


def test_no_name_in_the_pack_directory_shadows_an_importable_module():
    names = sorted({p.stem for p in PACK.iterdir()
                    if (p.is_dir() and (p / "__init__.py").is_file())
                    or (p.suffix == ".py" and p.stem != "__main__")})
    assert "credentials" in names and "secrets" not in names
    names.remove("__init__")
    # In an isolated interpreter (no working directory, no PYTHONPATH): what the pack's own
    # interpreter could import under these names if the pack directory were not first.
    code = ("import importlib.util, json, sys; "
            f"print(json.dumps([n for n in {names!r} if importlib.util.find_spec(n)]))")
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd="/", capture_output=True,
                          text=True, timeout=60, check=True)
    shadowed = json.loads(done.stdout)
    assert shadowed == [], f"top-level modules the pack directory would shadow: {shadowed}"


def test_the_offline_entry_uses_the_same_detector():
    from infra.offline.evaluate import evaluate  # noqa: F401 - the offline entry's imports
    from policies.credentials import scan

    assert scan.scan_env.__module__ == "infra.secrets.literals"


def test_the_pack_version_is_the_distributions():
    from importlib.metadata import version

    assert __version__ == version("rampart")
    import yaml

    assert "version" not in yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())


# Code that edits the import path: assignments, in-place edits and monkeypatches of sys.path.
SYS_PATH_EDIT = re.compile(r"sys\.path\s*(?:\.\s*(?:insert|append|extend|remove|pop|clear)\b"
                           r"|\[[^\]]*\]\s*=|\s*\+?=(?!=))|setattr\(\s*sys\s*,\s*[\"']path")


def test_no_code_edits_sys_path():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    found = [f"{name}:{n}" for name in files if (ROOT / name).is_file()
             for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
             if SYS_PATH_EDIT.search(line) and not name.endswith("test_pack_imports.py")]
    assert found == [], found


@pytest.mark.parametrize("line", [
    "sys.path.insert(0, str(ROOT))", "sys.path.append(x)", "sys.path[:] = []",
    "sys.path = [p]", "sys.path += [p]", 'monkeypatch.setattr(sys, "path", [])',
])
def test_the_scan_recognises_every_spelling(line):
    assert SYS_PATH_EDIT.search(line)
