"""`rampart secrets`: Vault secrets lifecycle (bootstrap, check, rotate) via hvac.

Vault connection comes from the standard variables: VAULT_ADDR, VAULT_TOKEN (or VAULT_ROLE_ID
+ VAULT_SECRET_ID for AppRole), VAULT_CACERT, VAULT_NAMESPACE; `--addr`/`--mount` override
them, then the stack file's `rampart:vaultAddr` / `rampart:vaultMount`.

Everything that is input is checked before Vault is contacted: the stack name and its
Pulumi.<stack>.yaml (a typo'd stack is refused, not given its own secrets, policies and
AppRoles), the catalog, SERVICE/NAME, --max-versions, the Vault address and credentials,
and for a Kubernetes stack --kubernetes-host and --kubernetes-ca-cert.

Exit codes: 0 ok; 1 a check failed (weak or missing secrets, a check-and-set conflict in
rotate; nothing written); 2 usage or input error (unknown stack, bad stack file or catalog,
bad address, no credentials; Vault untouched); 3 Vault unavailable (down, sealed, TLS,
token refused, mount missing). Output names secrets and paths, never a value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from infra.cli.errors import CHECK_FAILED, INPUT_ERROR, UNAVAILABLE
from infra.secrets.errors import (
    InsecureAddressError,
    PlanError,
    RotationConflict,
    SecretsError,
    VaultAccessError,
)
from infra.secrets.versions import DEFAULT_MAX_VERSIONS

# The commands import what they use when they run: the Vault client (hvac, requests) and the
# model cost ~0.4 s CPU, which `rampart --help`, `render` and `policy check` never need.
if TYPE_CHECKING:
    from infra.model.types import Platform
    from infra.secrets.kubernetes_auth import Binding, KubernetesAuthReport, KubernetesAuthSettings
    from infra.secrets.plan import SecretSpec
    from infra.secrets.vault import Vault, VaultSettings
    from infra.stack import Stack

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  rich_markup_mode=None)  # help shown literally, as `rampart secrets --help`
T = TypeVar("T")

StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Pulumi stack name, e.g. dev.")]
CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalog YAML (default: the stack's, else the built-in)."),
]
AddrOpt = Annotated[str | None, typer.Option("--addr", help="Vault address (default VAULT_ADDR).")]
MountOpt = Annotated[
    str | None, typer.Option("--mount", help="KV v2 mount (default RAMPART_VAULT_MOUNT or secret).")
]
InsecureOpt = Annotated[
    bool,
    typer.Option("--allow-insecure-http",
                 help="Allow plain http to a non-loopback Vault (tokens travel in clear)."),
]


def _stack(stack: str) -> Stack:
    """The stack, read through infra.stack (the one reader). A stack without its file is
    refused: secrets are per stack, so a typo must not create a new set in Vault."""
    from infra import stack as stacks
    from infra.model.errors import ValidationError

    try:
        return stacks.load(stack)
    except ValidationError as exc:
        raise SecretsInputError(str(exc)) from None


def _platform(catalog: Path | None, stack: Stack) -> Platform:
    from infra.model import build_platform
    from infra.model.errors import ValidationError

    try:
        # Only the catalog decides which secrets exist and which group (namespace) a service
        # is in; stack settings (edge, resources) do not, so the platform is built with
        # default settings.
        return build_platform(catalog or stack.catalog)
    except ValidationError as exc:
        raise SecretsInputError(str(exc)) from None


def _specs(catalog: Path | None, stack: Stack) -> tuple[SecretSpec, ...]:
    from infra.secrets.plan import secret_specs

    return secret_specs(_platform(catalog, stack))


def _bindings(platform: Platform, specs: tuple[SecretSpec, ...],
              stack: Stack) -> tuple[Binding, ...]:
    """Who logs in as each service with secrets: its ServiceAccount (named as the service, as
    the Kubernetes target names it) in the namespace the target runs it in (its group's; a
    backup job's is its database's, where the database operator uses its credentials)."""
    from infra.secrets.kubernetes_auth import Binding
    from infra.secrets.policies import consumers
    from infra.targets.kubernetes.settings import service_namespaces

    settings = stack.kubernetes
    assert settings is not None  # noqa: S101 - parsed for every kubernetes stack
    services = set(consumers(specs))
    namespaces = service_namespaces(settings, platform)
    return tuple(Binding(service=svc.name, namespace=namespaces[svc.name],
                         service_account=svc.name)
                 for svc in platform.services if svc.name in services)


def _kubernetes_auth(host: str | None, ca_cert: Path | None) -> KubernetesAuthSettings:
    """The options checked before Vault is contacted: the API server must be an https URL (the
    reviewer's token travels to it), the CA file a PEM certificate. A token reviewer JWT, for
    a Vault outside the cluster, comes from the environment only."""
    import os
    from urllib.parse import urlsplit

    from infra.secrets.kubernetes_auth import (
        DEFAULT_HOST,
        REVIEWER_JWT_VAR,
        KubernetesAuthSettings,
    )

    host = host or DEFAULT_HOST
    try:
        parts = urlsplit(host)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        shown = "(an address with user info)" if "@" in host else repr(host)
        raise SecretsInputError(f"--kubernetes-host {shown} is not an https:// URL of the "
                                "Kubernetes API server (such as https://kubernetes.default.svc)")
    ca = None
    if ca_cert is not None:
        try:
            ca = ca_cert.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsInputError(f"--kubernetes-ca-cert {ca_cert}: cannot read it "
                                    f"({type(exc).__name__})") from None
        if "-----BEGIN CERTIFICATE-----" not in ca:
            raise SecretsInputError(f"--kubernetes-ca-cert {ca_cert}: not a PEM certificate")
    return KubernetesAuthSettings(kubernetes_host=host.rstrip("/"), kubernetes_ca_cert=ca,
                                  token_reviewer_jwt=os.environ.get(REVIEWER_JWT_VAR) or None)


class SecretsInputError(SecretsError):
    """Bad input found before Vault was contacted (exit 2)."""

    exit_code = INPUT_ERROR


def vault_settings(addr: str | None, mount: str | None, insecure: bool) -> VaultSettings:
    """Vault settings from the options and the environment, checked without contacting
    Vault: an address that is missing, not http(s), or plain http to another host, and
    missing credentials are input errors (exit 2), not an unavailable Vault (exit 3)."""
    from infra.secrets.vault import VaultSettings, check_address

    try:
        settings = VaultSettings.from_env(addr=addr, mount=mount, allow_insecure_http=insecure)
        check_address(settings.addr, allow_insecure_http=insecure)
    except VaultAccessError as exc:
        raise SecretsInputError(str(exc)) from None
    if not settings.token and not (settings.role_id and settings.secret_id):
        raise SecretsInputError(f"Vault at {settings.addr}: no credentials: set VAULT_TOKEN, "
                                "or VAULT_ROLE_ID and VAULT_SECRET_ID")
    return settings


def _vault(addr: str | None, mount: str | None, insecure: bool, stack: Stack) -> Vault:
    """The options win over the stack's `rampart:vaultAddr`/`vaultMount`; plain http to a
    remote Vault is allowed by the option or by the stack's `rampart:vaultAllowInsecureHttp`
    (what the program's provider honours too)."""
    from infra.secrets.vault import Vault

    settings = vault_settings(addr or stack.secrets.addr, mount or stack.secrets.mount,
                              insecure or stack.secrets.allow_insecure_http)
    return Vault(settings)  # logs in: from here on a VaultAccessError means exit 3


def exit_code(exc: SecretsError) -> int:
    """The contract's exit code for a secrets error (see the module docstring)."""
    if isinstance(exc, SecretsInputError | PlanError | InsecureAddressError):
        return INPUT_ERROR
    if isinstance(exc, VaultAccessError):
        return UNAVAILABLE
    if isinstance(exc, RotationConflict):
        return CHECK_FAILED
    return exc.exit_code  # WeakSecretsError and the rest: 1, a check failed


def _run(fn: Callable[[], T]) -> T:
    """One clear line on stderr and the contract's exit code; never a traceback with locals."""
    from infra.secrets.literals import redact  # stdlib only: cheap

    try:
        return fn()
    except SecretsError as exc:
        typer.echo(redact(f"error: {exc}"), err=True)
        raise typer.Exit(exit_code(exc)) from None
    except ValueError as exc:
        typer.echo(redact(f"error: {exc}"), err=True)
        raise typer.Exit(INPUT_ERROR) from None


def _max_versions(value: int | None) -> None:
    from infra.secrets.bootstrap import validate_max_versions

    if value is not None:
        validate_max_versions(value)  # ValueError: exit 2, before Vault is contacted


@app.command("bootstrap")
def bootstrap_cmd(
    stack: StackOpt,
    catalog: CatalogOpt = None,
    addr: AddrOpt = None,
    mount: MountOpt = None,
    allow_insecure_http: InsecureOpt = False,
    max_versions: Annotated[
        int, typer.Option(help="KV v2 versions kept per secret (>= 2: current + previous).")
    ] = DEFAULT_MAX_VERSIONS,
    create_mount: Annotated[
        bool, typer.Option(help="Enable a KV v2 engine at --mount if none is there.")
    ] = False,
    kubernetes_host: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Kubernetes stacks: the API server as Vault reaches "
                                         "it (default https://kubernetes.default.svc).")
    ] = None,
    kubernetes_ca_cert: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Kubernetes stacks: the cluster's CA "
                                                       "(PEM), when Vault runs outside it.")
    ] = None,
) -> None:
    """Create every missing secret (never overwrite), then one read-only policy and one
    AppRole per service; on a Kubernetes stack also Vault's Kubernetes auth with one role per
    service (its ServiceAccount, its namespace, the same policy). Prints names and paths only."""
    from infra.secrets.bootstrap import bootstrap
    from infra.secrets.kubernetes_auth import DEFAULT_MOUNT as DEFAULT_AUTH_MOUNT
    from infra.secrets.plan import validate_stack

    def go() -> None:
        validate_stack(stack)
        parsed = _stack(stack)
        specs = _specs(catalog, parsed)
        _max_versions(max_versions)
        bindings, auth_mount, auth = None, DEFAULT_AUTH_MOUNT, None
        if parsed.target == "kubernetes" and parsed.kubernetes is not None:
            bindings = _bindings(_platform(catalog, parsed), specs, parsed)
            auth_mount = parsed.kubernetes.vault_auth_mount
            auth = _kubernetes_auth(kubernetes_host, kubernetes_ca_cert)
        vault = _vault(addr, mount, allow_insecure_http, parsed)
        report = bootstrap(vault, stack, specs, max_versions=max_versions,
                           create_mount=create_mount, kubernetes_bindings=bindings,
                           kubernetes_mount=auth_mount, kubernetes=auth)
        if report.mount_created:
            typer.echo(f"created KV v2 mount {vault.mount}/")
        for path in report.created:
            typer.echo(f"created {vault.mount}/{path}")
        for path in report.metadata_updated:
            typer.echo(f"updated metadata {vault.mount}/{path} (max_versions={max_versions})")
        for name in report.roles:
            typer.echo(f"policy + AppRole {name}")
        typer.echo(f"{len(report.created)} created, {len(report.existing)} already present, "
                   f"{len(report.roles)} policies/AppRoles written (stack {stack})")
        if report.kubernetes is not None:
            _print_kubernetes(report.kubernetes)

    _run(go)


