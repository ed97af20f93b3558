"""The secrets lifecycle against a real OpenBao dev server (see conftest.py).

Every test works in its own stack (`unique_stack`), so tests share one server safely.
The CLI runs in-process with the test platform injected in place of the catalog, from a
project directory of the test's own that holds `Pulumi.<stack>.yaml` for the stack it names
(the CLI refuses a stack without its file before contacting Vault).
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from typer.testing import CliRunner

import infra.cli.secrets as cli
import infra.secrets.rotate as rotate_module
from infra.model.types import Platform
from infra.secrets.bootstrap import bootstrap
from infra.secrets.errors import (
    InsecureAddressError,
    RotationConflict,
    VaultAccessError,
    WeakSecretsError,
)
from infra.secrets.htpasswd import htpasswd_verify
from infra.secrets.plan import SecretSpec, parse_label, secret_specs
from infra.secrets.policies import deployer_policy_name, policy_name
from infra.secrets.rotate import rotate
from infra.secrets.settings import SecretsSettings
from infra.secrets.strength import check_value
from infra.secrets.vault import Vault, VaultSettings, check_address
from infra.secrets.vault_provider import VaultSecretsProvider

pytestmark = pytest.mark.integration

VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "VAULT_SKIP_VERIFY", "RAMPART_VAULT_MOUNT")
ROOT = Path(__file__).resolve().parents[2]
# A stack as the secrets commands read it: no `rampart:catalog` (the shipped catalog, or the
# injected test platform) and no `rampart:vaultAddr` (VAULT_ADDR from the environment).
STACK_FILE = "config:\n  rampart:target: docker\n  rampart:environment: dev\n"


def make_project(directory: Path, *stacks: str) -> Path:
    """A project directory (the CLI finds it as the working directory: it holds Pulumi.yaml)
    with `Pulumi.<stack>.yaml` for each of `stacks`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    for name in stacks:
        add_stack(directory, name)
    return directory


def add_stack(project: Path, name: str) -> None:
    stack_file = project / f"Pulumi.{name}.yaml"
    if not stack_file.exists():
        stack_file.write_text(STACK_FILE, encoding="utf-8")


def admin(server: Any, **kw: Any) -> Vault:
    return Vault(VaultSettings(addr=server.addr, token=server.root_token, cacert=server.cacert,
                               **kw))


@dataclass
class Stack:
    name: str
    vault: Vault
    specs: tuple[SecretSpec, ...]

    def spec(self, label: str) -> SecretSpec:
        return parse_label(self.specs, label)

    def path(self, label: str) -> str:
        return self.spec(label).path(self.name)

    def plant(self, label: str, value: str, **extra: str) -> None:
        """Write a chosen value as a new version (what an operator pasting a default does)."""
        path = self.path(label)
        meta = self.vault.metadata(path)
        assert meta is not None, f"{path} should exist before planting"
        self.vault.write(path, {"value": value, **extra}, cas=meta.current_version)

    def all_values(self) -> list[str]:
        """Every stored value (and htpasswd plaintext), every live version: for leak checks."""
        out: list[str] = []
        for spec in self.specs:
            path = spec.path(self.name)
            meta = self.vault.metadata(path)
            for version in sorted(meta.live_versions) if meta else ():
                data = self.vault.read(path, version=version)
                assert data is not None
                out.extend(v for v in data.data.values() if len(v) >= 8)
        return out


@pytest.fixture
def stack(bao: Any, platform: Platform, unique_stack: str) -> Stack:
    vault = admin(bao)
    specs = secret_specs(platform)
    bootstrap(vault, unique_stack, specs)
    return Stack(unique_stack, vault, specs)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, platform: Platform,
            tmp_path: Path) -> Callable[..., Any]:
    """Invoke `rampart secrets ...` in-process with the test platform and a clean env, in a
    project directory of this test's own. The stack named by `--stack` gets its stack file
    first, as in a real project, unless `stack_file=False` (a typo'd or unknown stack)."""
    specs = secret_specs(platform)
    monkeypatch.setattr(cli, "_specs", lambda *a, **k: specs)
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    runner = CliRunner()

    def run(args: list[str], env: dict[str, str], *, stack_file: bool = True) -> Any:
        if stack_file:
            add_stack(project, args[args.index("--stack") + 1])
        clean: dict[str, str | None] = dict.fromkeys(VAULT_VARS)
        clean.update(env)
        return runner.invoke(cli.app, args, env=clean, catch_exceptions=False)

    return run


