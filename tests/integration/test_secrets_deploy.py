"""The deploy path against a real OpenBao dev server: the shipped program (`__main__.py`) with
the shipped catalog, its secrets read from Vault exactly as under `pulumi up`, run by
`rampart render --vault` under the recording engine.

- A stack whose Vault is down, sealed, forbids the token or has no such mount (exit 3), whose
  secrets are missing or weak (exit 1), or that names no Vault address at all (exit 2) is
  refused before the first resource: one line naming the address and path (or the secret),
  nothing written, no resource declared.
- Signing keys and the pepper are delivered as the current and the previous version.
- The leak test: bootstrap, rotate, render (plain and --vault) and check, as subprocesses; no
  stored value (any version, the htpasswd plaintext) appears in any output, rendered file or the
  server's log.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import pytest
from typer.testing import CliRunner

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE
from infra.cli.main import app
from infra.model.types import Platform
from infra.offline import engine
from infra.secrets.bootstrap import bootstrap
from infra.secrets.plan import find_spec, secret_specs
from infra.secrets.rotate import rotate
from infra.secrets.vault import Vault, VaultSettings
from infra.secrets.vault_provider import VaultSecretsProvider
from infra.targets import docker

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "VAULT_SKIP_VERIFY", "RAMPART_VAULT_MOUNT", "BAO_ADDR",
              "BAO_TOKEN")


def make_project(directory: Path, stack: str, extra: str = "") -> Path:
    """The program's entry files and `Pulumi.<stack>.yaml` = the dev stack (+ `extra` keys)."""
    directory.mkdir(parents=True)
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, directory / name)
    dev = (ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    (directory / f"Pulumi.{stack}.yaml").write_text(dev.rstrip("\n") + "\n" + extra,
                                                    encoding="utf-8")
    return directory


def admin(server: Any) -> Vault:
    return Vault(VaultSettings(addr=server.addr, token=server.root_token))


def stored_values(vault: Vault, stack: str, platform: Platform) -> list[str]:
    """Every stored value of every live version (and htpasswd plaintexts)."""
    values: list[str] = []
    for spec in secret_specs(platform):
        meta = vault.metadata(spec.path(stack))
        assert meta is not None, f"{spec.label} missing"
        for version in sorted(meta.live_versions):
            data = vault.read(spec.path(stack), version=version)
            assert data is not None
            values.extend(v for v in data.data.values() if len(v) >= 8)
    return values


def assert_no_leak(values: list[str], texts: dict[str, str]) -> None:
    for where, text in texts.items():
        for value in values:
            digest = hashlib.sha256(value.encode()).hexdigest()[:12]
            assert value not in text, f"a secret value (sha256 {digest}…) appears in {where}"



def render_vault(project: Path, stack: str, out: Path, env: dict[str, str],
                 monkeypatch: pytest.MonkeyPatch) -> Any:
    """`rampart render --stack S --vault` in-process, in the project, with only `env`'s
    Vault variables."""
    monkeypatch.chdir(project)
    clean: dict[str, str | None] = dict.fromkeys(VAULT_VARS)
    clean.update(env)
    return CliRunner().invoke(app, ["render", "--stack", stack, "--out", str(out), "--vault"],
                              env=clean)


def assert_refused(result: Any, out: Path, recordings: list[engine.Recording], code: int,
                   *fragments: str) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in: {lines[0]}"
    assert "Traceback" not in result.output
    assert not out.exists(), "files were written for a stack that must not be deployed"
    # Refused before the program runs (no recording at all) or before its first resource.
    declared = sum(len(recording) for recording in recordings)
    assert len(recordings) <= 1 and declared == 0, \
        f"{declared} resources declared before the secrets were refused"
    return lines[0]


# --- the good path --------------------------------------------------------------------------


def test_render_with_vault_reads_every_secret_and_shows_only_secret(
        bao: Any, dev_platform: Platform, unique_stack: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, recordings: list[engine.Recording]) -> None:
    vault = admin(bao)
    bootstrap(vault, unique_stack, secret_specs(dev_platform))
    project = make_project(tmp_path / "p", unique_stack)
    out = tmp_path / "out"
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}
    result = render_vault(project, unique_stack, out, env, monkeypatch)
    assert result.exit_code == 0, result.output
    assert len(recordings) == 1 and len(recordings[0]) > 100
    rendered = {str(p): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert_no_leak(stored_values(vault, unique_stack, dev_platform), rendered)
    text = "\n".join(rendered.values())
    assert "render-placeholder" not in text, "the render stand-in was used instead of Vault"
    secret_files = {ref.file for s in dev_platform.services for ref in s.secrets}
    assert text.count(engine.REDACTED) >= len(secret_files)


# --- refused before the first resource -----------------------------------------------------


def test_missing_secrets_refuse_the_deploy(bao: Any, unique_stack: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           recordings: list[engine.Recording]) -> None:
    project = make_project(tmp_path / "p", unique_stack)  # nothing bootstrapped
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out,
                          {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}, monkeypatch)
    assert_refused(result, out, recordings, CHECK_FAILED, "refusing to deploy",
                   "auth/JWT_SECRET (is missing", "postgres/POSTGRES_PASSWORD (is missing")


