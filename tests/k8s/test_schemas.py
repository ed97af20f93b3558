"""The schema validators can fail: valid objects pass, and each kind of mistake is refused with
the path of the offending field; the vendored CRDs are upstream's bytes and compile."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .schemas import (
    CRDS,
    _crds,
    _strict,
    _validator,
    crd_versions,
    is_builtin,
    sources_table,
    validate,
    validate_custom,
    validate_official,
    vendored_kinds,
)

pytestmark = pytest.mark.unit

LABELS = {"app.kubernetes.io/name": "orders", "app.kubernetes.io/part-of": "erp",
          "app.kubernetes.io/managed-by": "rampart", "app.kubernetes.io/component": "business"}
SELECTOR = {"app.kubernetes.io/name": "orders", "app.kubernetes.io/part-of": "erp"}


def meta(name: str, namespace: str | None = "erp-business") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace:
        out["namespace"] = namespace
    return out


def deployment() -> dict[str, Any]:
    hardened = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("orders"),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(SELECTOR)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": "orders",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                        "runAsGroup": 10001, "fsGroup": 10001,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "orders",
                        "image": "registry.example.test/erp/orders@sha256:" + "a" * 64,
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": "http"}},
                        "livenessProbe": {"httpGet": {"path": "/health/live", "port": 8080}},
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                      "requests": {"cpu": "500m", "memory": "512Mi"}},
                        "securityContext": hardened,
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def ingress_route() -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
        "metadata": meta("orders", "erp-edge"),
        "spec": {
            "entryPoints": ["websecure"],
            "routes": [{
                "kind": "Rule", "match": "Host(`erp.example.test`) && PathPrefix(`/orders`)",
                "middlewares": [{"name": "security-headers", "namespace": "erp-edge"}],
                "services": [{"name": "orders", "namespace": "erp-business", "port": 8080}],
            }],
            "tls": {"secretName": "erp-tls", "options": {"name": "modern",
                                                          "namespace": "erp-edge"}},
        },
    }


def middleware() -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
        "metadata": meta("security-headers", "erp-edge"),
        "spec": {"headers": {"frameDeny": True, "contentTypeNosniff": True,
                             "stsSeconds": 31536000, "stsIncludeSubdomains": True,
                             "referrerPolicy": "no-referrer",
                             "accessControlAllowOriginList": ["https://erp.example.test"],
                             "customResponseHeaders": {"Server": ""}}},
    }


def rate_limit() -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
        "metadata": meta("rate-limit", "erp-edge"),
        "spec": {"rateLimit": {"average": 100, "burst": 50, "period": "1s"}},
    }


def plugin_middleware() -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware",
        "metadata": meta("geoblock", "erp-edge"),
        "spec": {"plugin": {"geoblock": {"allowedCountries": ["DE"], "cache": {"size": 10}}}},
    }


def certificate() -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": meta("erp-tls", "erp-edge"),
        "spec": {"secretName": "erp-tls", "dnsNames": ["erp.example.test"],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer",
                               "group": "cert-manager.io"},
                 "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                 "duration": "2160h", "renewBefore": "360h"},
    }


def cluster_issuer() -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
        "metadata": meta("letsencrypt", None),
        "spec": {"acme": {
            "server": "https://acme-v02.api.letsencrypt.org/directory",
            "email": "ops@example.test",
            "privateKeySecretRef": {"name": "letsencrypt-account"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "traefik"}}},
                        {"dns01": {"webhook": {"groupName": "acme.example.test",
                                               "solverName": "example",
                                               "config": {"any": {"shape": [1, "two"]}}}}}],
        }},
    }


def secret_store() -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
        "metadata": meta("vault"),
        "spec": {"provider": {"vault": {
            "server": "https://openbao.erp-infra.svc:8200", "path": "secret", "version": "v2",
            "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
            # mountPath is required but defaulted ("kubernetes"): the server fills it in.
            "auth": {"kubernetes": {"role": "orders",
                                    "serviceAccountRef": {"name": "orders"}}},
        }}},
    }


def external_secret() -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": meta("orders"),
        "spec": {"refreshInterval": "1h",
                 "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
                 "target": {"name": "orders", "creationPolicy": "Owner"},
                 "data": [{"secretKey": "db-password",
                           "remoteRef": {"key": "erp/orders", "property": "db-password"}}]},
    }


def service_monitor() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": meta("orders"),
        "spec": {"selector": {"matchLabels": dict(SELECTOR)},
                 "namespaceSelector": {"matchNames": ["erp-business"]},
                 "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                "scheme": "http", "targetPort": 9090}]},
    }


def prometheus_rule() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": meta("erp-rules", "erp-platform"),
        "spec": {"groups": [{"name": "erp", "rules": [{
            "alert": "ServiceDown", "expr": "up == 0", "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "down", "description": "a target is down"}}]}]},
    }


def cnpg_cluster() -> dict[str, Any]:
    secret = {"name": "erp-db-backup"}
    return {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": meta("erp-db", "erp-infra"),
        "spec": {
            "instances": 3,
            "imageName": "ghcr.io/cloudnative-pg/postgresql:17.5",
            "storage": {"size": "20Gi", "storageClass": "standard"},
            "postgresql": {"parameters": {"archive_timeout": "300s"}},
            "backup": {"retentionPolicy": "7d", "barmanObjectStore": {
                "destinationPath": "s3://erp-backups/db",
                "endpointURL": "https://minio.erp-infra.svc:9000",
                "s3Credentials": {"accessKeyId": {**secret, "key": "ACCESS_KEY_ID"},
                                  "secretAccessKey": {**secret, "key": "ACCESS_SECRET_KEY"}},
                "wal": {"compression": "gzip"}}},
        },
    }


def scheduled_backup() -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
        "metadata": meta("erp-db-6h", "erp-infra"),
        "spec": {"schedule": "0 0 */6 * * *", "cluster": {"name": "erp-db"},
                 "backupOwnerReference": "self", "method": "barmanObjectStore"},
    }


VALID_CUSTOM: dict[str, Callable[[], dict[str, Any]]] = {
    "IngressRoute": ingress_route, "Middleware": middleware, "Middleware-rateLimit": rate_limit,
    "Middleware-plugin": plugin_middleware, "Certificate": certificate,
    "ClusterIssuer": cluster_issuer, "SecretStore": secret_store,
    "ExternalSecret": external_secret, "ServiceMonitor": service_monitor,
    "PrometheusRule": prometheus_rule, "Cluster": cnpg_cluster,
    "ScheduledBackup": scheduled_backup,
}


def mutate(make: Callable[[], dict[str, Any]], path: str, value: object) -> dict[str, Any]:
    """A fresh object with `value` set at dotted `path` (list indexes as numbers); the value
    DELETE removes the field instead."""
    obj = make()
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = obj
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


DELETE = object()


# ---------------------------------------------------------------------------------------------
# Built-in kinds


def test_a_hardened_deployment_is_valid():
    assert validate_official(deployment()) == []
    assert validate(deployment()) == []


DEPLOYMENT_MISTAKES = [
    # (case, dotted path to change, new value or DELETE, error path, words in the message)
    ("unknown field", "spec.template.spec.containers.0.securityContext.privilegedd", False,
     "spec.template.spec.containers[0].securityContext.privilegedd", "unknown field"),
    ("unknown top-level field", "specc", {}, "specc", "unknown field"),
    ("wrong type", "spec.replicas", "2", "spec.replicas", "expected integer"),
    ("wrong type nested", "spec.template.spec.securityContext.runAsNonRoot", "yes",
     "spec.template.spec.securityContext.runAsNonRoot", "expected boolean"),
    ("missing required", "spec.template.spec.containers.0.name", DELETE,
     "spec.template.spec.containers[0].name", "required field missing"),
    ("missing selector", "spec.selector", DELETE, "spec.selector", "required field missing"),
    ("int-or-string as float", "spec.strategy.rollingUpdate.maxSurge", 1.5,
     "spec.strategy.rollingUpdate.maxSurge", "none of the allowed forms"),
    ("int-or-string as list", "spec.template.spec.containers.0.readinessProbe.httpGet.port",
     ["http"], "spec.template.spec.containers[0].readinessProbe.httpGet.port",
     "none of the allowed forms"),
]


@pytest.mark.parametrize(("case", "path", "value", "where", "words"), DEPLOYMENT_MISTAKES,
                         ids=[m[0] for m in DEPLOYMENT_MISTAKES])
def test_deployment_mistakes_are_refused_naming_the_path(case, path, value, where, words):
    errors = validate_official(mutate(deployment, path, value))
    assert len(errors) == 1, f"{case}: {errors}"
    assert errors[0].startswith(f"Deployment/orders: {where}: "), errors
    assert words in errors[0], errors


@pytest.mark.parametrize("value", [0, 1, "25%", "1"])
def test_official_int_or_string_takes_either(value):
    obj = mutate(deployment, "spec.strategy.rollingUpdate.maxSurge", value)
    assert validate_official(obj) == []


def test_an_unknown_built_in_kind_is_an_error_naming_it():
    obj = {**deployment(), "kind": "Deploymnet"}
    assert validate(obj) == [
        "Deploymnet/orders: apiVersion: Kubernetes 1.31 serves no kind 'Deploymnet' in apps/v1"]


def test_a_built_in_kind_in_a_group_version_kubernetes_dropped_is_an_error():
    obj = {**deployment(), "apiVersion": "extensions/v1beta1"}
    (error,) = validate_official(obj)
    assert "serves no kind 'Deployment' in extensions/v1beta1" in error


def test_a_kind_of_a_newer_kubernetes_is_unknown_to_an_older_one():
    # VolumeAttributesClass became storage.k8s.io/v1 in Kubernetes 1.34.
    obj = {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttributesClass",
           "metadata": {"name": "fast"}, "driverName": "csi.example.test"}
    assert validate_official(obj, "1.34") == []
    (error,) = validate_official(obj, "1.31")
    assert "Kubernetes 1.31 serves no kind 'VolumeAttributesClass'" in error


def test_custom_resources_are_not_for_the_official_schema():
    with pytest.raises(ValueError, match="not a built-in API group"):
        validate_official(ingress_route())
    with pytest.raises(ValueError, match="built-in API group"):
        validate_custom(deployment())


def test_a_group_that_merely_looks_built_in_is_custom():
    # The library maps apps.example.test/v1 to the apps-v1 schemas; the group decides here.
    obj = {**deployment(), "apiVersion": "apps.example.test/v1"}
    assert not is_builtin(obj)
    assert validate(obj) == ["Deployment/orders: kind: no vendored CRD for kind 'Deployment' "
                             "of apps.example.test (no vendored CRD has that group)"]


def test_an_unshipped_kubernetes_version_is_refused():
    with pytest.raises(ValueError, match="ships no schemas for Kubernetes 1.19"):
        validate_official(deployment(), "1.19")


# ---------------------------------------------------------------------------------------------
# Custom resources


@pytest.mark.parametrize("name", VALID_CUSTOM)
def test_valid_custom_resources_pass(name):
    obj = VALID_CUSTOM[name]()
    assert validate_custom(obj) == []
    assert validate(obj) == []


CUSTOM_MISTAKES = [
    # (kind, make, dotted path, value or DELETE, error path, words)
    ("IngressRoute", ingress_route, "spec.routes.0.servicess", [], "spec.routes[0].servicess",
     "unknown field"),
    ("IngressRoute", ingress_route, "spec.routes.0.priority", "high", "spec.routes[0].priority",
     "expected integer, got string"),
    ("IngressRoute", ingress_route, "spec.routes.0.match", DELETE, "spec.routes[0].match",
     "required field missing"),
    ("Middleware", middleware, "spec.headers.frameDenied", True, "spec.headers.frameDenied",
     "unknown field"),
    ("Middleware", middleware, "spec.headers.stsSeconds", "1y", "spec.headers.stsSeconds",
     "expected integer, got string"),
    ("Middleware", rate_limit, "spec.rateLimit.average", -1, "spec.rateLimit.average",
     "minimum"),
    ("Certificate", certificate, "spec.issuerRef.namespace", "x", "spec.issuerRef.namespace",
     "unknown field"),
    ("Certificate", certificate, "spec.dnsNames", "erp.example.test", "spec.dnsNames",
     "expected array, got string"),
    ("Certificate", certificate, "spec.secretName", DELETE, "spec.secretName",
     "required field missing"),
    ("Certificate", certificate, "spec.privateKey.algorithm", "DSA", "spec.privateKey.algorithm",
     "is not one of"),
    ("ExternalSecret", external_secret, "spec.data.0.remoteRef.path", "x",
     "spec.data[0].remoteRef.path", "unknown field"),
    ("ExternalSecret", external_secret, "spec.refreshInterval", 3600, "spec.refreshInterval",
     "expected string, got integer"),
    ("ExternalSecret", external_secret, "spec.data.0.remoteRef.key", DELETE,
     "spec.data[0].remoteRef.key", "required field missing"),
    ("ServiceMonitor", service_monitor, "spec.endpoints.0.metricsPath", "/m",
     "spec.endpoints[0].metricsPath", "unknown field"),
    ("ServiceMonitor", service_monitor, "spec.endpoints.0.honorLabels", "true",
     "spec.endpoints[0].honorLabels", "expected boolean, got string"),
    ("ServiceMonitor", service_monitor, "spec.selector", DELETE, "spec.selector",
     "required field missing"),
    ("Cluster", cnpg_cluster, "spec.backup.retention", "7d", "spec.backup.retention",
     "unknown field"),
    ("Cluster", cnpg_cluster, "spec.instances", "3", "spec.instances",
     "expected integer, got string"),
    ("Cluster", cnpg_cluster, "spec.backup.barmanObjectStore.destinationPath", DELETE,
     "spec.backup.barmanObjectStore.destinationPath", "required field missing"),
    ("Cluster", cnpg_cluster, "spec.failoverDelay", 2**31, "spec.failoverDelay",
     "is not a 'int32'"),
    ("SecretStore", secret_store, "spec.provider.vault.caBundle", "not base64!",
     "spec.provider.vault.caBundle", "is not a 'byte'"),
    ("ScheduledBackup", scheduled_backup, "spec.schedule", DELETE, "spec.schedule",
     "required field missing"),
]


@pytest.mark.parametrize(("kind", "make", "path", "value", "where", "words"), CUSTOM_MISTAKES,
                         ids=[f"{m[0]}:{m[2]}" for m in CUSTOM_MISTAKES])
def test_custom_resource_mistakes_are_refused_naming_the_path(kind, make, path, value, where,
                                                              words):
    obj = mutate(make, path, value)
    errors = validate(obj)
    name = obj["metadata"]["name"]
    assert any(e.startswith(f"{kind}/{name}: {where}: ") and words in e for e in errors), errors
    assert len(errors) == 1, errors


def test_every_error_of_a_custom_resource_is_reported():
    obj = external_secret()
    obj["spec"]["refreshIntervall"] = "1h"
    obj["spec"]["target"]["immutable"] = "no"
    del obj["spec"]["data"][0]["secretKey"]
    assert validate_custom(obj) == [
        "ExternalSecret/orders: spec.data[0].secretKey: required field missing",
        "ExternalSecret/orders: spec.refreshIntervall: unknown field (the API server would "
        "prune it)",
        "ExternalSecret/orders: spec.target.immutable: expected boolean, got string \"no\"",
    ]


@pytest.mark.parametrize("port", [8080, "http", "8080"])
def test_custom_int_or_string_takes_either(port):
    assert validate(mutate(ingress_route, "spec.routes.0.services.0.port", port)) == []
    assert validate(mutate(rate_limit, "spec.rateLimit.period", port)) == []


@pytest.mark.parametrize("port", [80.5, True, ["http"], {"number": 80}])
def test_custom_int_or_string_refuses_anything_else(port):
    errors = validate(mutate(ingress_route, "spec.routes.0.services.0.port", port))
    assert errors == ["IngressRoute/orders: spec.routes[0].services[0].port: expected integer "
                      f"or string, got {_json_name(port)} {_json(port)}"]


def _json_name(value: object) -> str:
    return {float: "number", bool: "boolean", list: "array", dict: "object"}[type(value)]


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def test_int_or_string_keeps_its_pattern_for_strings():
    obj = rate_limit()
    obj["spec"]["rateLimit"]["redis"] = {"endpoints": ["redis:6379"], "dialTimeout": "5 s"}
    (error,) = validate(obj)
    assert error.startswith("Middleware/rate-limit: spec.rateLimit.redis.dialTimeout: ")
    assert "does not match" in error
    obj["spec"]["rateLimit"]["redis"]["dialTimeout"] = 5
    assert validate(obj) == []


def test_fields_that_preserve_unknown_fields_take_anything():
    obj = plugin_middleware()
    obj["spec"]["plugin"]["geoblock"]["whatever"] = {"deeply": [{"nested": True}]}
    assert validate(obj) == []
    issuer = cluster_issuer()
    issuer["spec"]["acme"]["solvers"][1]["dns01"]["webhook"]["config"] = ["a", 1, None]
    assert validate(issuer) == []
    issuer["spec"]["acme"]["solvers"][1]["dns01"]["webhook"]["configs"] = {}
    assert validate(issuer) == [
        "ClusterIssuer/letsencrypt: spec.acme.solvers[1].dns01.webhook.configs: unknown field "
        "(the API server would prune it)"]


def test_a_required_field_with_a_default_may_be_left_out():
    # CNPG marks spec.instances required with default 1: the API server defaults it first.
    obj = mutate(cnpg_cluster, "spec.instances", DELETE)
    assert validate(obj) == []
    # ... but a required field without a default may not (ScheduledBackup's cluster).
    assert validate(mutate(scheduled_backup, "spec.cluster", DELETE)) == [
        "ScheduledBackup/erp-db-6h: spec.cluster: required field missing"]


def test_metadata_needs_only_a_name():
    obj = certificate()
    obj["metadata"]["annotations"] = {"example.test/anything": "goes"}
    assert validate(obj) == []
    del obj["metadata"]["name"]
    assert validate(obj) == ["Certificate/<no name>: metadata.name: required field missing"]
    obj["metadata"] = "erp-tls"
    assert validate(obj) == ["Certificate/<no name>: metadata: expected object, got string "
                             "\"erp-tls\""]


def test_embedded_object_meta_without_a_schema_is_pruned_so_refused():
    # CNPG's ephemeral volume claim template declares its metadata as a bare object: the API
    # server prunes whatever is put there, so labels set there would silently vanish.
    obj = cnpg_cluster()
    obj["spec"]["ephemeralVolumeSource"] = {"volumeClaimTemplate": {
        "metadata": {"labels": {"a": "b"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }}
    assert validate(obj) == [
        "Cluster/erp-db: spec.ephemeralVolumeSource.volumeClaimTemplate.metadata.labels: "
        "unknown field (the API server would prune it)"]


def test_null_is_refused_unless_the_schema_says_nullable():
    obj = external_secret()
    obj["status"] = {"refreshTime": None}  # nullable: true in the CRD
    assert validate(obj) == []
    obj["status"] = {"refreshTime": "2026-12-05T10:00:00Z"}
    assert validate(obj) == []
    obj["status"] = {"refreshTime": "yesterday"}
    assert validate(obj) == [
        "ExternalSecret/orders: status.refreshTime: \"yesterday\" is not a 'date-time'"]
    obj["status"] = {}
    obj["spec"]["refreshInterval"] = None
    assert validate(obj) == [
        "ExternalSecret/orders: spec.refreshInterval: null for a field that is not nullable "
        "(the API server would prune it)"]
    # Pruned before validation, a null required field is also a missing one.
    obj["spec"]["refreshInterval"] = "1h"
    obj["spec"]["data"][0]["secretKey"] = None
    assert validate(obj) == [
        "ExternalSecret/orders: spec.data[0].secretKey: null for a field that is not nullable "
        "(the API server would prune it)",
        "ExternalSecret/orders: spec.data[0].secretKey: required field missing"]
    # A null list item is not pruned, only refused.
    obj["spec"]["data"] = [None]
    assert validate(obj) == [
        "ExternalSecret/orders: spec.data[0]: expected object, got null null"]


@pytest.mark.parametrize(("api_version", "kind", "words"), [
    ("traefik.io/v1alpha1", "IngressRouteHTTP",
     "kind: no vendored CRD for kind 'IngressRouteHTTP' of traefik.io (it has IngressRoute, "
     "Middleware, ServersTransport, TLSOption, TLSStore, TraefikService)"),
    ("example.test/v1", "Widget",
     "kind: no vendored CRD for kind 'Widget' of example.test (no vendored CRD has that group)"),
    ("traefik.containo.us/v1alpha1", "IngressRoute",
     "kind: no vendored CRD for kind 'IngressRoute' of traefik.containo.us (no vendored CRD "
     "has that group)"),
    ("external-secrets.io/v1beta1", "ExternalSecret",
     "apiVersion: external-secrets.io/v1beta1 is not served for ExternalSecret in "
     "external-secrets v2.9.0 (served: external-secrets.io/v1)"),
    ("traefik.io/v1", "IngressRoute",
     "apiVersion: traefik.io/v1 does not exist for IngressRoute in traefik v41.3.0 "
     "(served: traefik.io/v1alpha1)"),
])
def test_unknown_api_versions_and_kinds_are_errors_naming_them(api_version, kind, words):
    obj = {**external_secret(), "apiVersion": api_version, "kind": kind}
    (error,) = validate(obj)
    assert error == f"{kind}/orders: {words}"


def test_an_object_without_api_version_is_refused():
    with pytest.raises(ValueError, match="apiVersion must be a non-empty string"):
        validate({"kind": "Deployment", "metadata": {"name": "x"}})


# ---------------------------------------------------------------------------------------------
# Property: unknown fields anywhere are refused, except where the schema preserves them


def _served_schema(obj: dict[str, Any]) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    _, crd = _crds()[(group, obj["kind"])]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return served["schema"]["openAPIV3Schema"]


def _object_nodes(instance: Any, schema: dict[str, Any],
                  path: tuple[object, ...] = ()) -> Iterator[tuple[tuple[object, ...], bool]]:
    """(path, preserves unknown fields) of every mapping in `instance` whose upstream schema
    declares fields or preserves unknown ones (maps of arbitrary keys are left out), read from
    the CRD as upstream wrote it, not from the validator's strict copy."""
    if path == ("metadata",):
        return  # the root metadata is checked only for its name, by design
    if isinstance(instance, dict):
        preserves = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        if preserves or "properties" in schema:
            yield path, preserves
        for key, value in instance.items():
            if key in schema.get("properties", {}):
                yield from _object_nodes(value, schema["properties"][key], (*path, key))
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from _object_nodes(value, schema["additionalProperties"], (*path, key))
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(instance):
            yield from _object_nodes(value, schema["items"], (*path, index))


