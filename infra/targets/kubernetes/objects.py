"""Declaring Kubernetes objects: one function for every kind, the labels every object carries,
and the API versions of the operators' custom resources in one place.

Objects are written as the manifests they are (camelCase dicts); pulumi-kubernetes sends them
as they are. Built-in kinds use their typed classes (the provider's await logic for rollouts
keys on them); custom resources use `CustomResource`. Both register the type token
`kubernetes:<apiVersion>:<Kind>` that the policy pack and the manifest writer read.

May import: pulumi, pulumi_kubernetes and infra.model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.model.types import Platform, Service

MANAGED_BY = "rampart"
NAME = "app.kubernetes.io/name"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"
MANAGED = "app.kubernetes.io/managed-by"
NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set on every namespace by the API server

# Operators' API versions (the vendored CRDs in tests/k8s/crds are of these releases;
# docs/kubernetes.md lists the versions to install).
TRAEFIK = "traefik.io/v1alpha1"
CERT_MANAGER = "cert-manager.io/v1"
EXTERNAL_SECRETS = "external-secrets.io/v1"
MONITORING = "monitoring.coreos.com/v1"
CNPG = "postgresql.cnpg.io/v1"

_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}
# Keys of a typed object besides apiVersion/kind/metadata, by their Python argument names.
_ARGS = {"spec": "spec", "data": "data", "stringData": "string_data", "type": "type",
         "rules": "rules", "roleRef": "role_ref", "subjects": "subjects",
         "automountServiceAccountToken": "automount_service_account_token"}


def labels(platform: Platform, svc: Service | None = None) -> dict[str, str]:
    out = {PART_OF: platform.name, MANAGED: MANAGED_BY}
    if svc is not None:
        out[NAME] = svc.name
        out[COMPONENT] = svc.group.value
    return out


def selector(platform: Platform, name: str) -> dict[str, str]:
    """The pod labels a workload's selector, Services and policies match."""
    return {NAME: name, PART_OF: platform.name}


def metadata(name: str, namespace: str | None, object_labels: Mapping[str, str],
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(sorted(object_labels.items()))}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


class Declarer:
    """Declares objects under one provider and parent; logical names are unique per
    (kind, namespace, name), so a re-render keeps every URN."""

    def __init__(self, opts: pulumi.ResourceOptions) -> None:
        self.opts = opts
        self.count: dict[str, int] = {}

    def __call__(self, api_version: str, kind: str, body: Mapping[str, Any],
                 depends_on: list[pulumi.Resource] | None = None) -> pulumi.CustomResource:
        meta = body["metadata"]
        logical = "-".join(p for p in (kind.lower(), meta.get("namespace"), meta["name"]) if p)
        opts = pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(
            depends_on=depends_on or []))
        self.count[kind] = self.count.get(kind, 0) + 1
        typed = _TYPED.get((api_version, kind))
        if typed is None:
            extra = sorted(set(body) - {"metadata", "spec"})
            if extra:
                raise ValueError(f"{kind} {meta['name']}: a custom resource carries only "
                                 f"metadata and spec (got {', '.join(extra)})")
            return k8s.apiextensions.CustomResource(
                logical, api_version=api_version, kind=kind, metadata=meta,
                spec=body.get("spec"), opts=opts)
        kwargs = {_ARGS[k]: v for k, v in body.items() if k != "metadata"}
        return typed(logical, metadata=meta, opts=opts, **kwargs)