def root_env(server: Any) -> dict[str, str]:
    env = {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.root_token}
    if server.cacert:
        env["VAULT_CACERT"] = server.cacert
    return env


def assert_no_leak(values: list[str], *outputs: str) -> None:
    for text in outputs:
        for value in values:
            digest = hashlib.sha256(value.encode()).hexdigest()[:12]
            assert value not in text, f"a secret value (sha256 {digest}…) appears in output"


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_creates_every_secret_strong_then_nothing(bao: Any, platform: Platform,
                                                           unique_stack: str) -> None:
    vault = admin(bao)
    specs = secret_specs(platform)
    first = bootstrap(vault, unique_stack, specs)
    expected = sorted(spec.path(unique_stack) for spec in specs)
    assert sorted(first.created) == expected
    for spec in specs:
        stored = vault.read(spec.path(unique_stack))
        assert stored is not None, f"{spec.label} not created"
        reasons = check_value(spec.kind, stored.value, password=stored.data.get("password"),
                              name=spec.name)
        assert reasons == [], f"{spec.label} generated weak: {reasons}"
        meta = vault.metadata(spec.path(unique_stack))
        assert meta is not None and meta.cas_required and meta.max_versions == 5, spec.label
    before = {spec: vault.read(spec.path(unique_stack)) for spec in specs}

    second = bootstrap(vault, unique_stack, specs)

    assert second.created == [], f"second bootstrap created {second.created}"
    assert second.metadata_updated == []
    assert sorted(second.existing) == expected
    for spec in specs:
        after = vault.read(spec.path(unique_stack))
        assert after == before[spec], f"{spec.label} changed on the second bootstrap"


def test_bootstrap_shared_secret_stored_once_under_owner(stack: Stack) -> None:
    spec = stack.spec("auth/POSTGRES_PASSWORD")
    assert spec.owner == "postgres"
    assert stack.vault.read(f"{stack.name}/auth/postgres_password") is None, \
        "a shared secret must not get a second copy under the consumer"


def test_bootstrap_htpasswd_is_bcrypt_matching_its_password(stack: Stack) -> None:
    stored = stack.vault.read(stack.path("traefik/DASHBOARD_HTPASSWD"))
    assert stored is not None
    user, hashed = stored.value.split(":", 1)
    assert user == "traefik-admin"
    assert hashed.startswith("$2b$12$"), "htpasswd entry should be bcrypt cost 12"
    assert htpasswd_verify(stored.data["password"], hashed)


def test_bootstrap_cli_prints_names_only_and_is_idempotent(
        bao: Any, unique_stack: str, platform: Platform, run_cli: Callable[..., Any]) -> None:
    first = run_cli(["bootstrap", "--stack", unique_stack], root_env(bao))
    assert first.exit_code == 0, first.output
    assert f"created secret/{unique_stack}/auth/jwt_secret" in first.stdout
    assert f"policy + AppRole {policy_name(unique_stack, 'auth')}" in first.stdout
    assert "11 created, 0 already present" in first.stdout
    second = run_cli(["bootstrap", "--stack", unique_stack], root_env(bao))
    assert second.exit_code == 0, second.output
    assert "0 created, 11 already present" in second.stdout
    assert "created secret/" not in second.stdout
    values = Stack(unique_stack, admin(bao), secret_specs(platform)).all_values()
    assert len(values) >= 11
    assert_no_leak(values, first.output, second.output)


# --- check ----------------------------------------------------------------------------------


def test_check_passes_after_bootstrap(bao: Any, stack: Stack,
                                      run_cli: Callable[..., Any]) -> None:
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 0, result.output
    assert "ok: all 11 secrets" in result.stdout
    assert_no_leak(stack.all_values(), result.output)


