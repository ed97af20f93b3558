"""`rampart secrets bootstrap` on a Kubernetes stack writes Vault's Kubernetes auth: read back
from a real OpenBao dev server (tests/integration/conftest.py).

Each test has its own stack (`unique_stack`), its own auth mount (`k-<stack>`, through the
stack file's `rampart:kubernetes` block) and its own project directory, and runs the CLI
in-process with the conftest platform, its services spread over the catalog groups.

No cluster runs here, so a login never completes: Vault checks a ServiceAccount token's
claims against the role (name, namespace, audience) and only then asks the API server
(TokenReview). The login tests point Vault's API server at a loopback listener that accepts
and hangs up: a connection there means the role accepted the token's claims; a refusal
without one names the binding that did not match.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from typer.testing import CliRunner

import infra.cli.secrets as cli
from infra.model.types import Group, Platform
from infra.secrets.errors import PlanError
from infra.secrets.kubernetes_auth import REVIEWER_JWT_VAR, Binding
from infra.secrets.plan import secret_specs
from infra.secrets.policies import consumers
from infra.secrets.tls import generate_set
from infra.targets.kubernetes.settings import role_name

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VAULT_VARS = ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_CACERT",
              "VAULT_NAMESPACE", "VAULT_SKIP_VERIFY", "RAMPART_VAULT_MOUNT", REVIEWER_JWT_VAR)
# The conftest platform's services by catalog group; crm has no secrets, so no role.
GROUPS = {"postgres": Group.INFRA, "redis": Group.INFRA, "minio": Group.INFRA,
          "eventstoredb": Group.INFRA, "auth": Group.CORE, "file-storage": Group.CORE,
          "finance": Group.BUSINESS, "crm": Group.BUSINESS, "traefik": Group.EDGE}
WITH_SECRETS = ("auth", "eventstoredb", "file-storage", "finance", "minio", "postgres", "redis",
                "traefik")
PREFIX = "erp"  # the stack file's namespacePrefix: namespaces erp-<group>
DEFAULT_HOST = "https://kubernetes.default.svc"


def namespace(service: str) -> str:
    return f"{PREFIX}-{GROUPS[service].value}"


def k8s_platform(platform: Platform, *, without: tuple[str, ...] = ()) -> Platform:
    return replace(platform, services=tuple(replace(s, group=GROUPS[s.name])
                                            for s in platform.services
                                            if s.name not in without))


def kubernetes_stack_file(mount: str) -> str:
    return ("config:\n  rampart:target: kubernetes\n  rampart:environment: dev\n"
            "  rampart:kubernetes:\n"
            f"    namespacePrefix: {PREFIX}\n    storageClass: standard\n"
            f"    vaultAuthMount: {mount}\n")


DOCKER_STACK_FILE = "config:\n  rampart:target: docker\n  rampart:environment: dev\n"


@dataclass
class Project:
    """A project directory with stack files, and the CLI run in it against the server."""

    directory: Path
    server: Any
    runner: CliRunner
    monkeypatch: pytest.MonkeyPatch
    ca_file: Path

    def add(self, stack: str, text: str) -> None:
        (self.directory / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")

    def bootstrap(self, stack: str, platform: Platform, *extra: str,
                  ca: bool = True, env: dict[str, str] | None = None) -> Any:
        self.monkeypatch.setattr(cli, "_platform", lambda *a, **k: platform)
        args = ["bootstrap", "--stack", stack, *extra]
        if ca:
            args += ["--kubernetes-ca-cert", str(self.ca_file)]
        clean: dict[str, str | None] = dict.fromkeys(VAULT_VARS)
        clean.update({"VAULT_ADDR": self.server.addr, "VAULT_TOKEN": self.server.root_token})
        clean.update(env or {})
        return self.runner.invoke(cli.app, args, env=clean, catch_exceptions=False)


@pytest.fixture
def project(bao: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    monkeypatch.chdir(directory)
    # Vault outside a cluster has no CA of its own: bootstrap is given one (any PEM CA will
    # do; no TLS connection succeeds in these tests).
    ca_file = tmp_path / "cluster-ca.pem"
    ca_file.write_text(generate_set("kubernetes")["ca"], encoding="utf-8")
    return Project(directory, bao, CliRunner(), monkeypatch, ca_file)


@pytest.fixture
def root(bao: Any) -> hvac.Client:
    return hvac.Client(url=bao.addr, token=bao.root_token)


@pytest.fixture
def mount(unique_stack: str) -> str:
    return f"k-{unique_stack}"


@pytest.fixture
def booted(project: Project, platform: Platform, unique_stack: str, mount: str) -> Any:
    """A Kubernetes stack bootstrapped once; returns the CLI result."""
    project.add(unique_stack, kubernetes_stack_file(mount))
    result = project.bootstrap(unique_stack, k8s_platform(platform))
    assert result.exit_code == 0, result.output
    return result


def roles_on(client: hvac.Client, mount: str) -> list[str]:
    listed = client.list(f"auth/{mount}/role")
    return sorted(listed["data"]["keys"]) if listed else []


def read_role(client: hvac.Client, mount: str, name: str) -> dict[str, Any]:
    resp = client.read(f"auth/{mount}/role/{name}")
    assert resp is not None, f"auth/{mount}/role/{name} is missing"
    return dict(resp["data"])


def snapshot(client: hvac.Client, mount: str) -> dict[str, Any]:
    """Everything bootstrap owns on the auth side: method, config, roles, their policies."""
    roles = {name: read_role(client, mount, name) for name in roles_on(client, mount)}
    return {
        "method": client.sys.list_auth_methods()["data"][f"{mount}/"],
        "config": client.read(f"auth/{mount}/config")["data"],
        "roles": roles,
        "policies": {p: client.sys.read_policy(p)["data"]["rules"]
                     for role in roles.values() for p in role["token_policies"]},
    }


# --- what bootstrap writes ------------------------------------------------------------------


def test_bootstrap_enables_kubernetes_auth_with_one_role_per_service_with_secrets(
        booted: Any, root: hvac.Client, unique_stack: str, mount: str) -> None:
    method = root.sys.list_auth_methods()["data"].get(f"{mount}/")
    assert method is not None and method["type"] == "kubernetes", f"auth/{mount}/ not enabled"
    expected = sorted(role_name(unique_stack, s) for s in WITH_SECRETS)
    assert roles_on(root, mount) == expected
    assert role_name(unique_stack, "crm") not in roles_on(root, mount), "crm has no secrets"
    assert f"enabled Kubernetes auth at auth/{mount}/" in booted.stdout
    assert (f"8 Kubernetes-auth roles written, 0 unchanged, 0 stale removed (auth/{mount}/)"
            in booted.stdout)
    assert (f"Kubernetes-auth role {role_name(unique_stack, 'auth')} (ServiceAccount auth in "
            f"namespace {PREFIX}-core)") in booted.stdout
    # The AppRole side is untouched by the Kubernetes step: same names, same policies.
    approles = root.auth.approle.list_roles()["data"]["keys"]
    assert set(expected) <= set(approles)


@pytest.mark.parametrize("service", WITH_SECRETS)
def test_role_binds_exactly_its_service_account_namespace_and_policy(
        booted: Any, root: hvac.Client, unique_stack: str, mount: str, service: str) -> None:
    name = role_name(unique_stack, service)
    role = read_role(root, mount, name)
    written = {key: role.get(key) for key in (
        "bound_service_account_names", "bound_service_account_namespaces",
        "bound_service_account_namespace_selector", "audience", "alias_name_source",
        "token_policies", "token_no_default_policy", "token_ttl", "token_max_ttl",
        "token_explicit_max_ttl", "token_period", "token_num_uses", "token_bound_cidrs",
        "token_type")}
    assert written == {
        "bound_service_account_names": [service],
        "bound_service_account_namespaces": [namespace(service)],
        "bound_service_account_namespace_selector": "",
        "audience": "vault",
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [name],  # the service's AppRole policy, same name
        "token_no_default_policy": False,
        "token_ttl": 3600,
        "token_max_ttl": 4 * 3600,
        "token_explicit_max_ttl": 0,
        "token_period": 0,
        "token_num_uses": 0,
        "token_bound_cidrs": [],
        "token_type": "service",
    }, f"auth/{mount}/role/{name}"
    approle = root.auth.approle.read_role(name)["data"]
    assert approle["token_policies"] == role["token_policies"], \
        f"{name}: the Kubernetes role and the AppRole must carry the same policy"


# (service whose role is used, path as <stack>/<owner>/<key> under data/ or metadata/, allowed)
CAPABILITY_CASES = [
    ("auth", "data/{s}/auth/jwt_secret", True),
    ("auth", "metadata/{s}/auth/jwt_secret", True),
    ("auth", "data/{s}/postgres/postgres_password", True),  # shared with auth
    ("auth", "metadata/{s}/postgres/postgres_password", True),
    ("auth", "data/{s}/redis/redis_password", True),  # shared with auth
    ("auth", "data/{s}/minio/minio_root_password", False),
    ("auth", "data/{s}/traefik/dashboard_htpasswd", False),
    ("auth", "data/{s}-other/auth/jwt_secret", False),  # the same service of another stack
    ("auth", "data/{s}/authx/jwt_secret", False),
    ("finance", "data/{s}/eventstoredb/es_ca", True),  # shared with finance
    ("finance", "data/{s}/eventstoredb/es_tls_key", False),  # not shared: the private key
    ("finance", "data/{s}/auth/jwt_secret", False),
    ("postgres", "data/{s}/postgres/postgres_password", True),
    ("postgres", "data/{s}/auth/jwt_secret", False),
]


@pytest.mark.parametrize(("service", "path", "allowed"), CAPABILITY_CASES,
                         ids=[f"{c[0]}:{c[1].split('/', 1)[0]}:{c[1].split('}/')[-1]}"
                              f"{'-other' if '-other' in c[1] else ''}={c[2]}"
                              for c in CAPABILITY_CASES])
def test_role_policy_reads_exactly_the_services_paths(
        booted: Any, root: hvac.Client, unique_stack: str, mount: str,
        service: str, path: str, allowed: bool) -> None:
    """Vault's own answer (sys/capabilities) for a token carrying the role's policies: read on
    the service's paths and the secrets shared with it, nothing else, never more than read."""
    role = read_role(root, mount, role_name(unique_stack, service))
    token = root.auth.token.create(policies=role["token_policies"], ttl="5m")
    full = f"secret/{path.format(s=unique_stack)}"
    caps = root.write_data("sys/capabilities", data={
        "token": token["auth"]["client_token"], "paths": [full]})["data"][full]
    assert caps == (["read"] if allowed else ["deny"]), f"{service} on {full}: {caps}"