def _print_kubernetes(report: KubernetesAuthReport) -> None:
    if report.enabled:
        typer.echo(f"enabled Kubernetes auth at auth/{report.mount}/")
    if report.configured:
        typer.echo(f"configured auth/{report.mount}/config")
    for name in report.written:
        binding = report.bindings[name]
        typer.echo(f"Kubernetes-auth role {name} (ServiceAccount {binding.service_account} "
                   f"in namespace {binding.namespace})")
    for name in report.removed:
        typer.echo(f"removed stale Kubernetes-auth role {name}")
    typer.echo(f"{len(report.written)} Kubernetes-auth roles written, {len(report.unchanged)} "
               f"unchanged, {len(report.removed)} stale removed (auth/{report.mount}/)")


@app.command("check")
def check_cmd(
    stack: StackOpt,
    catalog: CatalogOpt = None,
    addr: AddrOpt = None,
    mount: MountOpt = None,
    allow_insecure_http: InsecureOpt = False,
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", metavar="DIR",
        help="Also write the result as readiness evidence into DIR (default: "
             "RAMPART_EVIDENCE_DIR when set; docs/readiness.md).")] = None,
) -> None:
    """Every declared secret present, strong, not a known default, not shared by accident.
    Exit 1 with one line per failing secret (its name, never its value).

    With --evidence DIR (or RAMPART_EVIDENCE_DIR) the result is also written as readiness
    evidence (check secrets-check, for STACK), a failing check's too, redacted; none when
    the check could not run (exit 2 or 3). A bad evidence directory is exit 2, before
    Vault is contacted."""
    from infra.readiness.collect import Recorder
    from infra.readiness.evidence import EvidenceError
    from infra.secrets.check import check
    from infra.secrets.literals import redact
    from infra.secrets.plan import validate_stack

    try:
        recorder = Recorder.start(evidence)
    except EvidenceError as exc:
        typer.echo(redact(f"error: {exc}"), err=True)
        raise typer.Exit(INPUT_ERROR) from None
    lines: list[str] = []

    def go() -> int:
        validate_stack(stack)
        parsed = _stack(stack)
        specs = _specs(catalog, parsed)
        vault = _vault(addr, mount, allow_insecure_http, parsed)
        findings = check(vault, stack, specs)
        for finding in findings:
            lines.append(finding.line(vault.mount))
            typer.echo(lines[-1])
        if findings:
            lines.append(f"{len(findings)} of {len(specs)} secrets of stack {stack} failing")
            typer.echo(lines[-1], err=True)
            return 1
        lines.append(f"ok: all {len(specs)} secrets of stack {stack} present and strong")
        typer.echo(lines[-1])
        return 0

    code = _run(go)
    if recorder is not None:
        try:
            path = recorder.record("secrets-check", f"secrets-check-{stack}.log",
                                   "\n".join(lines) + "\n", stack=stack, tools=_versions())
        except EvidenceError as exc:
            typer.echo(redact(f"evidence not written: {exc}"), err=True)
            raise typer.Exit(INPUT_ERROR) from None
        typer.echo(f"evidence: {path}", err=True)
    if code:
        raise typer.Exit(code)


