"""Secret paths, sharing, policies and Vault settings, derived without any server."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import infra.cli.secrets as cli
from infra.model.types import (
    EdgeSettings,
    Exposure,
    Group,
    HealthCheck,
    Image,
    LogPolicy,
    Network,
    Platform,
    Resources,
    SecretKind,
    SecretRef,
    Security,
    Service,
)
from infra.secrets.errors import InsecureAddressError, PlanError
from infra.secrets.plan import find_spec, parse_label, secret_specs, validate_stack
from infra.secrets.policies import consumers, deployer_policy, service_policy
from infra.secrets.vault import VaultSettings, check_address

pytestmark = pytest.mark.unit

_BASE = Service(
    name="base", group=Group.CORE, image=Image("docker.io/library/busybox", "1.36.1"),
    port=3000, exposure=Exposure.INTERNAL, networks=(Network.BACKEND,), depends_on=(),
    stateful=False, health=HealthCheck(("CMD", "true"), 30, 10, 3, 60),
    resources=Resources(1.0, 1 << 30, 0.5, 512 << 20),
    security=Security(True, ("/run/app",), ("ALL",), (), True, "1000:1000"),
    logs=LogPolicy("json-file", "10m", 3), restart="unless-stopped", stop_grace_s=30,
    environment=(), secrets=(), volumes=(), metrics_path=None, metrics_port=None, route=None,
)
_EDGE = EdgeSettings(
    domain="erp.test", tls_mode="self-signed", acme_email=None, acme_ca_server=None,
    acme_challenge="tls-alpn", min_tls_version="VersionTLS12", rate_average=100, rate_burst=50,
    login_rate_average=5, login_rate_period_s=900, login_rate_burst=5, ip_strategy_depth=0,
    cors_origins=(), admin_allowlist=(), inflight_requests=100, hsts_seconds=31536000,
)


def ref(name: str, kind: SecretKind = SecretKind.PASSWORD, shared: str | None = None) -> SecretRef:
    return SecretRef(name=name, kind=kind, file=f"/run/secrets/{name.lower()}", shared_from=shared)


def platform(*services: tuple[str, tuple[SecretRef, ...]]) -> Platform:
    return Platform(name="p", source="<t>", edge=_EDGE,
                    services=tuple(replace(_BASE, name=n, secrets=s) for n, s in services))


PLATFORM = platform(
    ("postgres", (ref("POSTGRES_PASSWORD"),)),
    ("auth", (ref("JWT_SECRET", SecretKind.JWT_SIGNING_KEY),
              ref("POSTGRES_PASSWORD", shared="postgres"))),
    ("minio", (ref("MINIO_ROOT_PASSWORD"),)),
    ("crm", ()),
)


def test_shared_secret_is_one_spec_under_its_owner() -> None:
    specs = secret_specs(PLATFORM)
    assert [s.path("dev") for s in specs] == [
        "dev/auth/jwt_secret", "dev/minio/minio_root_password", "dev/postgres/postgres_password"]
    pg = find_spec(specs, "auth", "POSTGRES_PASSWORD")
    assert pg.owner == "postgres" and pg.consumers == ("auth", "postgres")
    assert parse_label(specs, "auth/POSTGRES_PASSWORD") == pg


def test_unknown_owner_refused_by_name() -> None:
    bad = platform(("auth", (ref("POSTGRES_PASSWORD", shared="postgress"),)))
    with pytest.raises(PlanError, match=r"auth: secret POSTGRES_PASSWORD is shared from unknown "
                                        r"service 'postgress'"):
        secret_specs(bad)


def test_one_secret_one_kind() -> None:
    bad = platform(("postgres", (ref("POSTGRES_PASSWORD"),)),
                   ("auth", (ref("POSTGRES_PASSWORD", SecretKind.API_KEY, shared="postgres"),)))
    with pytest.raises(PlanError, match="declared as password and as api-key"):
        secret_specs(bad)


def test_undeclared_label_refused() -> None:
    with pytest.raises(PlanError, match="declares no secret named 'PEPPER'"):
        parse_label(secret_specs(PLATFORM), "auth/PEPPER")
    with pytest.raises(PlanError, match="expected SERVICE/NAME"):
        parse_label(secret_specs(PLATFORM), "auth")


@pytest.mark.parametrize("stack", ["../prod", "Dev", "a/b", "", "-x", "x" * 64])
def test_unsafe_stack_names_refused(stack: str) -> None:
    with pytest.raises(PlanError):
        validate_stack(stack)


def _paths(hcl: str) -> dict[str, str]:
    return dict(re.findall(r'path "([^"]+)" \{\s*capabilities = (\[[^\]]*\])', hcl))


def test_service_policy_reads_own_subtree_and_exact_shared_paths_only() -> None:
    specs = secret_specs(PLATFORM)
    paths = _paths(service_policy("secret", "dev", "auth", specs))
    assert paths == {
        "secret/data/dev/auth/*": '["read"]',
        "secret/metadata/dev/auth/*": '["read"]',
        "secret/data/dev/postgres/postgres_password": '["read"]',
        "secret/metadata/dev/postgres/postgres_password": '["read"]',
    }


def test_minio_policy_has_nothing_of_others() -> None:
    paths = _paths(service_policy("secret", "dev", "minio", secret_specs(PLATFORM)))
    assert set(paths) == {"secret/data/dev/minio/*", "secret/metadata/dev/minio/*"}


def test_deployer_policy_is_read_only_and_stack_scoped() -> None:
    assert _paths(deployer_policy("kv", "prod")) == {
        "kv/data/prod/*": '["read"]', "kv/metadata/prod/*": '["read"]'}


def test_services_without_secrets_get_no_role() -> None:
    assert consumers(secret_specs(PLATFORM)) == ("auth", "minio", "postgres")


@pytest.mark.parametrize("addr", ["http://10.1.2.3:8200", "http://vault:8200",
                                  "http://[fe80::1]:8200"])
def test_plain_http_refused_off_loopback(addr: str) -> None:
    with pytest.raises(InsecureAddressError, match="refusing plain http to non-loopback"):
        check_address(addr)
    assert check_address(addr, allow_insecure_http=True) == addr


@pytest.mark.parametrize("addr", ["http://127.0.0.1:8200", "http://127.9.9.9:1",
                                  "http://localhost:8200", "http://[::1]:8200",
                                  "https://10.1.2.3:8200"])
def test_https_and_loopback_accepted(addr: str) -> None:
    assert check_address(addr) == addr


def test_settings_from_env_verify_tls_and_hide_credentials() -> None:
    env = {"VAULT_ADDR": "https://vault.example:8200", "VAULT_TOKEN": "hvs.s3cr3t-token",
           "VAULT_SKIP_VERIFY": "1", "VAULT_ROLE_ID": "rid", "VAULT_SECRET_ID": "sid-s3cr3t"}
    settings = VaultSettings.from_env(env)
    assert settings.verify is True, "VAULT_SKIP_VERIFY must not turn verification off"
    assert settings.mount == "secret"
    assert "s3cr3t" not in repr(settings)
    with_ca = VaultSettings.from_env({**env, "VAULT_CACERT": "/etc/ca.pem"})
    assert with_ca.verify == "/etc/ca.pem"


def test_cli_without_address_exits_2_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_specs", lambda *a, **k: secret_specs(PLATFORM))
    result = CliRunner().invoke(cli.app, ["check", "--stack", "dev"],
                                env={"VAULT_ADDR": None, "VAULT_TOKEN": None})
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no Vault address: set VAULT_ADDR or pass --addr"
