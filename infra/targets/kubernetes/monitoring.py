"""Monitoring as the Prometheus Operator runs it: a `Prometheus` and an `Alertmanager` made from
the catalog's services (image, user, limits), a ServiceMonitor per scrape target of the
generated configuration, one PrometheusRule carrying the generated rule files (the same groups
promtool tests), and Grafana's dashboards as ConfigMaps labelled for the dashboard sidecar.

The observability package generates the content; the program hands it over as plain data
(`Monitoring`), so this target never imports it.

May import: infra.model and this package's objects and workloads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.model.types import Platform, Service
from infra.targets.kubernetes.objects import MONITORING, NAME, labels, metadata, selector
from infra.targets.kubernetes.workloads import Mounted, file_volumes, numeric_user, resources

DASHBOARD_LABEL = "grafana_dashboard"  # the Grafana chart's sidecar default
ALERTMANAGER_CONFIG = "alertmanager-config"
RETENTION_FLAG = "--storage.tsdb.retention.time="
DEFAULT_RETENTION = "15d"  # Prometheus's own default

Obj = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class Scrape:
    """One scrape job of the generated configuration, as the cluster reaches it."""

    job: str
    service_label: str  # the `service` label the rules group by
    tier: str
    target: str  # the catalog service scraped
    port: int
    path: str


@dataclass(frozen=True)
class Monitoring:
    scrapes: tuple[Scrape, ...] = ()
    rule_groups: tuple[Mapping[str, Any], ...] = ()  # rule-file `groups`, in file order
    alertmanager_config: str = ""
    grafana_files: Mapping[str, str] = field(default_factory=dict)  # container path: text
    scrape_interval_s: int = 30
    evaluation_interval_s: int = 30


def _port_name(svc: Service, port: int) -> str:
    if port == svc.port:
        return "main"
    return "metrics" if port == svc.metrics_port else "health"


def service_monitors(platform: Platform, monitoring: Monitoring,
                     namespace_of: Callable[[Service], str],
                     deployed: Mapping[str, Service]) -> list[Obj]:
    out: list[Obj] = []
    for s in monitoring.scrapes:
        svc = deployed.get(s.target)
        if svc is None:
            continue  # not run on Kubernetes (node-exporter: the cluster's monitoring)
        ns = namespace_of(svc)
        relabel = [{"action": "replace", "targetLabel": label, "replacement": value}
                   for label, value in (("job", s.job), ("service", s.service_label),
                                        ("tier", s.tier))]
        out.append((MONITORING, "ServiceMonitor", {
            "metadata": metadata(s.job, ns, labels(platform, svc)), "spec": {
                "selector": {"matchLabels": selector(platform, svc.name)},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [{"port": _port_name(svc, s.port), "path": s.path,
                               "interval": f"{monitoring.scrape_interval_s}s",
                               "relabelings": relabel}]}}))
    return out


def pod_monitor(platform: Platform, svc: Service, namespace: str, monitoring: Monitoring,
                pod_labels: Mapping[str, str], port: str, job: str) -> Obj:
    """Pods an operator runs without a Service of ours (CloudNativePG's instances): scraped on
    their exporter's port with the same job/service/tier labels, `backup` naming the
    database the backup alerts are about."""
    relabel = [{"action": "replace", "targetLabel": label, "replacement": value}
               for label, value in (("job", job), ("service", svc.name),
                                    ("tier", svc.group.value), ("backup", svc.name))]
    return (MONITORING, "PodMonitor", {
        "metadata": metadata(job, namespace, labels(platform, svc)), "spec": {
            "selector": {"matchLabels": dict(pod_labels)},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [{"port": port, "path": "/metrics",
                                     "interval": f"{monitoring.scrape_interval_s}s",
                                     "relabelings": relabel}]}})


def prometheus_rule(platform: Platform, monitoring: Monitoring, namespace: str) -> Obj:
    groups = [g for g in monitoring.rule_groups]
    return (MONITORING, "PrometheusRule", {
        "metadata": metadata(f"{platform.name}-rules", namespace, labels(platform)),
        "spec": {"groups": groups}})


def _pod_security(platform: Platform, svc: Service) -> dict[str, Any]:
    uid, gid = numeric_user(platform, svc)
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _retention(svc: Service) -> str:
    for arg in svc.command:
        if arg.startswith(RETENTION_FLAG):
            return arg[len(RETENTION_FLAG):]
    return DEFAULT_RETENTION


def prometheus(platform: Platform, svc: Service, namespace: str, monitoring: Monitoring,
               storage_class: str, storage_size: str, alertmanager_namespace: str,
               pull_policy: str) -> Obj:
    part_of = {"matchLabels": {"app.kubernetes.io/part-of": platform.name}}
    return (MONITORING, "Prometheus", {
        "metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": {
            "image": svc.image.ref, "imagePullPolicy": pull_policy, "replicas": svc.replicas,
            "serviceAccountName": svc.name, "automountServiceAccountToken": True,
            "podMetadata": {"labels": {**selector(platform, svc.name),
                                       **labels(platform, svc)}},
            "serviceMonitorSelector": part_of, "serviceMonitorNamespaceSelector": part_of,
            "podMonitorSelector": part_of, "podMonitorNamespaceSelector": part_of,
            "ruleSelector": part_of, "ruleNamespaceSelector": part_of,
            "scrapeInterval": f"{monitoring.scrape_interval_s}s",
            "evaluationInterval": f"{monitoring.evaluation_interval_s}s",
            "retention": _retention(svc),
            "resources": resources(svc),
            "securityContext": _pod_security(platform, svc),
            "alerting": {"alertmanagers": [{"namespace": alertmanager_namespace,
                                            "name": "alertmanager", "port": "main",
                                            "apiVersion": "v2"}]},
            "storage": {"volumeClaimTemplate": {"spec": {
                "storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": storage_size}}}}}}})


def alertmanager(platform: Platform, svc: Service, namespace: str, mounted: Sequence[Mounted],
                 storage_class: str, storage_size: str, pull_policy: str) -> list[Obj]:
    """The Alertmanager and the Secret holding its generated configuration (no values: the
    receivers' credentials are files from the ExternalSecret, mounted where the
    configuration names them)."""
    volumes, mounts = file_volumes(mounted)
    spec: dict[str, Any] = {
        "image": svc.image.ref, "imagePullPolicy": pull_policy, "replicas": svc.replicas,
        "serviceAccountName": svc.name, "automountServiceAccountToken": False,
        "podMetadata": {"labels": {**selector(platform, svc.name), **labels(platform, svc)}},
        "configSecret": ALERTMANAGER_CONFIG,
        "resources": resources(svc),
        "securityContext": _pod_security(platform, svc),
        "storage": {"volumeClaimTemplate": {"spec": {
            "storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage_size}}}}}}
    if volumes:
        spec["volumes"] = volumes
        spec["volumeMounts"] = mounts
    return [(MONITORING, "Alertmanager", {
        "metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": spec})]


def alertmanager_config_secret(platform: Platform, svc: Service, namespace: str,
                               config: str) -> Obj:
    return ("v1", "Secret", {
        "metadata": metadata(ALERTMANAGER_CONFIG, namespace, labels(platform, svc)),
        "type": "Opaque", "stringData": {"alertmanager.yaml": config}})


def operator_pod_labels(platform: Platform, svc: Service) -> dict[str, str]:
    """The labels the Prometheus and Alertmanager pods carry (podMetadata): the usual
    selector, so Services and NetworkPolicies treat them like any workload."""
    return {NAME: svc.name, **selector(platform, svc.name)}
