"""infra/edge/probes.py, the client-side probe table `make demo` prints for edge1, against the
real Traefik on loopback: every probe passes on the generated edge, a probe fails when the edge
does not do what the model says, and the command line's exits."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.edge import probes

from . import harness as h

pytestmark = pytest.mark.integration


def _target(edge: h.Edge, **changes: object) -> probes.Target:
    base = probes.Target(h.LOOPBACK, edge.pki.ca_file, https_port=edge.websecure_port,
                         http_port=edge.web_port, password=edge.password,
                         admin_user=h.ADMIN_USER,
                         internal_port=None)
    return dataclasses.replace(base, **changes)


def test_every_probe_passes_on_the_generated_edge(dev_edge: h.Edge) -> None:
    table = probes.run(dev_edge.platform, _target(dev_edge))
    names = [p.name for p in table]
    for expected in ("HTTP redirected to HTTPS", "TLS 1.0 refused", "TLS 1.1 refused",
                     "TLS 1.2 accepted", "TLS 1.3 accepted", "Unknown SNI refused (sniStrict)",
                     "HSTS", "nosniff", "Frame deny", "Server header removed",
                     "CORS preflight, listed origin", "CORS preflight, other origin",
                     "Admin route without credentials", "Admin route with credentials",
                     "Rate limit", "Login limit"):
        assert expected in names, f"no probe {expected!r}: {names}"
    failed = [p for p in table if not p.ok]
    assert not failed, failed
    time.sleep(1)  # the general rate budget of 127.0.0.1 refills for the other tests


def test_a_probe_fails_when_the_edge_differs_from_the_model(dev_edge: h.Edge) -> None:
    # The model now demands TLS 1.3 only and a longer HSTS; the running edge does neither.
    edge = dataclasses.replace(dev_edge.platform.edge, min_tls_version="VersionTLS13",
                               hsts_seconds=dev_edge.platform.edge.hsts_seconds + 1)
    platform = dataclasses.replace(dev_edge.platform, edge=edge)
    table = {p.name: p for p in probes.run(platform, _target(dev_edge, password=None))}
    assert not table["TLS 1.2 refused"].ok, table["TLS 1.2 refused"]
    assert not table["HSTS"].ok, table["HSTS"]
    assert table["TLS 1.3 accepted"].ok and table["Server header removed"].ok
    time.sleep(1)


def test_probe_closed_internal_port_reports_an_open_one(dev_edge: h.Edge) -> None:
    table = {p.name: p for p in probes.run(dev_edge.platform,
                                           _target(dev_edge, internal_port=dev_edge.internal_port))}
    closed = table[f"Metrics/ping port {dev_edge.internal_port} closed to this client"]
    assert not closed.ok and closed.observed == "connected", closed
    time.sleep(1)


def test_command_line_exit_codes(tmp_path: pytest.TempPathFactory, dev_edge: h.Edge) -> None:
    base = [sys.executable, "-m", "infra.cli.edge_probes", "--stack", "dev",
            "--address", h.LOOPBACK, "--ca", str(dev_edge.pki.ca_file)]
    # Nothing listens there: every probe fails, none crashes, exit 1, the JSON written.
    out = tmp_path / "probes.json"  # type: ignore[operator]
    free = h.free_port()
    run = subprocess.run([*base, "--https-port", str(free), "--http-port", str(free),
                          "--json", str(out)], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and "FAILED" in run.stdout
    assert out.is_file() and '"ok": false' in out.read_text()
    for bad in (["--stack", "nosuch"], ["--ca", str(tmp_path / "none.crt")],  # type: ignore[operator]
                ["--address", "not-an-address"]):
        refused = subprocess.run([*base, *bad], capture_output=True, text=True, timeout=60,
                                 check=False)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr


def test_the_demo_edge_load_step_runs_and_prints_the_figure(tmp_path: Path) -> None:
    """`make demo`'s "edge load" step as the demo runs it (a short benchmarks/edge_load.py run
    at 1,000 req/s), and the line it prints from the benchmark's JSON."""
    from rich.console import Console

    from infra import demo
    from infra.lab import default_lab

    root = Path(__file__).resolve().parents[2]
    console = Console(file=io.StringIO(), width=200)
    step = next(s for s in demo.demo_steps(console, tmp_path / "out", root, default_lab())
                if s.name == "edge load")
    (tmp_path / "out").mkdir()
    run = subprocess.run(step.argv, cwd=root, capture_output=True, text=True, timeout=180,
                         check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert step.show is not None
    step.show()
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "req/s through the edge" in shown and "p99" in shown, shown
    assert "rate limiter allowed" in shown, shown
    # The demo's evidence step collects what the demo wrote (here: the load figure), and its
    # readiness step reports from it.
    steps = {s.name: s for s in demo.demo_steps(console, tmp_path / "out", root,
                                                default_lab())}
    evidence = Path(steps["readiness evidence"].argv[
        steps["readiness evidence"].argv.index("--evidence") + 1])
    argv = [a if a != str(evidence) else str(tmp_path / "evidence")
            for a in steps["readiness evidence"].argv]
    collected = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120,
                               check=False)
    assert collected.returncode == 0, collected.stderr
    assert "benchmark from" in collected.stdout and "edge-load.json" in collected.stdout
    report = subprocess.run([str(Path(sys.executable).parent / "rampart"), "readiness",
                             "--evidence", str(tmp_path / "evidence"), "--format", "json"],
                            cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert report.returncode in (0, 1), report.stderr
    assert '"verdict"' in report.stdout