def test_role_policy_cannot_list_write_or_delete(booted: Any, root: hvac.Client,
                                                 unique_stack: str, mount: str) -> None:
    role = read_role(root, mount, role_name(unique_stack, "auth"))
    token = root.auth.token.create(policies=role["token_policies"], ttl="5m")
    paths = [f"secret/data/{unique_stack}/auth/jwt_secret",
             f"secret/metadata/{unique_stack}/auth/",  # where a LIST of auth's secrets goes
             f"secret/metadata/{unique_stack}/", f"secret/delete/{unique_stack}/auth/jwt_secret",
             f"secret/destroy/{unique_stack}/auth/jwt_secret"]
    caps = root.write_data("sys/capabilities", data={
        "token": token["auth"]["client_token"], "paths": paths})["data"]
    for path in paths:
        assert set(caps[path]) <= {"read", "deny"}, f"{path}: {caps[path]}"
    assert caps[f"secret/delete/{unique_stack}/auth/jwt_secret"] == ["deny"]
    assert caps[f"secret/metadata/{unique_stack}/"] == ["deny"]


# --- logging in: Vault judges a ServiceAccount token against the role -----------------------

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def service_account_token(ns: str, account: str, audience: list[str]) -> str:
    """A projected ServiceAccount token as the API server issues it (RS256, the claims of a
    TokenRequest); signed with a key of the test's own, which Vault does not check without
    pem_keys: the cluster vouches for it in the TokenReview that follows."""
    now = int(time.time())
    claims = {"aud": audience, "iat": now, "nbf": now, "exp": now + 600,
              "iss": "https://kubernetes.default.svc.cluster.local",
              "sub": f"system:serviceaccount:{ns}:{account}",
              "kubernetes.io": {"namespace": ns,
                                "serviceaccount": {"name": account,
                                                   "uid": "3f0c7a52-5a8e-4b7e-9d8e-0c1f2a3b4c5d"}}}
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = _KEY.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


