"""Vault's Kubernetes auth for the Kubernetes target: one login role per service with secrets.

External Secrets Operator logs in to Vault as each service's ServiceAccount (a SecretStore
per service) with the role `rampart-<stack>-<service>`, and the token it gets carries only
that service's read-only policy, the same one its AppRole carries (policies.py). A role
binds exactly one ServiceAccount in exactly one namespace, and pins the token audience, so
a token minted for the API server (or for another service) cannot log in.

`apply` is idempotent: it enables the auth method at its mount if absent, configures it,
writes a role only when it differs from what Vault holds, and removes the roles of services
that no longer have secrets. It owns `auth/<mount>/config` and this stack's roles on that
mount; other stacks' roles and roles it did not write are left alone. The policies are
written by `policies.apply`, which bootstrap runs first.

Plain data in: the CLI derives the bindings (namespace and ServiceAccount per service) from
the stack's `rampart:kubernetes` block, so this module knows nothing of the target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import PlanError, VaultAccessError
from .plan import SecretSpec
from .policies import AppRoleSettings, consumers, policy_name
from .vault import Vault

DEFAULT_MOUNT = "kubernetes"
# The API server as a Vault pod reaches it. In a pod, Vault reviews tokens with its own
# ServiceAccount token and CA, so the host is all the configuration it needs.
DEFAULT_HOST = "https://kubernetes.default.svc"
# The `aud` every login token must carry. ESO requests none by default (the API server's own
# audience, which that server also accepts as a credential), so the SecretStore asks for this
# one in `auth.kubernetes.serviceAccountRef.audiences`; a token meant for the API server, or
# for anything else, is refused by Vault before it asks the cluster.
AUDIENCE = "vault"
# Identity aliases by ServiceAccount UID: a deleted and re-created account of the same name is
# a new identity (Vault's default and most careful choice).
ALIAS_NAME_SOURCE = "serviceaccount_uid"

# Where the CLI reads a reviewer JWT from (a credential: never an option on the command line).
REVIEWER_JWT_VAR = "RAMPART_KUBERNETES_REVIEWER_JWT"

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # a namespace
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")  # a ServiceAccount
_LOCAL_CA_MISSING = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


@dataclass(frozen=True)
class Binding:
    """Who may log in as `service`: one ServiceAccount in one namespace.

    Names are checked to be exact Kubernetes names: Vault reads `*` (and globs) in a bound
    list as a wildcard, which would let any namespace or account in.
    """

    service: str
    namespace: str
    service_account: str

    def __post_init__(self) -> None:
        if not _DNS_LABEL.fullmatch(self.namespace):
            raise PlanError(f"{self.service}: Kubernetes namespace {self.namespace!r} is not a "
                            "DNS label (a-z, 0-9, -; no wildcards)")
        if not _DNS_SUBDOMAIN.fullmatch(self.service_account):
            raise PlanError(f"{self.service}: ServiceAccount {self.service_account!r} is not a "
                            "Kubernetes name (a-z, 0-9, -, .; no wildcards)")


@dataclass(frozen=True)
class KubernetesAuthSettings:
    """How Vault reaches the cluster, and what the tokens it issues may do."""

    kubernetes_host: str = DEFAULT_HOST
    # Needed only when Vault runs outside the cluster (no ServiceAccount CA of its own).
    kubernetes_ca_cert: str | None = None
    # Only when Vault runs outside the cluster and must not use each client's own token to
    # call the TokenReview API. Vault never reads it back: given, it is always written.
    token_reviewer_jwt: str | None = field(default=None, repr=False)
    audience: str = AUDIENCE
    # The AppRoles' lifetimes: ESO logs in for each sync and revokes its token afterwards, so
    # an hour is ample, and a leaked token dies within four at the latest.
    token_ttl_s: int = AppRoleSettings.token_ttl_s
    token_max_ttl_s: int = AppRoleSettings.token_max_ttl_s


@dataclass
class KubernetesAuthReport:
    mount: str
    enabled: bool = False  # the auth method was enabled by this run
    configured: bool = False  # auth/<mount>/config was (re)written
    written: list[str] = field(default_factory=list)  # roles created or corrected
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # stale roles of this stack
    bindings: dict[str, Binding] = field(default_factory=dict)  # role -> who may use it

    @property
    def roles(self) -> list[str]:
        return sorted(self.written + self.unchanged)


def role_fields(binding: Binding, policy: str, settings: KubernetesAuthSettings) -> dict[str, Any]:
    """Every field of one role, as Vault reads it back. Vault keeps fields an update leaves
    out, so the ones that could widen a role are always sent, at their narrowest."""
    return {
        "bound_service_account_names": [binding.service_account],
        "bound_service_account_namespaces": [binding.namespace],
        # A selector is ORed with the namespace list: none.
        "bound_service_account_namespace_selector": "",
        "audience": settings.audience,
        "alias_name_source": ALIAS_NAME_SOURCE,
        "token_policies": [policy],
        # Keeps Vault's `default` policy: ESO looks its token up and revokes it after a sync.
        "token_no_default_policy": False,
        "token_ttl": settings.token_ttl_s,
        "token_max_ttl": settings.token_max_ttl_s,
        "token_explicit_max_ttl": 0,
        "token_period": 0,  # a periodic token could be renewed forever
        "token_num_uses": 0,  # one sync reads several secrets
        "token_bound_cidrs": [],  # pod addresses are not stable; the binding is the identity
        "token_type": "service",  # noqa: S106 - a token type name, not a credential
    }


def ensure_kubernetes_auth(vault: Vault, mount: str) -> bool:
    """Enable the Kubernetes auth method at `mount` if absent. Returns True when enabled."""
    methods = vault.call("list auth methods", "sys/auth",
                         lambda: vault.client.sys.list_auth_methods())
    entry = methods.get("data", methods).get(f"{mount}/")
    if entry is not None:
        if entry.get("type") != "kubernetes":
            raise VaultAccessError(f"Vault at {vault.addr}: auth/{mount}/ is a "
                                   f"{entry.get('type')} auth method, not kubernetes (set "
                                   "rampart:kubernetes vaultAuthMount to a free path)")
        return False
    vault.call("enable Kubernetes auth at", f"sys/auth/{mount}",
               lambda: vault.client.sys.enable_auth_method("kubernetes", path=mount))
    return True


def configure(vault: Vault, mount: str, settings: KubernetesAuthSettings) -> bool:
    """Write `auth/<mount>/config` unless it already says the same. Returns True if written.

    A write replaces the whole config. Vault never reads a reviewer JWT back, so one given is
    always written, and one set earlier but not given now is kept (config left alone) or, if
    the host or CA must change, the run stops rather than erase it."""
    path = f"auth/{mount}/config"
    current = vault.call("read", path, lambda: vault.client.read(path)) or {}
    have = current.get("data") or {}
    want: dict[str, Any] = {"kubernetes_host": settings.kubernetes_host,
                            "kubernetes_ca_cert": settings.kubernetes_ca_cert or ""}
    same = (all(have.get(k) == v for k, v in want.items())
            and not have.get("pem_keys") and not have.get("disable_local_ca_jwt"))
    if settings.token_reviewer_jwt is None:
        if same:
            return False
        if have.get("token_reviewer_jwt_set"):
            raise VaultAccessError(
                f"Vault at {vault.addr}: {path} holds a token reviewer JWT that rewriting its "
                f"host or CA would erase: give it again ({REVIEWER_JWT_VAR}) or delete it first")
    else:
        want["token_reviewer_jwt"] = settings.token_reviewer_jwt
    try:
        vault.call("configure Kubernetes auth at", path,
                   lambda: vault.client.write_data(path, data=want))
    except VaultAccessError as exc:
        if _LOCAL_CA_MISSING not in str(exc):
            raise
        # Without a CA given, Vault reads its pod's; outside a pod there is none.
        raise VaultAccessError(
            f"Vault at {vault.addr}: configure Kubernetes auth at {path}: Vault does not run "
            "in a Kubernetes pod (no ServiceAccount CA of its own): pass the cluster's CA "
            "with --kubernetes-ca-cert FILE") from None
    return True


def _read_role(vault: Vault, mount: str, name: str) -> dict[str, Any] | None:
    path = f"auth/{mount}/role/{name}"
    resp = vault.call("read role", path, lambda: vault.client.read(path))
    return dict(resp["data"]) if resp else None


def _write_role(vault: Vault, mount: str, name: str, fields: dict[str, Any]) -> None:
    path = f"auth/{mount}/role/{name}"
    vault.call("write role", path, lambda: vault.client.write_data(path, data=fields))


def _delete_role(vault: Vault, mount: str, name: str) -> None:
    path = f"auth/{mount}/role/{name}"
    vault.call("delete role", path, lambda: vault.client.delete(path))


def _current(role: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    # Vault omits `audience` when it is empty.
    return {k: role.get(k, "" if k == "audience" else None) for k in keys}


def _list_roles(vault: Vault, mount: str) -> list[str]:
    path = f"auth/{mount}/role"
    resp = vault.call("list roles", path, lambda: vault.client.list(path))  # None: no roles
    return list(resp["data"]["keys"]) if resp else []


def _is_ours(role: dict[str, Any], name: str, prefix: str) -> bool:
    """A role this stack wrote: `rampart-<stack>-<service>` binding ServiceAccount `<service>`
    and carrying its own policy. The name alone could be another stack's: stack `dev` must not
    claim `rampart-dev-eu-auth` of stack `dev-eu` (which binds account `auth`)."""
    service = name[len(prefix):]
    return (role.get("bound_service_account_names") == [service]
            and role.get("token_policies") == [name])


def apply(
    vault: Vault,
    stack: str,
    specs: tuple[SecretSpec, ...],
    bindings: Sequence[Binding],
    mount: str = DEFAULT_MOUNT,
    settings: KubernetesAuthSettings | None = None,
) -> KubernetesAuthReport:
    """Enable, configure and fill the Kubernetes auth method at `mount` for `stack`: one role
    per service with secrets (named like its policy, `rampart-<stack>-<service>`), stale
    roles of this stack removed. Every service with secrets needs its binding."""
    settings = settings or KubernetesAuthSettings()
    by_service: dict[str, Binding] = {}
    for binding in bindings:
        if binding.service in by_service:
            raise PlanError(f"{binding.service}: two Kubernetes bindings")
        by_service[binding.service] = binding
    services = consumers(specs)
    missing = [s for s in services if s not in by_service]
    if missing:
        raise PlanError(f"no Kubernetes binding (namespace, ServiceAccount) for "
                        f"{', '.join(missing)}")
    report = KubernetesAuthReport(mount=mount)
    report.enabled = ensure_kubernetes_auth(vault, mount)
    report.configured = configure(vault, mount, settings)
    wanted: set[str] = set()
    for service in services:
        name = policy_name(stack, service)  # role, policy and AppRole share the name
        wanted.add(name)
        report.bindings[name] = by_service[service]
        want = role_fields(by_service[service], name, settings)
        have = _read_role(vault, mount, name)
        if have is not None and _current(have, list(want)) == want:
            report.unchanged.append(name)
            continue
        _write_role(vault, mount, name, want)
        report.written.append(name)
    prefix = policy_name(stack, "")
    for name in sorted(_list_roles(vault, mount)):
        if not name.startswith(prefix) or name in wanted:
            continue
        role = _read_role(vault, mount, name)
        if role is None or not _is_ours(role, name, prefix):
            continue
        _delete_role(vault, mount, name)
        report.removed.append(name)
    return report