def _versions() -> dict[str, str]:
    """The Vault client's version (the server's is not asked for: one request less)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {"hvac": version("hvac")}
    except PackageNotFoundError:
        return {}


@app.command("rotate")
def rotate_cmd(
    target: Annotated[str, typer.Argument(metavar="SERVICE/NAME",
                                          help="e.g. auth/JWT_SECRET")],
    stack: StackOpt,
    catalog: CatalogOpt = None,
    addr: AddrOpt = None,
    mount: MountOpt = None,
    allow_insecure_http: InsecureOpt = False,
    expect_version: Annotated[
        int | None,
        typer.Option(help="Fail unless this is still the current version (check-and-set)."),
    ] = None,
    max_versions: Annotated[
        int | None, typer.Option(help="Also set the versions kept for this secret (>= 2).")
    ] = None,
) -> None:
    """Write a new version. The previous one stays readable; for signing keys and peppers it
    is delivered as `<name>_previous` until the next rotation. Concurrent rotations fail,
    never overwrite."""
    from infra.model.types import DUAL_VERSION_KINDS
    from infra.secrets.plan import parse_label, validate_stack
    from infra.secrets.rotate import rotate

    def go() -> None:
        validate_stack(stack)
        parsed = _stack(stack)
        specs = _specs(catalog, parsed)
        spec = parse_label(specs, target)
        _max_versions(max_versions)
        vault = _vault(addr, mount, allow_insecure_http, parsed)
        result = rotate(vault, stack, spec, specs=specs, expected_version=expect_version,
                        max_versions=max_versions)
        if spec.kind in DUAL_VERSION_KINDS:
            kept = (f"version {result.previous_version} is delivered as {spec.key}_previous "
                    "until the next rotation (redeploy to deliver the new value)")
        else:
            kept = (f"version {result.previous_version} stays readable in Vault; redeploy "
                    f"{', '.join(spec.consumers)} together to switch to the new value")
        typer.echo(f"rotated {spec.label} ({vault.mount}/{result.path}): version "
                   f"{result.previous_version} -> {result.new_version}; {kept}")
        for path in result.also:
            typer.echo(f"rotated with it (same TLS set): {vault.mount}/{path}")

    _run(go)
