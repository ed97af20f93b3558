"""`rampart secrets rotate`: a new version, the previous one kept and still delivered.

The Pulumi targets deliver `<name>` (current) and `<name>_previous` (the version before), so
tokens signed or hashes peppered before a rotation stay valid until the next rotation.
Writes are check-and-set against the version read: of two concurrent rotations exactly one
wins and the other fails loudly instead of silently replacing the winner's value.
TLS material (key + certificate + CA of one service) rotates as a set; the set's writes are
one check-and-set each, in order key, certificate, CA — a conflict on the first writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bootstrap import new_tls_values, new_values, validate_max_versions
from .errors import RotationConflict, SecretsError
from .generate import Generated
from .plan import SecretSpec
from .tls import tls_role, tls_sets
from .vault import Vault

_ORDER = {"key": 0, "cert": 1, "ca": 2}


@dataclass(frozen=True)
class RotationResult:
    path: str
    previous_version: int
    new_version: int
    also: tuple[str, ...] = ()  # other members of a TLS set rotated with it (paths)


def _base_version(vault: Vault, stack: str, spec: SecretSpec, max_versions: int | None,
                  expected_version: int | None) -> int:
    path = spec.path(stack)
    meta = vault.metadata(path)
    if meta is None or meta.current_version == 0:
        raise SecretsError(f"{spec.label} ({path}) does not exist; run `rampart secrets bootstrap`")
    if max_versions is not None:
        validate_max_versions(max_versions)
        vault.set_metadata(path, max_versions=max_versions, cas_required=True)
    elif meta.max_versions == 1:
        raise SecretsError(
            f"{spec.label} ({path}) keeps only 1 version: rotating would drop the value still "
            "in use; pass --max-versions 2 or more"
        )
    base = meta.current_version if expected_version is None else expected_version
    if base != meta.current_version:
        raise RotationConflict(
            f"{vault.full_path(path)}: is at version {meta.current_version}, expected "
            f"{expected_version}; nothing written"
        )
    return base


def rotate(
    vault: Vault,
    stack: str,
    spec: SecretSpec,
    *,
    specs: tuple[SecretSpec, ...] = (),
    expected_version: int | None = None,
    max_versions: int | None = None,
) -> RotationResult:
    """Write a new version of `spec`. `expected_version` pins the version the caller saw;
    without it the version read here is used. Raises `RotationConflict` if it moved.
    `specs` (the platform's) lets a TLS member rotate together with the rest of its set."""
    members = tls_sets(specs or (spec,)).get(spec.owner, ())
    if spec in members:
        return _rotate_set(vault, stack, spec, members, expected_version, max_versions)
    base = _base_version(vault, stack, spec, max_versions, expected_version)
    value = new_values(spec)
    new_version = vault.write(spec.path(stack), value.as_data(), cas=base)
    return RotationResult(path=spec.path(stack), previous_version=base, new_version=new_version)


def _rotate_set(vault: Vault, stack: str, spec: SecretSpec, members: tuple[SecretSpec, ...],
                expected_version: int | None, max_versions: int | None) -> RotationResult:
    bases = {m: _base_version(vault, stack, m, max_versions,
                              expected_version if m == spec else None) for m in members}
    values: dict[SecretSpec, Generated] = new_tls_values(members)
    written: dict[SecretSpec, int] = {}
    for member in sorted(members, key=lambda m: _ORDER[tls_role(m.name)]):
        try:
            written[member] = vault.write(member.path(stack), values[member].as_data(),
                                          cas=bases[member])
        except RotationConflict as exc:
            if not written:
                raise
            done = ", ".join(m.label for m in written)
            raise RotationConflict(
                f"{exc}; {done} already rotated: rotate {spec.label} again to make the set "
                "consistent"
            ) from None
    return RotationResult(
        path=spec.path(stack), previous_version=bases[spec], new_version=written[spec],
        also=tuple(m.path(stack) for m in members if m != spec),
    )
