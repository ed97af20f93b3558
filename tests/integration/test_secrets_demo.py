"""`rampart demo` (without the lab hosts): it starts an OpenBao dev server on loopback,
bootstraps the dev stack's secrets, checks them, lets the program read them (`render --vault`),
and stops the server when it ends."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_demo_starts_openbao_bootstraps_checks_and_stops_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rampart"), "demo", "--no-hosts", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    logs = out / "logs"
    steps = {p.name.split("-", 1)[1].removesuffix(".log"): p.read_text()
             for p in sorted(logs.glob("[0-9][0-9]-*.log"))}
    assert list(steps)[:3] == ["secrets-bootstrap", "secrets-check",
                               "render-with-Vault-secrets"], list(steps)
    bootstrap = steps["secrets-bootstrap"]
    created = re.search(r"(\d+) created, 0 already present", bootstrap)
    assert created and int(created[1]) > 0, bootstrap[-500:]
    assert "created KV v2 mount secret/" not in bootstrap  # the dev server ships secret/
    assert f"ok: all {created[1]} secrets of stack dev present and strong" in \
        steps["secrets-check"], steps["secrets-check"][-500:]
    index = json.loads((out / "render-vault" / "index.json").read_text())
    assert index["stack"] == "dev" and index["count"] > 100
    rendered = "\n".join(p.read_text() for p in (out / "render-vault").rglob("*.yaml"))
    assert "render-placeholder" not in rendered, "the program did not read Vault"
    assert "[secret]" in rendered
    # The server ran on loopback and is gone once the demo has finished.
    server_log = (logs / "openbao.log").read_text()
    match = re.search(r"Api Address: http://127\.0\.0\.1:(\d+)", server_log)
    assert match, server_log[-500:]
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", int(match[1])))
    summary = result.stdout
    for step in ("secrets bootstrap", "secrets check", "render with Vault secrets"):
        assert re.search(rf"{step}\s+│ ok", summary), f"demo summary: {step} not ok"