def test_weak_secret_refuses_the_deploy_naming_it(
        bao: Any, dev_platform: Platform, unique_stack: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, recordings: list[engine.Recording]) -> None:
    vault = admin(bao)
    specs = secret_specs(dev_platform)
    bootstrap(vault, unique_stack, specs)
    path = find_spec(specs, "minio", "MINIO_ROOT_PASSWORD").path(unique_stack)
    meta = vault.metadata(path)
    assert meta is not None
    vault.write(path, {"value": "minio123"}, cas=meta.current_version)
    project = make_project(tmp_path / "p", unique_stack)
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out,
                          {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}, monkeypatch)
    line = assert_refused(result, out, recordings, CHECK_FAILED,
                          "refusing to deploy: 1 secret(s)",
                          "minio/MINIO_ROOT_PASSWORD", "denylist")
    assert "minio123" not in result.output and "minio123" not in line


def test_vault_down_refuses_the_deploy(unique_stack: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       recordings: list[engine.Recording]) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        addr = f"http://127.0.0.1:{sock.getsockname()[1]}"
    project = make_project(tmp_path / "p", unique_stack, f"  rampart:vaultAddr: {addr}\n")
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {"VAULT_TOKEN": "t"}, monkeypatch)
    assert_refused(result, out, recordings, UNAVAILABLE, f"Vault at {addr}",
                   "auth/token/lookup-self", "cannot connect")


def test_sealed_vault_refuses_the_deploy(bao_private: Any, dev_platform: Platform,
                                         unique_stack: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         recordings: list[engine.Recording]) -> None:
    bootstrap(admin(bao_private), unique_stack, secret_specs(dev_platform))
    hvac.Client(url=bao_private.addr, token=bao_private.root_token).sys.seal()
    project = make_project(tmp_path / "p", unique_stack,
                           f"  rampart:vaultAddr: {bao_private.addr}\n")
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {"VAULT_TOKEN": bao_private.root_token},
                          monkeypatch)
    assert_refused(result, out, recordings, UNAVAILABLE, f"Vault at {bao_private.addr}",
                   "auth/token/lookup-self", "sealed")


def test_forbidden_token_refuses_the_deploy(bao: Any, dev_platform: Platform,
                                            unique_stack: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            recordings: list[engine.Recording]) -> None:
    bootstrap(admin(bao), unique_stack, secret_specs(dev_platform))
    root = hvac.Client(url=bao.addr, token=bao.root_token)
    weak = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    project = make_project(tmp_path / "p", unique_stack, f"  rampart:vaultAddr: {bao.addr}\n")
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {"VAULT_TOKEN": weak}, monkeypatch)
    assert_refused(result, out, recordings, UNAVAILABLE, f"Vault at {bao.addr}",
                   f"secret/data/{unique_stack}/", "permission denied (403)")


def test_wrong_mount_refuses_the_deploy(bao: Any, dev_platform: Platform, unique_stack: str,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        recordings: list[engine.Recording]) -> None:
    bootstrap(admin(bao), unique_stack, secret_specs(dev_platform))
    project = make_project(tmp_path / "p", unique_stack,
                           f"  rampart:vaultAddr: {bao.addr}\n  rampart:vaultMount: nope\n")
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {"VAULT_TOKEN": bao.root_token},
                          monkeypatch)
    assert_refused(result, out, recordings, UNAVAILABLE, f"Vault at {bao.addr}",
                   f"nope/data/{unique_stack}/", "mount nope/ does not exist")


def test_stack_without_any_vault_address_is_refused(unique_stack: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    recordings: list[engine.Recording]) -> None:
    project = make_project(tmp_path / "p", unique_stack)
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {}, monkeypatch)
    assert_refused(result, out, recordings, INPUT_ERROR, "no Vault address",
                   f"rampart:vaultAddr in Pulumi.{unique_stack}.yaml")


def test_unknown_stack_is_refused_before_vault(bao: Any, unique_stack: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               recordings: list[engine.Recording]) -> None:
    project = make_project(tmp_path / "p", unique_stack)
    out = tmp_path / "out"
    result = render_vault(project, f"{unique_stack}x", out,
                          {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}, monkeypatch)
    assert_refused(result, out, recordings, INPUT_ERROR,
                   f"Pulumi.{unique_stack}x.yaml: no such stack file")
    assert recordings == [], "the program ran for a stack without its file"