WEAK_CASES = [
    # (secret, planted value, reason fragment)
    ("auth/PEPPER", "erpgo-secret-pepper-change-in-production", "denylist"),
    ("minio/MINIO_ROOT_PASSWORD", "minio123", "denylist"),
    ("minio/MINIO_ROOT_PASSWORD", "minioadmin", "denylist"),
    ("redis/REDIS_PASSWORD", "changeme", "denylist"),
    ("postgres/POSTGRES_PASSWORD", "postgres", "denylist"),
    ("redis/REDIS_PASSWORD", "guest", "denylist"),
    ("postgres/POSTGRES_PASSWORD", "Tr0ub4dor&3", "shorter than 16"),
    ("postgres/POSTGRES_PASSWORD", "kX9#kX9#kX9#kX9#kX9#kX9#", "repeated pattern"),
    ("redis/REDIS_PASSWORD", "Qm7Zr2abcdefghWx81Lp", "sequential run"),
    ("redis/REDIS_PASSWORD", "Qm7Zr2Lp0000000Wx81Lp9", "repeats one character"),
    ("auth/JWT_SECRET", "Zr8qLp2xWm4nKt7vBc1yHd5sFg3jQe6u", "needs at least 256"),
    ("file-storage/S3_API_KEY", "my-MINIOadmin-Key-7Hq2Lp9xWm4nKt", "known default or weak word"),
    ("traefik/DEFAULT_TLS_KEY", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----",
     "not an unencrypted PEM"),
]


@pytest.mark.parametrize(("label", "value", "reason"), WEAK_CASES,
                         ids=[f"{c[0]}={c[2]}" for c in WEAK_CASES])
def test_check_fails_naming_weak_secret_never_its_value(
        bao: Any, stack: Stack, run_cli: Callable[..., Any],
        label: str, value: str, reason: str) -> None:
    stack.plant(label, value)
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1, result.output
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 1, f"expected only {label} to fail, got {fails}"
    assert fails[0].startswith(f"FAIL {label} "), fails
    assert reason in fails[0], fails[0]
    # The value may coincide with a name ("postgres"): look for it outside names and paths.
    scrubbed = result.output.replace(stack.path(label), "").replace(label, "")
    assert value not in scrubbed, f"the planted value of {label} was printed"


def test_check_fails_on_weak_htpasswd_password(bao: Any, stack: Stack,
                                               run_cli: Callable[..., Any]) -> None:
    from infra.secrets.htpasswd import htpasswd_hash

    stack.plant("traefik/DASHBOARD_HTPASSWD", f"admin:{htpasswd_hash('admin')}",
                username="admin", password="admin")  # noqa: S106 - the weak value under test
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1
    assert "FAIL traefik/DASHBOARD_HTPASSWD" in result.stdout
    assert "password is on the denylist" in result.stdout


def test_check_fails_on_undeclared_sharing_naming_both(bao: Any, stack: Stack,
                                                       run_cli: Callable[..., Any]) -> None:
    shared = stack.vault.read(stack.path("postgres/POSTGRES_PASSWORD"))
    assert shared is not None
    stack.plant("redis/REDIS_PASSWORD", shared.value)
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 2, fails
    assert "FAIL postgres/POSTGRES_PASSWORD" in fails[0] and "redis/REDIS_PASSWORD" in fails[0]
    assert "FAIL redis/REDIS_PASSWORD" in fails[1] and "not declared shared" in fails[1]
    assert shared.value not in result.output


def test_check_fails_on_missing_secret_and_bootstrap_restores_it(
        bao: Any, stack: Stack, run_cli: Callable[..., Any]) -> None:
    path = stack.path("auth/JWT_SECRET")
    stack.vault.client.secrets.kv.v2.delete_latest_version_of_secret(path, mount_point="secret")
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1
    assert "FAIL auth/JWT_SECRET" in result.stdout and "is missing" in result.stdout
    report = bootstrap(stack.vault, stack.name, stack.specs)
    assert report.created == [path]
    assert run_cli(["check", "--stack", stack.name], root_env(bao)).exit_code == 0


# --- rotation -------------------------------------------------------------------------------


