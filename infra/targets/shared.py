"""What both targets need from a `Service` the same way: its uid/gid, the secret file layout
(the current and the previous version's file, the `*_FILE` variables) and the smallest set of
directories covering a service's files.

May import: infra.model and infra.secrets.versions.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from infra.model.types import SecretRef, Service
from infra.secrets.versions import PREVIOUS_SUFFIX


def user_ids(svc: Service) -> tuple[str | None, str | None]:
    if svc.security.user is None:
        return None, None
    uid, _, gid = svc.security.user.partition(":")
    return uid, gid or uid


def previous_file(ref: SecretRef) -> str:
    return ref.file + PREVIOUS_SUFFIX


def previous_env(ref: SecretRef) -> str | None:
    """`JWT_SECRET_FILE` -> `JWT_SECRET_PREVIOUS_FILE`."""
    if ref.env is None:
        return None
    stem = ref.env[: -len("_FILE")] if ref.env.endswith("_FILE") else ref.env
    return f"{stem}_PREVIOUS_FILE"


def secret_env(refs: Sequence[SecretRef]) -> list[str]:
    """Only file *paths* go into the environment (`POSTGRES_PASSWORD_FILE=/run/secrets/...`)."""
    envs = []
    for ref in refs:
        if ref.env:
            envs.append(f"{ref.env}={ref.file}")
            previous = previous_env(ref)
            if ref.delivers_previous and previous:
                envs.append(f"{previous}={previous_file(ref)}")
    return envs


def upload_dirs(paths: Sequence[str]) -> list[str]:
    """The smallest set of directories covering every file a target delivers into a
    container: each becomes one volume (Docker copies into a read-only root only onto a
    volume; Kubernetes mounts a Secret or ConfigMap per directory)."""
    dirs = sorted({posixpath.dirname(p) for p in paths})
    kept: list[str] = []
    for d in dirs:
        if not under(d, kept):
            kept.append(d)
    return kept


def under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