class ApiServerStandIn:
    """Accepts TCP connections on loopback and hangs up: counts Vault's TokenReview calls."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def api_server() -> Iterator[ApiServerStandIn]:
    server = ApiServerStandIn()
    try:
        yield server
    finally:
        server.close()


LOGIN_CASES = [
    # (role of, token namespace, token ServiceAccount, token audience, refusal before review)
    ("auth", "erp-core", "auth", ["vault"], None),
    ("auth", "erp-business", "auth", ["vault"], "namespace not authorized"),
    ("auth", "erp-core", "finance", ["vault"], "service account name not authorized"),
    ("auth", "erp-business", "finance", ["vault"], "service account name not authorized"),
    ("auth", "default", "default", ["vault"], "service account name not authorized"),
    ("auth", "erp-core", "auth", ["https://kubernetes.default.svc.cluster.local"],
     "invalid audience"),
    ("auth", "erp-core", "auth", [], "invalid audience"),
    ("finance", "erp-business", "finance", ["vault"], None),
    ("finance", "erp-core", "finance", ["vault"], "namespace not authorized"),
    ("postgres", "erp-infra", "postgres", ["vault"], None),
]


@pytest.mark.parametrize(("service", "ns", "account", "audience", "refusal"), LOGIN_CASES,
                         ids=[f"{c[0]}-role:{c[1]}/{c[2]}:{'+'.join(c[3]) or 'no-aud'}"
                              for c in LOGIN_CASES])
def test_login_is_judged_by_the_binding(
        project: Project, platform: Platform, root: hvac.Client, bao: Any, unique_stack: str,
        mount: str, api_server: ApiServerStandIn, service: str, ns: str, account: str,
        audience: list[str], refusal: str | None) -> None:
    project.add(unique_stack, kubernetes_stack_file(mount))
    result = project.bootstrap(unique_stack, k8s_platform(platform), "--kubernetes-host",
                               f"https://127.0.0.1:{api_server.port}")
    assert result.exit_code == 0, result.output
    anonymous = hvac.Client(url=bao.addr)
    with pytest.raises(hvac.exceptions.Forbidden) as refused:
        anonymous.write_data(f"auth/{mount}/login", data={
            "role": role_name(unique_stack, service),
            "jwt": service_account_token(ns, account, audience)})
    message = str(refused.value).splitlines()[0]
    if refusal is None:
        # Claims accepted: Vault went on to the API server (which hung up), then refused.
        assert api_server.connections >= 1, f"no TokenReview attempted: {message}"
        assert message.startswith("permission denied"), message
    else:
        assert refusal in message, message
        assert api_server.connections == 0, "the role let the token through to TokenReview"


# --- idempotence, drift, stale roles --------------------------------------------------------


def test_second_bootstrap_changes_nothing(booted: Any, project: Project, platform: Platform,
                                          root: hvac.Client, unique_stack: str,
                                          mount: str) -> None:
    before = snapshot(root, mount)
    again = project.bootstrap(unique_stack, k8s_platform(platform))
    assert again.exit_code == 0, again.output
    assert snapshot(root, mount) == before
    assert (f"0 Kubernetes-auth roles written, 8 unchanged, 0 stale removed (auth/{mount}/)"
            in again.stdout)
    assert "enabled Kubernetes auth" not in again.stdout
    assert "configured auth/" not in again.stdout


def test_a_hand_widened_role_is_narrowed_again(booted: Any, project: Project,
                                               platform: Platform, root: hvac.Client,
                                               unique_stack: str, mount: str) -> None:
    name = role_name(unique_stack, "auth")
    exact = read_role(root, mount, name)
    root.write_data(f"auth/{mount}/role/{name}", data={
        "bound_service_account_namespaces": ["*"],
        "bound_service_account_namespace_selector": '{"matchLabels": {"team": "any"}}',
        "token_period": 86400, "token_policies": [name, "admin"]})
    assert read_role(root, mount, name)["bound_service_account_namespaces"] == ["*"]
    again = project.bootstrap(unique_stack, k8s_platform(platform))
    assert again.exit_code == 0, again.output
    assert read_role(root, mount, name) == exact
    assert "1 Kubernetes-auth roles written, 7 unchanged" in again.stdout


def test_stale_role_of_a_removed_service_goes_other_stacks_stay(
        project: Project, platform: Platform, root: hvac.Client, unique_stack: str,
        mount: str) -> None:
    """Stack `<s>-x` shares the mount and the prefix `rampart-<s>-` (its roles are
    `rampart-<s>-x-<service>`): removing a service of `<s>` must not take them."""
    neighbour = f"{unique_stack}-x"
    for name in (unique_stack, neighbour):
        project.add(name, kubernetes_stack_file(mount))
        result = project.bootstrap(name, k8s_platform(platform))
        assert result.exit_code == 0, result.output
    # A role someone added by hand under the same prefix, binding an account of its own.
    manual = role_name(unique_stack, "manual")
    root.write_data(f"auth/{mount}/role/{manual}", data={
        "bound_service_account_names": ["reporting"],
        "bound_service_account_namespaces": ["ops"], "token_policies": ["reporting"],
        "audience": "vault"})
    others = {n: read_role(root, mount, n) for n in roles_on(root, mount)
              if n.startswith(role_name(neighbour, ""))}
    assert len(others) == 8

    result = project.bootstrap(unique_stack, k8s_platform(platform, without=("file-storage",)))

    assert result.exit_code == 0, result.output
    remaining = roles_on(root, mount)
    assert role_name(unique_stack, "file-storage") not in remaining
    assert f"removed stale Kubernetes-auth role {role_name(unique_stack, 'file-storage')}" \
        in result.stdout
    assert "0 Kubernetes-auth roles written, 7 unchanged, 1 stale removed" in result.stdout
    assert {n: read_role(root, mount, n) for n in others} == others, "another stack's role changed"
    assert manual in remaining, "a role bootstrap did not write was removed"
    expected = {role_name(unique_stack, s) for s in WITH_SECRETS if s != "file-storage"}
    assert expected <= set(remaining)


def test_docker_stack_writes_no_kubernetes_auth(project: Project, platform: Platform,
                                                root: hvac.Client, unique_stack: str) -> None:
    project.add(unique_stack, DOCKER_STACK_FILE)
    before = {path for path, m in root.sys.list_auth_methods()["data"].items()
              if m["type"] == "kubernetes"}
    result = project.bootstrap(unique_stack, k8s_platform(platform), ca=False)
    assert result.exit_code == 0, result.output
    after = {path for path, m in root.sys.list_auth_methods()["data"].items()
             if m["type"] == "kubernetes"}
    assert after == before, "a docker stack enabled a Kubernetes auth method"
    prefix = role_name(unique_stack, "")
    for path in after:
        assert not [n for n in roles_on(root, path.rstrip("/")) if n.startswith(prefix)], path
    assert "Kubernetes" not in result.stdout
    assert role_name(unique_stack, "auth") in root.auth.approle.list_roles()["data"]["keys"]


# --- the command line -----------------------------------------------------------------------


def test_kubernetes_host_option_reaches_the_config(project: Project, platform: Platform,
                                                   root: hvac.Client, unique_stack: str,
                                                   mount: str) -> None:
    project.add(unique_stack, kubernetes_stack_file(mount))
    custom = project.bootstrap(unique_stack, k8s_platform(platform), "--kubernetes-host",
                               "https://api.cluster.test:6443")
    assert custom.exit_code == 0, custom.output
    config = root.read(f"auth/{mount}/config")["data"]
    assert config["kubernetes_host"] == "https://api.cluster.test:6443"
    assert config["kubernetes_ca_cert"] == project.ca_file.read_text(encoding="utf-8")
    assert config["token_reviewer_jwt_set"] is False
    assert f"configured auth/{mount}/config" in custom.stdout

    default = project.bootstrap(unique_stack, k8s_platform(platform))
    assert default.exit_code == 0, default.output
    assert root.read(f"auth/{mount}/config")["data"]["kubernetes_host"] == DEFAULT_HOST
    assert f"configured auth/{mount}/config" in default.stdout


def test_reviewer_jwt_comes_from_the_environment_and_is_never_erased(
        project: Project, platform: Platform, root: hvac.Client, unique_stack: str,
        mount: str) -> None:
    project.add(unique_stack, kubernetes_stack_file(mount))
    reviewer = service_account_token("kube-system", "vault-reviewer",
                                     ["https://kubernetes.default.svc.cluster.local"])
    given = project.bootstrap(unique_stack, k8s_platform(platform),
                              env={REVIEWER_JWT_VAR: reviewer})
    assert given.exit_code == 0, given.output
    assert root.read(f"auth/{mount}/config")["data"]["token_reviewer_jwt_set"] is True
    assert reviewer not in given.output and reviewer.split(".")[2] not in given.output

    kept = project.bootstrap(unique_stack, k8s_platform(platform))  # not given, same host
    assert kept.exit_code == 0, kept.output
    assert f"configured auth/{mount}/config" not in kept.stdout
    assert root.read(f"auth/{mount}/config")["data"]["token_reviewer_jwt_set"] is True

    moved = project.bootstrap(unique_stack, k8s_platform(platform), "--kubernetes-host",
                              "https://api.cluster.test:6443")
    assert moved.exit_code == 3, moved.output
    assert REVIEWER_JWT_VAR in moved.stderr and "would erase" in moved.stderr
    config = root.read(f"auth/{mount}/config")["data"]
    assert (config["kubernetes_host"], config["token_reviewer_jwt_set"]) == (DEFAULT_HOST, True)


def test_vault_outside_a_pod_is_told_to_pass_the_cluster_ca(
        project: Project, platform: Platform, unique_stack: str, mount: str) -> None:
    """OpenBao reads its pod's CA when none is given; this one runs in no pod."""
    project.add(unique_stack, kubernetes_stack_file(mount))
    result = project.bootstrap(unique_stack, k8s_platform(platform), ca=False)
    assert result.exit_code == 3, result.output
    assert "--kubernetes-ca-cert" in result.stderr
    assert f"auth/{mount}/config" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--kubernetes-host", "http://127.0.0.1:6443", "not an https:// URL"),
    ("--kubernetes-host", "kubernetes.default.svc", "not an https:// URL"),
    ("--kubernetes-host", "https://user:pw@api.cluster.test", "not an https:// URL"),
    ("--kubernetes-ca-cert", "not-a-pem", "not a PEM certificate"),
    ("--kubernetes-ca-cert", "missing", "cannot read it"),
])
def test_bad_kubernetes_options_refused_before_vault(
        project: Project, platform: Platform, root: hvac.Client, unique_stack: str,
        mount: str, tmp_path: Path, option: str, value: str, says: str) -> None:
    project.add(unique_stack, kubernetes_stack_file(mount))
    if value == "not-a-pem":
        value = str(tmp_path / "ca.txt")
        Path(value).write_text("hello\n", encoding="utf-8")
    elif value == "missing":
        value = str(tmp_path / "nope.pem")
    result = project.bootstrap(unique_stack, k8s_platform(platform), option, value,
                               ca=option != "--kubernetes-ca-cert")
    assert result.exit_code == 2, result.output
    assert says in result.stderr and option in result.stderr
    assert ":pw" not in result.stderr, "the address's credentials were printed"
    assert f"{mount}/" not in root.sys.list_auth_methods()["data"], "Vault was touched"
    assert root.list(f"secret/metadata/{unique_stack}") is None, "secrets were written"


