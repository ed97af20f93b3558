"""The generator entry point (python -m infra.cli.edge_config) and the role's configuration check
(roles/traefik/files/traefik-check.py), on this machine: one source with the Docker target's
builders, byte-stable re-renders, bad input refused, and a damaged file caught by the check
on the real Traefik binary. Needs no lab host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.cli import edge_config as render
from infra.edge import traefik

from .support import REPO

CHECK = REPO / "roles" / "traefik" / "files" / "traefik-check.py"
TRAEFIK = REPO / ".venv" / "bin" / "traefik"
UPSTREAMS = {"api-gateway": "http://127.0.0.1:4000", "grafana": "http://127.0.0.1:3000",
             "prometheus": "http://127.0.0.1:9090", "alertmanager": "http://127.0.0.1:9093"}


def _render(out: Path, stack: str = "dev", *extra: str) -> subprocess.CompletedProcess[str]:
    password = out.parent / "pw"
    password.write_text("correct horse\n")
    argv = [sys.executable, "-m", "infra.cli.edge_config", "--stack", stack, "--out", str(out),
            "--admin-address", "127.0.0.1", "--ca-dir", str(out.parent / "ca"),
            "--admin-password-file", str(password),
            *(f"--upstream={k}={v}" for k, v in UPSTREAMS.items()), *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    result = _render(out)
    assert result.returncode == 0, result.stderr
    return out


def test_render_is_the_builders_output(rendered: Path) -> None:
    platform = render.platform_of("dev")
    static = yaml.safe_load((rendered / "traefik.yml").read_text())
    dynamic = yaml.safe_load((rendered / "dynamic" / "edge.yml").read_text())
    assert static == traefik.static_config(
        platform, internal_host="127.0.0.1", acme_storage_path=render.HOST_ACME,
        providers={"file": {"filename": render.HOST_DYNAMIC, "watch": False}})
    assert dynamic == traefik.dynamic_config(
        platform, upstream=UPSTREAMS, users_file=render.HOST_USERS,
        certificate=(render.HOST_CERT, render.HOST_KEY))
    assert static["entryPoints"]["metrics"]["address"] == "127.0.0.1:8082"
    assert static["entryPoints"]["web"]["address"] == ":80"


def test_second_render_writes_the_same_bytes(rendered: Path) -> None:
    before = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()}
    assert _render(rendered).returncode == 0
    after = {p: p.read_bytes() for p in rendered.rglob("*") if p.is_file()}
    assert after == before  # certificate, key and users file kept, not re-issued
    assert (rendered / "certs" / "edge.key").stat().st_mode & 0o077 == 0


def test_prod_keeps_traefiks_acme_resolver(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(out, "prod").returncode == 0
    static = yaml.safe_load((out / "traefik.yml").read_text())
    acme = static["certificatesResolvers"][traefik.ACME_RESOLVER]["acme"]
    assert acme["storage"] == render.HOST_ACME
    assert "tlsChallenge" in acme or "httpChallenge" in acme
    assert not (out / "certs").exists()


@pytest.mark.parametrize("extra", [("--upstream=nosuch=http://x:1",),
                                   ("--admin-allowlist=10.0.0.0/33",),
                                   ("--stack", "nosuchstack")])
def test_bad_input_is_refused_with_exit_2(tmp_path: Path, extra: tuple[str, ...]) -> None:
    result = _render(tmp_path / "out", "dev", *extra)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "out" / "traefik.yml").exists()


def _local(rendered: Path) -> tuple[Path, Path]:
    """The rendered files with the host paths moved into the temporary directory."""
    dynamic = (rendered / "dynamic" / "edge.yml").read_text()
    for host, local in ((render.HOST_CERT, rendered / "certs" / "edge.crt"),
                        (render.HOST_KEY, rendered / "certs" / "edge.key"),
                        (render.HOST_USERS, rendered / "users")):
        dynamic = dynamic.replace(host, str(local))
    path = rendered / "local.yml"
    path.write_text(dynamic)
    return rendered / "traefik.yml", path


def _check(static: Path, dynamic: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), "--binary", str(TRAEFIK),
                           "--static", str(static), "--dynamic", str(dynamic)],
                          capture_output=True, text=True, check=False, timeout=60)


def test_check_accepts_the_rendered_configuration(rendered: Path) -> None:
    result = _check(*_local(rendered))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("old", "new"), [
    ("average: 100", "average: fast"),  # Traefik drops the whole file
    ("Host(`api.erp.localhost`)", "Host(`api.erp.localhost`"),  # Traefik drops the router
])
def test_check_refuses_a_damaged_dynamic_file(rendered: Path, old: str, new: str) -> None:
    static, dynamic = _local(rendered)
    text = dynamic.read_text()
    assert old in text
    dynamic.write_text(text.replace(old, new, 1))
    result = _check(static, dynamic)
    assert result.returncode == 1, result.stdout
    assert "error" in result.stderr