def _dotted(path: tuple[object, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=2),
    max_leaves=4)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_injected_unknown_field_is_refused_unless_preserved(data):
    obj = data.draw(st.sampled_from(sorted(VALID_CUSTOM)).map(lambda name: VALID_CUSTOM[name]()))
    schema = _served_schema(obj)
    nodes = list(_object_nodes(obj, schema))
    path, preserves = data.draw(st.sampled_from(nodes))
    node: Any = obj
    for part in path:
        node = node[part]
    declared = set(_node_schema(schema, path).get("properties", {}))
    key = data.draw(st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,11}", fullmatch=True)
                    .filter(lambda k: k not in declared and k not in node))
    node[key] = data.draw(JSON)
    errors = validate(obj)
    if preserves:
        assert errors == [], f"{_dotted(path)} preserves unknown fields: {errors}"
    else:
        name = obj["metadata"]["name"]
        assert errors == [f"{obj['kind']}/{name}: {_dotted((*path, key)) or key}: unknown field "
                          "(the API server would prune it)"]


def _node_schema(schema: dict[str, Any], path: tuple[object, ...]) -> dict[str, Any]:
    for part in path:
        if isinstance(part, int):
            schema = schema["items"]
        elif part in schema.get("properties", {}):
            schema = schema["properties"][part]
        else:
            schema = schema["additionalProperties"]
    return schema