def test_rotation_keeps_previous_version_readable_and_delivered(bao: Any, stack: Stack,
                                                                platform: Platform) -> None:
    spec = stack.spec("auth/JWT_SECRET")
    old = stack.vault.read(spec.path(stack.name))
    assert old is not None and old.version == 1
    result = rotate(stack.vault, stack.name, spec)
    assert (result.previous_version, result.new_version) == (1, 2)
    new = stack.vault.read(spec.path(stack.name))
    assert new is not None and new.version == 2 and new.value != old.value
    kept = stack.vault.read(spec.path(stack.name), version=1)
    assert kept is not None and kept.value == old.value, "previous version must stay readable"

    provider = VaultSecretsProvider(platform, stack.name, VaultSettings(
        addr=bao.addr, token=bao.root_token), vault=stack.vault).load()
    assert provider._pair("auth", "JWT_SECRET").current == new.value
    assert provider._pair("auth", "JWT_SECRET").previous == old.value
    assert provider.version("auth", "JWT_SECRET") == 2


def test_rotation_cli_reports_versions_not_values(bao: Any, stack: Stack,
                                                  run_cli: Callable[..., Any]) -> None:
    result = run_cli(["rotate", "--stack", stack.name, "auth/PEPPER"], root_env(bao))
    assert result.exit_code == 0, result.output
    assert "version 1 -> 2" in result.stdout and "pepper_previous" in result.stdout
    assert_no_leak(stack.all_values(), result.output)
    stale = run_cli(["rotate", "--stack", stack.name, "auth/PEPPER", "--expect-version", "1"],
                    root_env(bao))
    assert stale.exit_code == 1, stale.output
    assert "expected 1" in stale.stderr and "nothing written" in stale.stderr