def test_stack_without_vault_credentials_is_refused(bao: Any, unique_stack: str,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    recordings: list[engine.Recording]) -> None:
    project = make_project(tmp_path / "p", unique_stack, f"  rampart:vaultAddr: {bao.addr}\n")
    out = tmp_path / "out"
    result = render_vault(project, unique_stack, out, {}, monkeypatch)
    assert_refused(result, out, recordings, INPUT_ERROR, f"Vault at {bao.addr}",
                   "no credentials")
    assert recordings == [], "the program ran without Vault credentials"


# --- rotation: current and previous delivered ----------------------------------------------


def _resolve(make: Callable[[], list[docker.Upload]]) -> dict[str, tuple[str, bool]]:
    """(value, is_secret) per uploaded path; the Outputs are made on the loop that awaits
    them."""
    async def one(content: Any) -> tuple[str, bool]:
        return await content.future(), await content.is_secret()

    async def all_() -> dict[str, tuple[str, bool]]:
        return {u.path: await one(u.content) for u in make()}

    return asyncio.new_event_loop().run_until_complete(all_())


def test_rotated_signing_key_and_pepper_are_delivered_current_and_previous(
        bao: Any, dev_platform: Platform, unique_stack: str) -> None:
    vault = admin(bao)
    specs = secret_specs(dev_platform)
    bootstrap(vault, unique_stack, specs)
    for name in ("JWT_SECRET", "PEPPER"):
        rotate(vault, unique_stack, find_spec(specs, "auth", name))
    provider = VaultSecretsProvider(dev_platform, unique_stack, VaultSettings(
        addr=bao.addr, token=bao.root_token)).load()

    def version(name: str, number: int) -> str:
        data = vault.read(find_spec(specs, "auth", name).path(unique_stack), version=number)
        assert data is not None
        return data.value

    auth = _resolve(lambda: docker.secret_uploads(dev_platform.service("auth"), provider))
    assert auth["/run/secrets/jwt_secret"] == (version("JWT_SECRET", 2), True)
    assert auth["/run/secrets/jwt_secret_previous"] == (version("JWT_SECRET", 1), True)
    assert auth["/run/secrets/pepper"] == (version("PEPPER", 2), True)
    assert auth["/run/secrets/pepper_previous"] == (version("PEPPER", 1), True)
    # A consumer of the shared signing key gets the same pair (it verifies tokens).
    gateway = _resolve(
        lambda: docker.secret_uploads(dev_platform.service("api-gateway"), provider))
    assert gateway["/run/secrets/jwt_secret"] == auth["/run/secrets/jwt_secret"]
    assert gateway["/run/secrets/jwt_secret_previous"] == auth["/run/secrets/jwt_secret_previous"]
    envs = docker.secret_env(dev_platform.service("auth").secrets)
    assert "JWT_SECRET_PREVIOUS_FILE=/run/secrets/jwt_secret_previous" in envs
    # A password is a credential the service presents: only the current version.
    assert "/run/secrets/postgres_password_previous" not in auth


# --- the leak test --------------------------------------------------------------------------


def test_bootstrap_render_check_leak_no_value(bao: Any, dev_platform: Platform,
                                              unique_stack: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", unique_stack)
    rampart = str(Path(sys.executable).parent / "rampart")
    env = bao.env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([rampart, *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300, check=False)

    runs = {
        "bootstrap": run("secrets", "bootstrap", "--stack", unique_stack),
        "rotate jwt": run("secrets", "rotate", "--stack", unique_stack, "auth/JWT_SECRET"),
        "rotate htpasswd": run("secrets", "rotate", "--stack", unique_stack,
                               "traefik/TRAEFIK_DASHBOARD_HTPASSWD"),
        "render": run("render", "--stack", unique_stack, "--out", str(tmp_path / "plain")),
        "render --vault": run("render", "--stack", unique_stack, "--out",
                              str(tmp_path / "vault"), "--vault"),
        "check": run("secrets", "check", "--stack", unique_stack),
    }
    failed = {name: r.stderr[-500:] for name, r in runs.items() if r.returncode != 0}
    assert not failed, failed
    texts = {f"{name} output": r.stdout + r.stderr for name, r in runs.items()}
    for directory in ("plain", "vault"):
        files = [p for p in (tmp_path / directory).rglob("*") if p.is_file()]
        assert len(files) > 100, f"{directory} render wrote {len(files)} files"
        texts.update({str(p): p.read_text() for p in files})
    texts["OpenBao server log"] = bao.log.read_text()
    values = stored_values(admin(bao), unique_stack, dev_platform)
    assert len(values) >= len(secret_specs(dev_platform)) + 3  # 2 rotations + htpasswd plain
    assert_no_leak(values, texts)
