"""`rampart render --format manifests`: the recorded Kubernetes objects as files for kubectl.

A Kubernetes object is a custom resource of the recording (infra/offline/engine.py) whose type
token starts with `kubernetes:` and whose inputs carry `apiVersion` and `kind`: its inputs, in
wire form, are the object. Pulumi components (`rampart:*`), providers (`pulumi:providers:*`)
and every other package (tls, docker, ...) are not objects. Records of the kubernetes package
that are not plain objects either (a Helm `Release`, a `*Patch` that edits an object someone
else owns, a `*List`) are left out and listed as skipped.

Files go under `manifests/` in the output directory, one per kind and namespace, named
`NN-<kind>[-<namespace>].yaml`. The directory's ownership manifest (`.rampart-manifest.json`,
infra/offline/outdir.py) stays one level up, so `kubectl apply -f OUT/manifests` reads only
objects (kubectl reads every `.json` file of a directory it is given).

NN is the apply order, the position of the object's kind in `APPLY_ORDER` below: what is
referred to before what refers to it, so the files applied in name order never name an object
that does not exist yet. Kinds not in the list come last (NN = 99). Inside a file objects are
sorted by name; each document opens with `---` and its keys read apiVersion, kind, metadata,
then the rest sorted, so the same stack renders byte-identically.

What a manifest leaves out or hides:
- what only Pulumi reads: `pulumi.com/*` annotations (the provider's await, patch and
  replace switches mean nothing to kubectl); pulumi-kubernetes sends nothing else that is
  not part of the object;
- every value the program marked secret is the engine's `[secret]`;
- for a `Secret`, every `data` value is base64 of `[secret]` and every `stringData` value is
  `[secret]`, marked or not, so the files stay valid for `kubectl apply --dry-run=server`
  and never hold a value. When the whole map was secret (pulumi-kubernetes marks a Secret's
  `data` and `stringData` secret as a whole) even its keys are unknown: the field is left
  out and a comment at the top of the document says so.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.offline import outdir
from infra.offline.engine import REDACTED, UNKNOWN_SHOWN, Record, Recording
from infra.offline.render import dump_yaml

MANIFESTS_DIR = "manifests"
TYPE_PREFIX = "kubernetes:"
# Kinds as `Kind.group` (`Kind` alone for the core group), the same spelling kubectl uses
# for resources. The groups are the operator CRDs the Kubernetes target renders.
APPLY_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("custom resource definitions", ("CustomResourceDefinition.apiextensions.k8s.io",)),
    ("namespaces", ("Namespace",)),
    ("cluster-scoped configuration", (
        "PriorityClass.scheduling.k8s.io",
        "StorageClass.storage.k8s.io",
        "PersistentVolume",
        "IngressClass.networking.k8s.io",
        "ClusterRole.rbac.authorization.k8s.io",
        "ClusterRoleBinding.rbac.authorization.k8s.io",
        "ClusterIssuer.cert-manager.io",
        "ClusterSecretStore.external-secrets.io",
    )),
    ("namespaced configuration", (
        "ServiceAccount",
        "ResourceQuota",
        "LimitRange",
        "ConfigMap",
        "Secret",
        "NetworkPolicy.networking.k8s.io",
        "SecretStore.external-secrets.io",
        "ExternalSecret.external-secrets.io",
        "Issuer.cert-manager.io",
        "Certificate.cert-manager.io",
        "Role.rbac.authorization.k8s.io",
        "RoleBinding.rbac.authorization.k8s.io",
        "Service",
        "PersistentVolumeClaim",
    )),
    ("workloads", (
        "Deployment.apps",
        "StatefulSet.apps",
        "DaemonSet.apps",
        "Job.batch",
        "CronJob.batch",
        "Cluster.postgresql.cnpg.io",
        "Prometheus.monitoring.coreos.com",
        "Alertmanager.monitoring.coreos.com",
    )),
    ("what refers to workloads", (
        "PodDisruptionBudget.policy",
        "HorizontalPodAutoscaler.autoscaling",
        "ServiceMonitor.monitoring.coreos.com",
        "PodMonitor.monitoring.coreos.com",
        "PrometheusRule.monitoring.coreos.com",
        "ScheduledBackup.postgresql.cnpg.io",
        "Middleware.traefik.io",
        "MiddlewareTCP.traefik.io",
        "ServersTransport.traefik.io",
        "TLSOption.traefik.io",
        "TLSStore.traefik.io",
        "IngressRoute.traefik.io",
        "IngressRouteTCP.traefik.io",
        "Ingress.networking.k8s.io",
    )),
)
KIND_ORDER: tuple[str, ...] = tuple(kind for _, kinds in APPLY_ORDER for kind in kinds)
UNKNOWN_RANK = 99  # two digits: KIND_ORDER stays shorter (a test holds it)

# What only the Pulumi provider reads (skipAwait, patchForce, replaceUnready, ...).
PULUMI_ANNOTATION_PREFIX = "pulumi.com/"
# A Secret's `data` values are base64; the placeholder must be too, or the API server (and a
# schema check) refuses the file before anything else is checked.
REDACTED_DATA = base64.b64encode(REDACTED.encode()).decode()
_SECRET_FIELDS = {"data": REDACTED_DATA, "stringData": REDACTED}
_FIRST_KEYS = ("apiVersion", "kind", "metadata")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


class ManifestError(ValueError):
    """The recording cannot be written as manifests (one line; nothing written)."""


class NoObjectsError(ManifestError):
    """The stack declares no Kubernetes object (a Docker stack, say)."""


@dataclass(frozen=True)
class Manifest:
    urn: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    body: dict[str, Any]  # the object as written, Pulumi-only keys gone, secrets redacted
    notes: tuple[str, ...] = ()  # comment lines written above the document


@dataclass(frozen=True)
class Manifests:
    stack: str
    files: dict[str, list[Manifest]]  # relative path -> its objects in file order
    skipped: tuple[Record, ...] = ()  # kubernetes records that are not objects

    def texts(self) -> dict[str, str]:
        """{relative path: multi-document YAML}, files in apply order."""
        return {rel: "".join(_document(m) for m in objects) for rel, objects in
                self.files.items()}

    def __len__(self) -> int:
        return sum(len(objects) for objects in self.files.values())


def kind_key(api_version: str, kind: str) -> str:
    """`Kind.group`, or `Kind` for the core group (`v1`)."""
    group = api_version.rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


def apply_rank(api_version: str, kind: str) -> int:
    """The object's place in the apply order: its kind's index in KIND_ORDER, else
    UNKNOWN_RANK (after everything known)."""
    key = kind_key(api_version, kind)
    return KIND_ORDER.index(key) if key in KIND_ORDER else UNKNOWN_RANK


def is_object(record: Record) -> bool:
    """A plain Kubernetes object (see the module docstring for what is not)."""
    if not record.type.startswith(TYPE_PREFIX) or not record.custom:
        return False
    type_kind = record.type.rsplit(":", 1)[-1]
    if type_kind.endswith(("Patch", "List")):
        return False
    return isinstance(record.inputs.get("apiVersion"), str) and \
        isinstance(record.inputs.get("kind"), str)


def manifest(record: Record) -> Manifest:
    """The object `record` declares, ready to write. Raises ManifestError naming the URN for
    an object a manifest cannot name (no metadata.name: the target always sets one)."""
    inputs = record.inputs
    api_version, kind = str(inputs["apiVersion"]), str(inputs["kind"])
    if not _KIND.fullmatch(kind):
        raise ManifestError(f"{record.urn}: kind {kind!r} is not a Kubernetes kind")
    metadata = inputs.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name or name in (REDACTED, UNKNOWN_SHOWN):
        raise ManifestError(f"{record.urn}: {kind} without metadata.name (got {name!r}); "
                            "every object the target declares must be named")
    namespace = metadata.get("namespace")
    if namespace is not None and (not isinstance(namespace, str)
                                  or not _DNS_LABEL.fullmatch(namespace)):
        raise ManifestError(f"{record.urn}: metadata.namespace {namespace!r} is not a "
                            "namespace name")
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        kept = {k: v for k, v in annotations.items()
                if not str(k).startswith(PULUMI_ANNOTATION_PREFIX)}
        if kept:
            metadata["annotations"] = kept
        else:
            del metadata["annotations"]
    body = {**inputs, "metadata": metadata}
    notes: list[str] = []
    if kind == "Secret" and api_version == "v1":
        for key, placeholder in _SECRET_FIELDS.items():
            if key not in body:
                continue
            if isinstance(body[key], Mapping):
                body[key] = dict.fromkeys(body[key], placeholder)
            else:
                del body[key]
                notes.append(f"{key}: left out; its keys and values were secret "
                             "(redacted by Rampart)")
    return Manifest(urn=record.urn, api_version=api_version, kind=kind, namespace=namespace,
                    name=name, body=body, notes=tuple(notes))


def file_name(rank: int, kind: str, namespace: str | None) -> str:
    suffix = f"-{namespace}" if namespace else ""
    return f"{MANIFESTS_DIR}/{rank:02d}-{kind.lower()}{suffix}.yaml"


def collect(recording: Recording) -> Manifests:
    """Every Kubernetes object of `recording`, grouped into files in apply order.

    Raises NoObjectsError when there is none, ManifestError for an unnamed object or two
    records declaring the same object."""
    skipped = tuple(r for r in recording if r.type.startswith(TYPE_PREFIX) and r.custom
                    and not is_object(r))
    found = [manifest(r) for r in recording if is_object(r)]
    if not found:
        raise NoObjectsError(
            f"stack {recording.stack}: declares no Kubernetes objects, so there are no "
            "manifests to write (they come from stacks with target kubernetes); use "
            "--format resources")
    seen: dict[tuple[str, str | None, str], str] = {}
    for m in found:
        key = (kind_key(m.api_version, m.kind), m.namespace, m.name)
        if key in seen:
            where = f"{m.namespace}/{m.name}" if m.namespace else m.name
            raise ManifestError(f"{m.urn}: declares {m.kind} {where} again (also {seen[key]})")
        seen[key] = m.urn
    groups: dict[str, list[Manifest]] = {}
    for m in found:
        rel = file_name(apply_rank(m.api_version, m.kind), m.kind, m.namespace)
        groups.setdefault(rel, []).append(m)
    files = {rel: sorted(groups[rel], key=lambda m: (m.name, m.api_version, m.urn))
             for rel in sorted(groups)}
    return Manifests(stack=recording.stack, files=files, skipped=skipped)


def manifest_files(recording: Recording) -> dict[str, str]:
    """{relative path under the output directory: YAML text}, in apply order."""
    return collect(recording).texts()


def write_manifests(manifests: Manifests, out: Path, *, force: bool = False) -> list[Path]:
    """Write the files under `out/manifests/` through infra/offline/outdir.py as the `render`
    writer: a re-render (in either format) replaces and removes only the files a previous
    render wrote and nobody changed; anything else in the way is refused unless `force`."""
    return list(outdir.write_files(out, manifests.texts(), writer="render",
                                   force=force).written)


def summary(manifests: Manifests) -> dict[str, list[dict[str, str]]]:
    """Rows for a human summary: objects per kind in apply order, and what was skipped."""
    counts: Counter[tuple[str, str]] = Counter()
    namespaces: dict[tuple[str, str], set[str]] = {}
    for objects in manifests.files.values():
        for m in objects:
            counts[m.api_version, m.kind] += 1
            namespaces.setdefault((m.api_version, m.kind), set()).add(m.namespace or "-")
    ordered = sorted(counts, key=lambda key: (apply_rank(*key), key[1], key[0]))
    kinds = [{"order": f"{apply_rank(api_version, kind):02d}", "kind": kind,
              "apiVersion": api_version, "objects": str(counts[api_version, kind]),
              "namespaces": ",".join(sorted(namespaces[api_version, kind]))}
             for api_version, kind in ordered]
    skipped = [{"type": r.type, "name": r.name, "why": "not a plain Kubernetes object"}
               for r in manifests.skipped]
    return {"kinds": kinds, "skipped": skipped}


def _document(m: Manifest) -> str:
    notes = "".join(f"# {note}\n" for note in m.notes)
    # One key at a time through the render's dumper (sorted keys below the top, literal
    # blocks for multi-line strings): block mappings written one after another at the same
    # indentation read back as one mapping, with the top-level keys in the order given here.
    keys = [*_FIRST_KEYS, *sorted(k for k in m.body if k not in _FIRST_KEYS)]
    return "---\n" + notes + "".join(dump_yaml({k: m.body[k]}) for k in keys if k in m.body)