def test_concurrent_rotations_one_wins_one_conflicts(stack: Stack,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Both rotations read version 1 before either writes; check-and-set must stop one."""
    spec = stack.spec("auth/JWT_SECRET")
    both_read = threading.Barrier(2, timeout=20)
    real_generate = rotate_module.new_values

    def generate_after_both_read(*args: Any, **kwargs: Any) -> Any:
        both_read.wait()  # called after the version is read, before the write
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(rotate_module, "new_values", generate_after_both_read)
    outcomes: list[object] = []

    def worker() -> None:
        try:
            outcomes.append(rotate(stack.vault, stack.name, spec))
        except RotationConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    conflicts = [o for o in outcomes if isinstance(o, RotationConflict)]
    wins = [o for o in outcomes if not isinstance(o, RotationConflict)]
    assert len(wins) == 1 and len(conflicts) == 1, f"outcomes: {outcomes}"
    assert "changed concurrently" in str(conflicts[0])
    meta = stack.vault.metadata(spec.path(stack.name))
    assert meta is not None and meta.current_version == 2, "exactly one new version expected"


def test_rotation_respects_configured_max_versions(stack: Stack) -> None:
    spec = stack.spec("redis/REDIS_PASSWORD")
    for _ in range(3):
        rotate(stack.vault, stack.name, spec, max_versions=2)
    meta = stack.vault.metadata(spec.path(stack.name))
    assert meta is not None and meta.max_versions == 2
    assert meta.current_version == 4
    assert stack.vault.read(spec.path(stack.name), version=3) is not None, "previous kept"
    assert stack.vault.read(spec.path(stack.name), version=2) is None, "older pruned"
    with pytest.raises(ValueError, match="at least 2"):
        rotate(stack.vault, stack.name, spec, max_versions=1)


# --- least privilege ------------------------------------------------------------------------


def approle_login(server: Any, stack_name: str, role: str) -> Vault:
    root = hvac.Client(url=server.addr, token=server.root_token)
    role_id = root.auth.approle.read_role_id(role)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(role)["data"]["secret_id"]
    return Vault(VaultSettings(addr=server.addr, role_id=role_id, secret_id=secret_id))


def test_service_approle_reads_own_and_shared_only(bao: Any, stack: Stack) -> None:
    auth = approle_login(bao, stack.name, policy_name(stack.name, "auth"))
    assert auth.read(stack.path("auth/JWT_SECRET")) is not None
    assert auth.read(stack.path("auth/POSTGRES_PASSWORD")) is not None, "shared from postgres"
    assert auth.metadata(stack.path("auth/JWT_SECRET")) is not None
    for other in ("minio/MINIO_ROOT_PASSWORD", "traefik/DASHBOARD_HTPASSWD",
                  "file-storage/S3_API_KEY"):
        with pytest.raises(VaultAccessError, match=r"permission denied \(403\)"):
            auth.read(stack.path(other))
    # The raw API answers a real 403, not an empty result.
    with pytest.raises(hvac.exceptions.Forbidden):
        auth.client.secrets.kv.v2.read_secret_version(
            stack.path("minio/MINIO_ROOT_PASSWORD"), mount_point="secret",
            raise_on_deleted_version=True)


def test_service_approle_is_read_only(bao: Any, stack: Stack) -> None:
    auth = approle_login(bao, stack.name, policy_name(stack.name, "auth"))
    with pytest.raises(VaultAccessError, match="403"):
        auth.write(stack.path("auth/JWT_SECRET"), {"value": "x" * 64}, cas=1)


def test_service_without_secrets_gets_no_role(stack: Stack) -> None:
    roles = stack.vault.client.auth.approle.list_roles()["data"]["keys"]
    assert policy_name(stack.name, "crm") not in roles
    assert policy_name(stack.name, "auth") in roles


def test_deployer_approle_runs_check(bao: Any, stack: Stack,
                                     run_cli: Callable[..., Any]) -> None:
    root = hvac.Client(url=bao.addr, token=bao.root_token)
    role = deployer_policy_name(stack.name)
    env = {"VAULT_ADDR": bao.addr,
           "VAULT_ROLE_ID": root.auth.approle.read_role_id(role)["data"]["role_id"],
           "VAULT_SECRET_ID": root.auth.approle.generate_secret_id(role)["data"]["secret_id"]}
    result = run_cli(["check", "--stack", stack.name], env)
    assert result.exit_code == 0, result.output
    other_stack = approle_login(bao, stack.name, role)
    with pytest.raises(VaultAccessError, match="403"):
        other_stack.read(f"not-{stack.name}/auth/jwt_secret")


# --- transport security and failure modes ---------------------------------------------------


@pytest.mark.parametrize("addr", ["http://10.0.0.5:8200", "http://vault.example.com:8200",
                                  "http://[2001:db8::1]:8200"])
def test_plain_http_to_non_loopback_refused(addr: str, run_cli: Callable[..., Any]) -> None:
    with pytest.raises(InsecureAddressError, match="refusing plain http"):
        Vault(VaultSettings(addr=addr, token="t"))  # noqa: S106 - refused before any use
    result = run_cli(["check", "--stack", "dev"], {"VAULT_ADDR": addr, "VAULT_TOKEN": "t"})
    assert result.exit_code == 2
    assert "refusing plain http" in result.stderr and addr in result.stderr
    assert check_address(addr, allow_insecure_http=True) == addr


@pytest.mark.parametrize("addr", ["http://127.0.0.1:8200", "http://localhost:8200",
                                  "http://[::1]:8200", "https://vault.example.com"])
def test_https_and_loopback_http_accepted(addr: str) -> None:
    assert check_address(addr) == addr


def test_tls_verified_by_default(bao_tls: Any, unique_stack: str) -> None:
    settings = VaultSettings(addr=bao_tls.addr, token=bao_tls.root_token)
    assert settings.verify is True
    with pytest.raises(VaultAccessError, match="TLS verification failed"):
        Vault(settings)
    trusted = Vault(VaultSettings(addr=bao_tls.addr, token=bao_tls.root_token,
                                  cacert=bao_tls.cacert))
    assert trusted.read(f"{unique_stack}/none/none") is None


def test_vault_skip_verify_is_not_honoured(bao_tls: Any) -> None:
    settings = VaultSettings.from_env({"VAULT_ADDR": bao_tls.addr, "VAULT_TOKEN":
                                       bao_tls.root_token, "VAULT_SKIP_VERIFY": "true"})
    with pytest.raises(VaultAccessError, match="TLS verification failed"):
        Vault(settings)


def test_cli_over_tls_with_cacert(bao_tls: Any, unique_stack: str,
                                  run_cli: Callable[..., Any]) -> None:
    env = root_env(bao_tls)
    assert run_cli(["bootstrap", "--stack", unique_stack], env).exit_code == 0
    assert run_cli(["check", "--stack", unique_stack], env).exit_code == 0


def test_vault_down_exit_3_names_address(run_cli: Callable[..., Any]) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    addr = f"http://127.0.0.1:{port}"
    result = run_cli(["check", "--stack", "dev"], {"VAULT_ADDR": addr, "VAULT_TOKEN": "t"})
    assert result.exit_code == 3, result.output
    assert addr in result.stderr and "cannot connect" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sealed_vault_exit_3(bao_private: Any, unique_stack: str,
                             run_cli: Callable[..., Any]) -> None:
    env = root_env(bao_private)
    assert run_cli(["bootstrap", "--stack", unique_stack], env).exit_code == 0
    hvac.Client(url=bao_private.addr, token=bao_private.root_token).sys.seal()
    result = run_cli(["check", "--stack", unique_stack], env)
    assert result.exit_code == 3, result.output
    assert bao_private.addr in result.stderr and "sealed" in result.stderr


def test_forbidden_token_exit_3_names_path(bao: Any, stack: Stack,
                                           run_cli: Callable[..., Any]) -> None:
    root = hvac.Client(url=bao.addr, token=bao.root_token)
    weak_token = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    result = run_cli(["check", "--stack", stack.name],
                     {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": weak_token})
    assert result.exit_code == 3, result.output
    assert "permission denied (403)" in result.stderr
    assert f"secret/data/{stack.name}/" in result.stderr


def test_wrong_mount_exit_3(bao: Any, stack: Stack, run_cli: Callable[..., Any]) -> None:
    result = run_cli(["check", "--stack", stack.name, "--mount", "nope"], root_env(bao))
    assert result.exit_code == 3, result.output
    assert "mount nope/ does not exist" in result.stderr
    boot = run_cli(["bootstrap", "--stack", stack.name, "--mount", "nope"], root_env(bao))
    assert boot.exit_code == 3, boot.output
    assert "--create-mount" in boot.stderr


@pytest.mark.parametrize("command", [["bootstrap"], ["check"], ["rotate", "auth/JWT_SECRET"]])
def test_unknown_stack_exit_2_before_vault(bao: Any, unique_stack: str, platform: Platform,
                                          run_cli: Callable[..., Any],
                                          command: list[str]) -> None:
    """A typo'd stack (no Pulumi.<stack>.yaml) is refused, never given secrets of its own."""
    result = run_cli([*command, "--stack", unique_stack], root_env(bao), stack_file=False)
    assert result.exit_code == 2, result.output
    assert f"Pulumi.{unique_stack}.yaml: no such stack file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    vault = admin(bao)
    assert all(vault.metadata(spec.path(unique_stack)) is None
               for spec in secret_specs(platform)), "secrets written for an unknown stack"
    roles = vault.client.auth.approle.list_roles()["data"]["keys"]
    assert policy_name(unique_stack, "auth") not in roles


def test_no_credentials_exit_2_before_vault(run_cli: Callable[..., Any]) -> None:
    with socket.socket() as sock:  # nothing listens: a contact would be "cannot connect", 3
        sock.bind(("127.0.0.1", 0))
        addr = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = run_cli(["check", "--stack", "dev"], {"VAULT_ADDR": addr})
    assert result.exit_code == 2, result.output
    assert "no credentials" in result.stderr and addr in result.stderr
    assert "cannot connect" not in result.stderr


def test_bootstrap_can_create_a_kv2_mount(bao: Any, unique_stack: str,
                                          run_cli: Callable[..., Any]) -> None:
    mount = f"kv-{unique_stack}"
    result = run_cli(["bootstrap", "--stack", unique_stack, "--mount", mount, "--create-mount"],
                     root_env(bao))
    assert result.exit_code == 0, result.output
    assert f"created KV v2 mount {mount}/" in result.stdout
    assert run_cli(["check", "--stack", unique_stack, "--mount", mount],
                   root_env(bao)).exit_code == 0


# --- the Pulumi-side provider ---------------------------------------------------------------


def test_provider_refuses_weak_secret_before_deploy(bao: Any, stack: Stack,
                                                    platform: Platform) -> None:
    stack.plant("minio/MINIO_ROOT_PASSWORD", "minio123")
    provider = VaultSecretsProvider(platform, stack.name,
                                    VaultSettings(addr=bao.addr, token=bao.root_token))
    with pytest.raises(WeakSecretsError) as info:
        provider.load()
    assert "minio/MINIO_ROOT_PASSWORD" in str(info.value)
    assert "minio123" not in str(info.value)


def test_provider_delivers_secret_outputs(bao: Any, stack: Stack, platform: Platform) -> None:
    provider = VaultSecretsProvider(platform, stack.name,
                                    VaultSettings(addr=bao.addr, token=bao.root_token)).load()
    expected = stack.vault.read(stack.path("postgres/POSTGRES_PASSWORD"))
    assert expected is not None
    seen = _resolve_outputs(lambda: {
        "consumer": provider.get("auth", "POSTGRES_PASSWORD"),
        "owner": provider.get("postgres", "POSTGRES_PASSWORD"),
        "previous": provider.get("auth", "JWT_SECRET_previous"),
    })
    assert seen["consumer"] == (expected.value, True), "shared secret resolves to the owner's"
    assert seen["owner"] == (expected.value, True)
    jwt = stack.vault.read(stack.path("auth/JWT_SECRET"))
    assert jwt is not None
    assert seen["previous"] == (jwt.value, True), "unrotated: previous falls back to current"
    assert "POSTGRES" not in repr(provider) and expected.value not in repr(provider)


def _resolve_outputs(make: Callable[[], dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """(value, is_secret) of each Output, created and resolved on a private event loop."""
    import asyncio

    async def one(out: Any) -> tuple[str, bool]:
        return await out.future(), await out.is_secret()

    async def all_() -> dict[str, tuple[str, bool]]:
        return {k: await one(v) for k, v in make().items()}

    return asyncio.new_event_loop().run_until_complete(all_())



# --- TLS sets (key + certificate + CA travel together) --------------------------------------


def test_tls_set_rotates_together_and_stays_coherent(bao: Any, stack: Stack,
                                                     run_cli: Callable[..., Any]) -> None:
    key_path = stack.path("eventstoredb/ES_TLS_KEY")
    before = {p: stack.vault.read(p) for p in (key_path, stack.path("eventstoredb/ES_TLS_CERT"),
                                               stack.path("eventstoredb/ES_CA"))}
    result = run_cli(["rotate", "--stack", stack.name, "eventstoredb/ES_TLS_KEY"], root_env(bao))
    assert result.exit_code == 0, result.output
    assert result.stdout.count("rotated with it (same TLS set)") == 2
    for path, old in before.items():
        assert old is not None
        new = stack.vault.read(path)
        assert new is not None and new.version == 2 and new.value != old.value, path
        assert stack.vault.read(path, version=1) == old, f"{path}: previous not kept"
    check = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert check.exit_code == 0, check.output


def test_tls_certificate_of_another_key_fails_check(bao: Any, stack: Stack,
                                                    run_cli: Callable[..., Any]) -> None:
    from infra.secrets.tls import generate_set

    stack.plant("eventstoredb/ES_TLS_CERT", generate_set("eventstoredb")["cert"])
    result = run_cli(["check", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 1 and fails[0].startswith("FAIL eventstoredb/ES_TLS_CERT"), fails
    assert "does not belong to the private key" in fails[0]
    assert "not issued by the CA" in fails[0]


def test_incomplete_tls_set_is_not_patched_by_bootstrap(bao: Any, stack: Stack,
                                                        run_cli: Callable[..., Any]) -> None:
    stack.vault.client.secrets.kv.v2.delete_latest_version_of_secret(
        stack.path("eventstoredb/ES_TLS_KEY"), mount_point="secret")
    result = run_cli(["bootstrap", "--stack", stack.name], root_env(bao))
    assert result.exit_code == 1
    assert "TLS material of eventstoredb is incomplete (ES_TLS_KEY missing" in result.stderr
    assert f"rotate --stack {stack.name} eventstoredb/ES_TLS_KEY" in result.stderr


# --- end to end with the real catalog, in a subprocess: the leak test -----------------------


def _cli(server: Any, project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", "from infra.cli.secrets import app; app()", *args],
        capture_output=True, text=True, env=env or server.env(), cwd=project, timeout=300,
        check=False)


def test_real_catalog_lifecycle_leaks_no_value(bao: Any, unique_stack: str,
                                               tmp_path: Path) -> None:
    """bootstrap -> check -> rotate -> check -> weak plant -> check, with the shipped catalog:
    no stored value (any version, any htpasswd plaintext) in any output or the server log."""
    from infra.model import DEFAULT_CATALOG, build_platform

    specs = secret_specs(build_platform(DEFAULT_CATALOG))
    project = make_project(tmp_path / "project", unique_stack)
    runs = [_cli(bao, project, "bootstrap", "--stack", unique_stack),
            _cli(bao, project, "check", "--stack", unique_stack),
            _cli(bao, project, "rotate", "--stack", unique_stack, "auth/JWT_SECRET"),
            _cli(bao, project, "rotate", "--stack", unique_stack,
                 "traefik/TRAEFIK_DASHBOARD_HTPASSWD"),
            _cli(bao, project, "check", "--stack", unique_stack)]
    assert [r.returncode for r in runs] == [0, 0, 0, 0, 0], [r.stderr for r in runs]
    assert f"{len(specs)} created, 0 already present" in runs[0].stdout
    stack = Stack(unique_stack, admin(bao), specs)
    stack.plant("postgres/POSTGRES_PASSWORD", stack.vault.read(
        stack.path("redis/REDIS_PASSWORD")).value)  # type: ignore[union-attr]
    runs.append(_cli(bao, project, "check", "--stack", unique_stack))
    assert runs[-1].returncode == 1
    assert "FAIL postgres/POSTGRES_PASSWORD" in runs[-1].stdout
    values = stack.all_values()
    assert len(values) >= len(specs) + 2
    assert_no_leak(values, *(r.stdout + r.stderr for r in runs), bao.log.read_text())


def test_provider_answers_the_docker_targets_calls(bao: Any, stack: Stack, platform: Platform,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker target asks (owner, NAME) and (owner, NAME_previous); settings come from the
    stack's `rampart:` keys, credentials from the environment."""
    from infra.secrets.vault_provider import from_stack_settings

    for var in VAULT_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    provider = from_stack_settings(platform, stack.name, SecretsSettings(addr=bao.addr))
    rotate(stack.vault, stack.name, stack.spec("auth/JWT_SECRET"))
    fresh = from_stack_settings(platform, stack.name, SecretsSettings(addr=bao.addr))
    jwt_now = stack.vault.read(stack.path("auth/JWT_SECRET"))
    jwt_before = stack.vault.read(stack.path("auth/JWT_SECRET"), version=1)
    assert jwt_now is not None and jwt_before is not None
    seen = _resolve_outputs(lambda: {
        "owner-ca": fresh.get("eventstoredb", "ES_CA"),
        "consumer-ca": fresh.get("finance", "ES_CA"),
        "jwt": fresh.get("auth", "JWT_SECRET"),
        "jwt_previous": fresh.get("auth", "JWT_SECRET_previous"),
    })
    assert seen["owner-ca"] == seen["consumer-ca"]
    assert seen["jwt"] == (jwt_now.value, True)
    assert seen["jwt_previous"] == (jwt_before.value, True)
    assert provider.version("auth", "JWT_SECRET") == 1 and fresh.version("auth", "JWT_SECRET") == 2
    with pytest.raises(InsecureAddressError):
        from_stack_settings(platform, stack.name, SecretsSettings(addr="http://10.9.9.9:8200"))