@pytest.mark.parametrize(("ns", "account"), [("*", "auth"), ("erp-*", "auth"),
                                             ("erp-core", "*"), ("erp-core", "au*")])
def test_wildcard_binding_refused(ns: str, account: str) -> None:
    """Vault reads `*` and globs in a bound list as wildcards: a binding must name one
    namespace and one account exactly."""
    with pytest.raises(PlanError, match="no wildcards"):
        Binding(service="auth", namespace=ns, service_account=account)


def test_every_service_with_secrets_needs_a_binding(bao: Any, platform: Platform,
                                                    root: hvac.Client, mount: str,
                                                    unique_stack: str) -> None:
    from infra.secrets.kubernetes_auth import apply
    from infra.secrets.vault import Vault, VaultSettings

    vault = Vault(VaultSettings(addr=bao.addr, token=bao.root_token))
    specs = secret_specs(platform)
    bindings = [Binding(s, namespace(s), s) for s in consumers(specs) if s != "finance"]
    with pytest.raises(PlanError, match="no Kubernetes binding .* for finance"):
        apply(vault, unique_stack, specs, bindings, mount)
    assert f"{mount}/" not in root.sys.list_auth_methods()["data"], "Vault was touched"



def test_every_rendered_secret_store_logs_in_as_a_role_bootstrap_wrote(
        project: Project, root: hvac.Client, unique_stack: str, mount: str) -> None:
    """The target and bootstrap agree, for the ERP catalog: each SecretStore the k8s-dev
    stack renders names a role whose binding admits exactly its ServiceAccount, namespace and
    audience (the backup job's account lives beside its database)."""
    from infra import program
    from infra import stack as stacks
    from infra.offline.render import record

    text = (ROOT / "Pulumi.k8s-dev.yaml").read_text(encoding="utf-8").replace(
        "    vaultServer:", f"    vaultAuthMount: {mount}\n    vaultServer:", 1)
    project.add(unique_stack, text)
    stack = stacks.load(unique_stack, project.directory)
    result = project.bootstrap(unique_stack, program.platform_of(stack))
    assert result.exit_code == 0, result.output
    stores = [r.inputs for r in record(stack) if r.type.endswith(":SecretStore")]
    assert len(stores) > 20
    for store in stores:
        auth = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]
        assert auth["mountPath"] == mount
        role = read_role(root, mount, auth["role"])
        assert role["bound_service_account_names"] == [auth["serviceAccountRef"]["name"]]
        assert role["bound_service_account_namespaces"] == [store["metadata"]["namespace"]]
        assert auth["serviceAccountRef"]["audiences"] == [role["audience"]]
