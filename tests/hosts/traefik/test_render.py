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


def test_check_reads_staged_copies_of_the_files_the_dynamic_file_names(rendered: Path) -> None:
    """The role stages the users file and certificate pair beside the candidate files; the
    check reads those, so a bad staged file fails before the live one is replaced."""
    static = rendered / "traefik.yml"
    dynamic = rendered / "dynamic" / "edge.yml"
    pairs = [f"--stage={host}={rendered / local}" for host, local in (
        (render.HOST_CERT, "certs/edge.crt"), (render.HOST_KEY, "certs/edge.key"),
        (render.HOST_USERS, "users"))]
    argv = [sys.executable, str(CHECK), "--binary", str(TRAEFIK), "--static", str(static),
            "--dynamic", str(dynamic)]
    ok = subprocess.run([*argv, *pairs], capture_output=True, text=True, check=False,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    (rendered / "certs" / "edge.crt").write_text("not a certificate\n")
    bad = subprocess.run([*argv, *pairs], capture_output=True, text=True, check=False,
                         timeout=60)
    assert bad.returncode == 1, bad.stdout
    missing = subprocess.run([*argv, f"--stage={render.HOST_USERS}={rendered / 'nosuch'}"],
                             capture_output=True, text=True, check=False, timeout=60)
    assert missing.returncode == 2 and "nosuch" in missing.stderr, missing.stderr


def test_check_reports_an_error_that_merely_mentions_acme(tmp_path: Path) -> None:
    """Only the resolver's failure to reach the unreachable test server is expected; a router
    naming a resolver that does not exist is an error, `acme` in its text or not."""
    out = tmp_path / "out"
    assert _render(out, "prod").returncode == 0
    static, dynamic = _local(out)
    text = dynamic.read_text()
    resolver = f"certResolver: {traefik.ACME_RESOLVER}"
    assert resolver in text
    assert _check(static, dynamic).returncode == 0
    dynamic.write_text(text.replace(resolver, f"{resolver}-typo"))
    result = _check(static, dynamic)
    assert result.returncode == 1, result.stdout
    assert "typo" in result.stderr, result.stderr


def test_admin_users_file_comes_from_the_stored_htpasswd_entry(tmp_path: Path) -> None:
    """Production: the catalog's TRAEFIK_DASHBOARD_HTPASSWD (`user:hash`) is installed as is,
    so rotating it in Vault reaches the edge; anything else is refused without echoing it."""
    from infra.secrets.htpasswd import htpasswd_hash

    entry = f"ops:{htpasswd_hash('a long correct horse')}"
    stored = tmp_path / "htpasswd"
    stored.write_text(entry + "\n")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "infra.cli.edge_config", "--stack", "dev", "--out", str(out),
            "--admin-address", "127.0.0.1", "--ca-dir", str(tmp_path / "ca"),
            "--admin-htpasswd-file", str(stored),
            *(f"--upstream={k}={v}" for k, v in UPSTREAMS.items())]
    ok = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert (out / "users").read_text() == entry + "\n"
    assert (out / "users").stat().st_mode & 0o077 == 0
    for bad in ("ops:plaintext-password-here", f"{entry}\n{entry}", "no colon at all"):
        stored.write_text(bad + "\n")
        refused = subprocess.run([*argv[:6], str(tmp_path / "out2"), *argv[7:]], cwd=REPO,
                                 capture_output=True, text=True, check=False)
        assert refused.returncode == 2, refused.stderr
        assert "plaintext-password-here" not in refused.stderr
        assert not (tmp_path / "out2" / "traefik.yml").exists()


def test_lab_ca_is_name_constrained_to_the_stack_domain(rendered: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    ca_dir = rendered.parent / "ca"
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ext = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert ext.critical
    domain = render.platform_of("dev").edge.domain
    assert [n.value for n in ext.value.permitted_subtrees] == [domain]
    # A CA of another domain (or none) is replaced, and the leaf re-issued by the new one.
    other = render.lab_ca(ca_dir, "example.org")[0]
    assert other.fingerprint(hashes.SHA256()) != ca.fingerprint(hashes.SHA256())
    assert _render(rendered).returncode == 0
    again = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((rendered / "certs" / "edge.crt").read_bytes())
    leaf.verify_directly_issued_by(again)
