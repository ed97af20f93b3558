"""Which secrets a platform needs, where each lives in Vault, and who may read it.

Pure: derived from the model only. Paths follow `<mount>/<stack>/<service>/<name>` where
`<service>` is the owning service (a secret shared with `shared_from` lives once, under its
owner) and `<name>` is the catalog name lower-cased (`JWT_SECRET` -> `jwt_secret`), which is
also the file name the Pulumi targets deliver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.model.types import Platform, SecretKind

from .errors import PlanError

_STACK_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Suffix the Pulumi targets use for the rotation-aware second file (jwt_secret_previous).


def validate_stack(stack: str) -> str:
    """Stack names become Vault path segments and policy names: keep them boring."""
    if not _STACK_RE.match(stack):
        raise PlanError(f"stack name {stack!r} must be a DNS-1123 label (a-z, 0-9, -)")
    return stack


def secret_key(name: str) -> str:
    """The path segment (and delivered file name) for a catalog secret name."""
    return name.lower()


@dataclass(frozen=True)
class SecretSpec:
    """One secret as stored: one Vault path, one kind, the services that mount it."""

    owner: str
    name: str  # catalog spelling, e.g. "JWT_SECRET"
    kind: SecretKind
    consumers: tuple[str, ...]  # every service that mounts it, sorted

    @property
    def key(self) -> str:
        return secret_key(self.name)

    def path(self, stack: str) -> str:
        """Path inside the KV v2 mount (no mount, no `data/`)."""
        return f"{stack}/{self.owner}/{self.key}"

    @property
    def label(self) -> str:
        """How findings name it: `service/NAME` (the form `secrets rotate` accepts)."""
        return f"{self.owner}/{self.name}"


def secret_specs(platform: Platform) -> tuple[SecretSpec, ...]:
    """Every distinct stored secret of the platform, sorted by owner then name."""
    services = {svc.name for svc in platform.services}
    kinds: dict[tuple[str, str], SecretKind] = {}
    names: dict[tuple[str, str], str] = {}
    consumers: dict[tuple[str, str], set[str]] = {}
    for svc in platform.services:
        for ref in svc.secrets:
            if not _NAME_RE.match(ref.name):
                raise PlanError(f"{svc.name}: secret name {ref.name!r} is not a safe path segment")
            owner = ref.shared_from or svc.name
            if owner not in services:
                raise PlanError(
                    f"{svc.name}: secret {ref.name} is shared from unknown service {owner!r}"
                )
            ident = (owner, secret_key(ref.name))
            if ident in kinds and kinds[ident] != ref.kind:
                raise PlanError(
                    f"{owner}/{ref.name}: declared as {kinds[ident].value} and as "
                    f"{ref.kind.value} (by {svc.name}); one secret has one kind"
                )
            if ident in names and names[ident] != ref.name:
                raise PlanError(
                    f"{owner}: secret names {names[ident]!r} and {ref.name!r} map to the same "
                    f"Vault path {owner}/{ident[1]}"
                )
            kinds[ident] = ref.kind
            names[ident] = ref.name
            consumers.setdefault(ident, set()).add(svc.name)
    return tuple(
        SecretSpec(owner=o, name=names[(o, k)], kind=kinds[(o, k)],
                   consumers=tuple(sorted(consumers[(o, k)])))
        for o, k in sorted(kinds)
    )


def find_spec(specs: tuple[SecretSpec, ...], service: str, name: str) -> SecretSpec:
    """The stored secret `service` means by `name`: `service` may be a consumer (following
    `shared_from`) or the owner (what the Docker target passes)."""
    key = secret_key(name)
    for spec in specs:
        if spec.key == key and (service == spec.owner or service in spec.consumers):
            return spec
    raise PlanError(f"service {service!r} declares no secret named {name!r}")


def parse_label(specs: tuple[SecretSpec, ...], label: str) -> SecretSpec:
    """`SERVICE/NAME` from the command line -> the spec (owner or consumer spelling)."""
    service, sep, name = label.partition("/")
    if not sep or not service or not name:
        raise PlanError(f"expected SERVICE/NAME, got {label!r}")
    return find_spec(specs, service, name)


def context_words(spec: SecretSpec) -> tuple[str, ...]:
    """Words a value must not contain: its service and its own name."""
    return (spec.owner, spec.name, spec.key)
