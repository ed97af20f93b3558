"""`rampart secrets bootstrap`: create what is missing, never overwrite, scope access.

Creation uses check-and-set against the version seen (0 = "only if absent"), so even two
bootstraps racing each other cannot replace a value a service already uses. Reports carry
paths only. For a stack on the Kubernetes target, the caller passes each service's binding
(namespace, ServiceAccount) and bootstrap also writes the Kubernetes-auth roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import kubernetes_auth
from .errors import RotationConflict, SecretsError
from .generate import Generated, generate
from .plan import SecretSpec, context_words
from .policies import AppRoleSettings, apply
from .tls import generate_set, tls_role, tls_sets
from .vault import Metadata, Vault
from .versions import DEFAULT_MAX_VERSIONS


def validate_max_versions(max_versions: int) -> int:
    # One version would destroy the previous value on rotation: zero-downtime needs two.
    if max_versions < 2:
        raise ValueError("max_versions must be at least 2 (current and previous)")
    return max_versions


@dataclass
class BootstrapReport:
    created: list[str] = field(default_factory=list)  # paths
    existing: list[str] = field(default_factory=list)
    metadata_updated: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # policy == AppRole names
    mount_created: bool = False
    kubernetes: kubernetes_auth.KubernetesAuthReport | None = None  # Kubernetes target only


def new_values(spec: SecretSpec) -> Generated:
    return generate(spec.kind, username=f"{spec.owner}-admin", context=context_words(spec))


def new_tls_values(members: tuple[SecretSpec, ...]) -> dict[SecretSpec, Generated]:
    """One coherent CA + certificate + key for the owner of `members`."""
    material = generate_set(members[0].owner)
    return {m: Generated(material[tls_role(m.name)], {}) for m in members}


def _prepare(vault: Vault, stack: str, spec: SecretSpec, max_versions: int,
             report: BootstrapReport) -> tuple[Metadata | None, bool]:
    """Bring metadata to the desired settings; return (metadata, current version is live)."""
    path = spec.path(stack)
    meta = vault.metadata(path)
    if meta is None or meta.max_versions != max_versions or not meta.cas_required:
        vault.set_metadata(path, max_versions=max_versions, cas_required=True)
        if meta is not None:
            report.metadata_updated.append(path)
    live = meta is not None and meta.current_version in meta.live_versions
    return meta, live


def _create(vault: Vault, stack: str, spec: SecretSpec, meta: Metadata | None,
            value: Generated, report: BootstrapReport) -> None:
    path = spec.path(stack)
    # Missing, or its current version was deleted: write a new version in its place.
    try:
        vault.write(path, value.as_data(), cas=meta.current_version if meta else 0)
    except RotationConflict:
        report.existing.append(path)  # created by someone else meanwhile: keep theirs
        return
    report.created.append(path)


def bootstrap(
    vault: Vault,
    stack: str,
    specs: tuple[SecretSpec, ...],
    *,
    max_versions: int = DEFAULT_MAX_VERSIONS,
    create_mount: bool = False,
    approle: AppRoleSettings | None = None,
    kubernetes_bindings: Sequence[kubernetes_auth.Binding] | None = None,
    kubernetes_mount: str = kubernetes_auth.DEFAULT_MOUNT,
    kubernetes: kubernetes_auth.KubernetesAuthSettings | None = None,
) -> BootstrapReport:
    """Secrets, then policies and AppRoles, then (when `kubernetes_bindings` is given, even
    empty) the Kubernetes auth method and its roles, which reuse those policies."""
    validate_max_versions(max_versions)
    report = BootstrapReport()
    report.mount_created = vault.ensure_kv2_mount(create=create_mount)
    sets = tls_sets(specs)
    for spec in specs:
        if spec.owner in sets and spec in sets[spec.owner]:
            continue  # TLS sets are created together below
        meta, live = _prepare(vault, stack, spec, max_versions, report)
        if live:
            report.existing.append(spec.path(stack))
        else:
            _create(vault, stack, spec, meta, new_values(spec), report)
    for owner, members in sets.items():
        state = {m: _prepare(vault, stack, m, max_versions, report) for m in members}
        missing = [m for m, (_, live) in state.items() if not live]
        if not missing:
            report.existing.extend(m.path(stack) for m in members)
            continue
        if len(missing) != len(members):
            # A new key cannot match an existing certificate: renewing the set is a rotation.
            names = ", ".join(m.name for m in missing)
            raise SecretsError(
                f"TLS material of {owner} is incomplete ({names} missing, the rest present); "
                f"renew the whole set with `rampart secrets rotate --stack {stack} "
                f"{owner}/{missing[0].name}`"
            )
        for member, value in new_tls_values(members).items():
            _create(vault, stack, member, state[member][0], value, report)
    report.roles = apply(vault, stack, specs, approle)
    if kubernetes_bindings is not None:
        report.kubernetes = kubernetes_auth.apply(vault, stack, specs, kubernetes_bindings,
                                                  kubernetes_mount, kubernetes)
    return report
