"""Secrets from Vault through the External Secrets Operator: values never pass through Pulumi.

Per service with secrets: a SecretStore that logs in to Vault with the service's own
ServiceAccount (Vault's Kubernetes auth, role `rampart-<stack>-<service>`, the same read-only
policy as its AppRole), and an ExternalSecret writing one Secret whose keys are the files the
model declares. Pods mount that Secret as files; nothing becomes an environment value.

Rotation: passwords and keys follow Vault's latest version at every refresh interval. The
verify-with-previous kinds (signing keys, the pepper) are pinned to the version read at
deploy time and the one before, so the two files always form a pair; rotating one of those
reaches pods with the next `pulumi up` (docs/kubernetes.md).

May import: infra.model, infra.secrets (provider protocol, plan's key naming) and this
package's objects and workloads.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from infra.model.types import Platform, Service
from infra.secrets.kubernetes_auth import AUDIENCE
from infra.secrets.plan import secret_key
from infra.secrets.provider import SecretsProvider
from infra.targets.kubernetes.objects import labels, metadata
from infra.targets.kubernetes.settings import KubernetesSettings, role_name
from infra.targets.kubernetes.workloads import key_of, secret_files

VALUE = "value"  # the field of a Vault KV v2 secret holding the value (infra/secrets/vault.py)


def store_name(svc: Service) -> str:
    return f"{svc.name}-vault"


def secret_name(svc: Service) -> str:
    return f"{svc.name}-secrets"


def secret_store(platform: Platform, svc: Service, namespace: str, stack: str,
                 settings: KubernetesSettings, vault_server: str,
                 vault_mount: str, service_account: str | None = None,
                 vault_ca: str | None = None) -> dict[str, Any]:
    ca = {"caBundle": base64.b64encode(vault_ca.encode()).decode()} if vault_ca else {}
    return {"metadata": metadata(store_name(svc), namespace, labels(platform, svc)), "spec": {
        "provider": {"vault": {
            "server": vault_server, "path": vault_mount, "version": "v2", **ca,
            "auth": {"kubernetes": {
                "mountPath": settings.vault_auth_mount, "role": role_name(stack, svc.name),
                # The audience Vault's role pins: a token issued for the API server is not
                # accepted by Vault, nor the other way round.
                "serviceAccountRef": {"name": service_account or svc.name,
                                      "audiences": [AUDIENCE]}}}}}}}


def _remote(stack: str, owner: str, name: str, version: int | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"key": f"{stack}/{owner}/{secret_key(name)}", "property": VALUE}
    if version is not None:
        ref["version"] = str(version)
    return ref


def _pinned(secrets: SecretsProvider, owner: str, name: str) -> int | None:
    version = getattr(secrets, "version", None)
    return int(version(owner, name)) if callable(version) else None


def external_secret(platform: Platform, svc: Service, namespace: str, stack: str,
                    settings: KubernetesSettings, secrets: SecretsProvider,
                    files: Mapping[str, tuple[str, str, bool]] | None = None,
                    template: Mapping[str, Any] | None = None,
                    name: str | None = None) -> dict[str, Any]:
    """The ExternalSecret of a service: {file path: (owner, secret, previous?)} by default
    the service's declared secrets, each under the key its file path gives."""
    files = secret_files(svc) if files is None else files
    data = []
    for path, (owner, secret, previous) in sorted(files.items()):
        ref = next((r for r in svc.secrets if r.name == secret), None)
        version = None
        if ref is not None and ref.delivers_previous:
            current = _pinned(secrets, owner, secret)
            if current is not None:
                version = max(1, current - 1) if previous else current
        data.append({"secretKey": key_of(path), "remoteRef": _remote(stack, owner, secret,
                                                                     version)})
    target: dict[str, Any] = {"name": name or secret_name(svc), "creationPolicy": "Owner",
                              "deletionPolicy": "Retain"}
    if template is not None:
        target["template"] = dict(template)
    return {"metadata": metadata(name or svc.name, namespace, labels(platform, svc)), "spec": {
        "refreshInterval": settings.secret_refresh,
        "secretStoreRef": {"name": store_name(svc), "kind": "SecretStore"},
        "target": target, "data": data}}