def test_the_property_reaches_both_kinds_of_node():
    """The samples hold nodes that preserve unknown fields and nodes that do not, so the
    property above exercises both branches."""
    kinds = {preserves for make in VALID_CUSTOM.values()
             for _, preserves in _object_nodes(make(), _served_schema(make()))}
    assert kinds == {True, False}


# ---------------------------------------------------------------------------------------------
# The vendored CRDs


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def test_vendored_files_are_upstream_bytes_and_all_listed():
    files = {row["File"]: row["Upstream git blob"] for row in sources_table("Files")}
    on_disk = {str(p.relative_to(CRDS)) for p in CRDS.rglob("*") if p.is_file()}
    assert on_disk - {"SOURCES.md"} == set(files)
    for name, blob in files.items():
        assert _git_blob((CRDS / name).read_bytes()) == blob, f"{name} differs from upstream"


def test_every_operator_directory_has_a_release_and_a_licence():
    directories = {p.name for p in CRDS.iterdir() if p.is_dir()}
    assert set(crd_versions()) == directories
    for row in sources_table("Releases"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", row["Release"]), row
        assert re.fullmatch(r"[0-9a-f]{40}", row["Commit"]), row
        assert row["Licence"] == "Apache-2.0", row
        assert "Apache License" in (CRDS / row["Operator"] / "LICENSE").read_text()


def test_the_api_versions_table_matches_the_crds():
    table = {(row["Operator"], row["Kind"]): (row["Served"], row["Storage"],
                                               row["Defined, not served"])
             for row in sources_table("API versions")}
    vendored = {(operator, kind): (", ".join(v["served"]), ", ".join(v["storage"]),
                                   ", ".join(v["unserved"]))
                for operator, kinds in vendored_kinds().items() for kind, v in kinds.items()}
    assert table == vendored


def test_the_kinds_the_target_renders_are_vendored():
    kinds = {kind for kinds in vendored_kinds().values() for kind in kinds}
    assert kinds >= {"IngressRoute", "Middleware", "TLSOption", "TLSStore", "ServersTransport",
                     "Certificate", "ClusterIssuer", "Issuer", "SecretStore",
                     "ClusterSecretStore", "ExternalSecret", "ServiceMonitor", "PodMonitor",
                     "PrometheusRule", "Prometheus", "Alertmanager", "Cluster",
                     "ScheduledBackup", "Backup"}


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


SERVED = sorted((group, v["name"], kind)
                for (group, kind), (_, crd) in _crds().items()
                for v in crd["spec"]["versions"] if v["served"])


@pytest.mark.parametrize(("group", "version", "kind"), SERVED,
                         ids=[f"{g}/{v}:{k}" for g, v, k in SERVED])
def test_every_served_schema_compiles(group, version, kind):
    validator = _validator(group, version, kind)  # check_schema runs inside
    for pattern in _patterns(validator.schema):
        re.compile(pattern)  # Go's RE2 syntax must mean the same to Python here
    # Every declared object is closed, unless upstream preserves its unknown fields.
    open_objects = [path for path, node in _schema_nodes(validator.schema)
                    if node.get("type") == "object" and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")
                    and path != ("properties", "metadata")]
    assert open_objects == []


def _schema_nodes(node: dict[str, Any], path: tuple[str, ...] = ()
                  ) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _schema_nodes(sub, (*path, "properties", name))
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _schema_nodes(node[key], (*path, key))


def test_strict_copy_leaves_the_loaded_crd_untouched():
    _, crd = _crds()[("traefik.io", "Middleware")]
    before = copy.deepcopy(crd)
    _strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    assert crd == before


def test_pruning_comes_before_validation():
    # SecretStore's provider allows one property (maxProperties: 1). A stray field beside it is
    # pruned by the API server before that count, so it is one error, not two.
    obj = secret_store()
    obj["spec"]["provider"]["vaultt"] = {}
    assert validate(obj) == [
        "SecretStore/vault: spec.provider.vaultt: unknown field (the API server would prune it)"]
    # Two declared providers are still too many.
    obj["spec"]["provider"] = {**secret_store()["spec"]["provider"],
                               "fake": {"data": [{"key": "a", "value": "b"}]}}
    (error,) = validate(obj)
    assert error.startswith("SecretStore/vault: spec.provider: ")
    assert "too many properties" in error


@pytest.mark.parametrize(("strategy", "valid"), [("abort", True), ("WARN", True), ("", True),
                                                  ("stop", False)])
def test_go_inline_flags_keep_their_meaning(strategy, valid):
    # Upstream writes `^(?i)(abort|warn)?$`, which Python's re refuses as written.
    obj = prometheus_rule()
    obj["spec"]["groups"][0]["partial_response_strategy"] = strategy
    errors = validate(obj)
    assert errors == ([] if valid else [
        "PrometheusRule/erp-rules: spec.groups[0].partial_response_strategy: \"stop\" does not "
        "match '(?i)^(abort|warn)?$'"])
