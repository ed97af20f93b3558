"""The stack's `rampart:kubernetes` block: where and how the Kubernetes target deploys.

A leaf module (imports only the model's reader and errors, no Pulumi): `infra.stack` parses
the block with it, `rampart secrets bootstrap` names the Vault roles' service accounts with
it, and the target reads the parsed `KubernetesSettings`. Every key is documented in
docs/kubernetes.md.

    rampart:kubernetes:
      namespacePrefix: erp          # required: namespaces are <prefix>-<group> (or <prefix>)
      namespaces: group             # group (one per catalog group) | stack (one namespace)
      storageClass: standard        # required: the StorageClass of every volume claim
      ingressClass: traefik         # the class Traefik watches (IngressRoutes carry it)
      version: "1.31"               # Kubernetes minor: PSS label version, schema validation
      context: my-cluster           # kubeconfig context (else the current one)
      kubeconfig: ~/.kube/config    # kubeconfig file (else KUBECONFIG / the default)
      vaultServer: https://vault.vault.svc:8200   # Vault as pods reach it (External Secrets)
      vaultCaFile: certs/vault-ca.pem  # the CA of Vault's certificate, when not a public one
      vaultAuthMount: kubernetes    # Vault's Kubernetes auth mount
      secretRefresh: 1h             # how often External Secrets re-reads Vault (rotation)
      storageSize: 10Gi             # each volume claim's size
      apiServerCidrs: [10.0.0.0/8]  # where pods that watch the API reach it (NetworkPolicy)
      cnpgNamespace: cnpg-system    # the CloudNativePG operator's namespace (it polls instances)
      omit:                         # catalog services not run on this target, with the reason
        node-exporter: the cluster's own node-exporter DaemonSet covers the nodes

May import: infra.model (reader, errors) only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.model.errors import ValidationError
from infra.model.reader import Fields
from infra.model.types import Platform

KEY = "kubernetes"
NAMESPACE_MODES = ("group", "stack")
# The minor versions the vendored schemas and Pod Security admission labels are checked for.
SUPPORTED_VERSIONS = ("1.30", "1.31", "1.32", "1.33")
DEFAULT_VERSION = "1.31"
MIN_REASON = 20
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?"  # short: group names are appended
_DURATION = r"(?:[1-9][0-9]*(?:s|m|h))+"
_URL = r"https?://[^\s/@]+(?::[0-9]+)?/?"


@dataclass(frozen=True)
class KubernetesSettings:
    namespace_prefix: str
    namespace_mode: str  # "group" | "stack"
    storage_class: str
    ingress_class: str
    version: str  # "1.31"
    context: str | None
    kubeconfig: str | None
    vault_server: str | None  # None: the stack's vaultAddr
    vault_auth_mount: str
    secret_refresh: str  # Go duration, e.g. "1h"
    storage_size: str = "10Gi"
    api_server_cidrs: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    cnpg_namespace: str = "cnpg-system"
    omit: tuple[tuple[str, str], ...] = ()  # (service, reason), sorted
    vault_ca_file: str | None = None  # PEM file, relative to the project

    @property
    def pss_version(self) -> str:
        """The Pod Security Standards version the namespace labels pin (`v1.31`)."""
        return f"v{self.version}"

    def namespace(self, group: str) -> str:
        """The namespace of a service of catalog group `group`."""
        if self.namespace_mode == "stack":
            return self.namespace_prefix
        return f"{self.namespace_prefix}-{group}"


def parse(namespace: Mapping[str, Any], source: str, *, target: str) -> KubernetesSettings | None:
    """The block parsed and checked; None when the stack does not target Kubernetes and
    names no block. Required keys are required only for the kubernetes target."""
    raw = namespace.get(KEY)
    if raw is None:
        if target == "kubernetes":
            raise ValidationError(source, "the kubernetes target needs a 'rampart:kubernetes' "
                                          "block (namespacePrefix, storageClass; "
                                          "docs/kubernetes.md)", field=f"rampart:{KEY}")
        return None
    f = Fields(raw, file=source, prefix=f"rampart:{KEY}", what="'rampart:kubernetes'")
    for required in ("namespacePrefix", "storageClass"):
        if target == "kubernetes" and not f.has(required):
            raise f.fail(required, "is required for the kubernetes target (docs/kubernetes.md)")
    prefix = f.str_("namespacePrefix", "rampart", pattern=_DNS_LABEL,
                    hint="a lower-case DNS label of at most 32 characters, such as erp")
    mode = f.choice("namespaces", NAMESPACE_MODES, "group")
    storage = f.str_("storageClass", "standard", pattern=r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?",
                     hint="a StorageClass name (DNS subdomain)")
    ingress = f.str_("ingressClass", "traefik", pattern=_DNS_LABEL, hint="an IngressClass name")
    version = str(f.str_("version", DEFAULT_VERSION))
    if version not in SUPPORTED_VERSIONS:
        raise f.fail("version", f"'{version}' is not a supported Kubernetes minor "
                                f"(one of {', '.join(SUPPORTED_VERSIONS)})")
    context = f.str_("context", None)
    kubeconfig = f.str_("kubeconfig", None)
    vault_server = f.str_("vaultServer", None, pattern=_URL,
                          hint="the URL pods reach Vault at, such as https://vault.vault.svc:8200")
    if vault_server is not None and vault_server.startswith("http://"):
        raise f.fail("vaultServer", "must be https:// (secrets cross the pod network)")
    vault_ca = f.str_("vaultCaFile", None, pattern=r"[^\x00]{1,4096}", hint="a file path")
    auth_mount = f.str_("vaultAuthMount", "kubernetes", pattern=r"[a-z0-9][a-z0-9_-]{0,63}",
                        hint="a Vault auth mount path such as kubernetes")
    refresh = f.str_("secretRefresh", "1h", pattern=_DURATION,
                     hint="a duration such as 15m or 1h")
    size = f.str_("storageSize", "10Gi", pattern=r"[1-9][0-9]{0,5}(?:Mi|Gi|Ti)",
                  hint="a size such as 10Gi")
    cidrs = f.str_list("apiServerCidrs", list(KubernetesSettings.api_server_cidrs))
    for index, cidr in enumerate(cidrs):
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise f.fail("apiServerCidrs", f"item {index} '{cidr}' is not a CIDR such as "
                                           "10.0.0.1/32") from None
        if network.prefixlen == 0:
            raise f.fail("apiServerCidrs", f"item {index} '{cidr}' is every address; name "
                                           "the control plane's addresses")
    cnpg = f.str_("cnpgNamespace", "cnpg-system", pattern=_DNS_LABEL + r"(?:-[a-z0-9]+)*",
                  hint="a namespace name")
    omit_raw = f.raw("omit", {})
    if not isinstance(omit_raw, Mapping):
        raise f.fail("omit", "must be a mapping of service name to the reason it is not run")
    omit: list[tuple[str, str]] = []
    for name, reason in sorted(omit_raw.items()):
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
            raise f.fail(f"omit.{name}", f"needs a reason of at least {MIN_REASON} "
                                         "characters (why the service is not run here)")
        omit.append((str(name), reason.strip()))
    f.done()
    if re.fullmatch(r"(?:0+[smh])+", refresh):
        raise f.fail("secretRefresh", "must be positive")
    return KubernetesSettings(
        namespace_prefix=prefix, namespace_mode=mode, storage_class=storage,
        ingress_class=ingress, version=version, context=context, kubeconfig=kubeconfig,
        vault_server=vault_server, vault_auth_mount=auth_mount, secret_refresh=refresh,
        storage_size=size, api_server_cidrs=tuple(cidrs), cnpg_namespace=cnpg,
        omit=tuple(omit), vault_ca_file=vault_ca)


def role_name(stack: str, service: str) -> str:
    """The Vault Kubernetes-auth role of one service (same name as its policy and AppRole)."""
    return f"rampart-{stack}-{service}"


def service_namespaces(settings: KubernetesSettings, platform: Platform) -> dict[str, str]:
    """{service: namespace}. A backup job runs beside the database it backs up (on
    Kubernetes the database's operator runs the backups with the job's credentials), so its
    Vault role binds that namespace; every other service lives in its group's namespace."""
    out = {s.name: settings.namespace(s.group.value) for s in platform.services}
    for db in platform.services:
        if db.backup and db.backup in out:
            out[db.backup] = out[db.name]
    return out
