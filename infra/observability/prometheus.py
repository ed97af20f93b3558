"""prometheus.yml from the model: what to scrape, and which labels every series gets.

`scrape_targets` is the target-neutral part (a Kubernetes target maps each ScrapeTarget to
a ServiceMonitor); `prometheus_config` renders it for a Prometheus reached by service name
(Docker network DNS) plus the hosts' node exporters.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.types import Platform
from infra.observability.rules import RuleFile
from infra.observability.settings import Settings, format_duration

HOST_TIER = "host"  # tier of series describing a machine rather than a service

# Exporters that speak for a data store which has no /metrics of its own. Their series
# carry the data store's name as `service` so dashboards and alerts say "postgres".
EXPORTED = ("postgres", "redis", "kafka", "elasticsearch")
# Where to scrape an exporter the catalog does not deploy itself (an exporter run next to
# the data store by other means), by data store: the setting holding its address.
EXPORTER_ADDRESS_SETTING = {
    "postgres": "postgres_exporter_address",
    "redis": "redis_exporter_address",
}


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    service: str  # value of the `service` label on every series of this job
    tier: str  # value of the `tier` label
    addresses: tuple[str, ...]
    metrics_path: str = "/metrics"


def scrape_targets(platform: Platform, settings: Settings) -> list[ScrapeTarget]:
    targets: list[ScrapeTarget] = [
        ScrapeTarget("prometheus", "prometheus", "platform", (settings.prometheus_address,)),
        ScrapeTarget("alertmanager", "alertmanager", "platform", (settings.alertmanager_address,)),
    ]
    if not settings.scrape_services:
        # Bare hosts: catalog services are not reachable by name there, and a job per
        # service would only add targets that are always down.
        edge = [ScrapeTarget("traefik", "traefik", "platform", settings.edge_targets)]
        return targets + (edge if settings.edge_targets else []) + _node_targets(settings)
    names = {s.name for s in platform.services}
    for svc in sorted(platform.services, key=lambda s: s.name):
        if svc.name in ("prometheus", "alertmanager"):
            continue  # scraped above, at the addresses Prometheus itself is configured with
        if svc.name == "traefik" and not svc.metrics_path:
            continue  # Traefik's metrics live on its internal entrypoint, added below
        if svc.metrics_path:
            port = svc.metrics_port or svc.port
            if port is None:
                continue
            service, tier = svc.name, svc.group.value
            subject = svc.name.removesuffix("-exporter")
            if subject in EXPORTED and subject in names:
                service, tier = subject, platform.service(subject).group.value
            elif svc.name == "node-exporter":
                tier = HOST_TIER
            targets.append(
                ScrapeTarget(svc.name, service, tier, (f"{svc.name}:{port}",), svc.metrics_path)
            )
    if "traefik" not in {t.job for t in targets}:
        targets.append(
            ScrapeTarget("traefik", "traefik", "platform", (settings.traefik_metrics_address,))
        )
    for store, setting in EXPORTER_ADDRESS_SETTING.items():
        exporter = f"{store}-exporter"
        if store in names and exporter not in names:
            group = platform.service(store).group.value
            targets.append(ScrapeTarget(exporter, store, group, (getattr(settings, setting),)))
    return targets + _node_targets(settings)


def _node_targets(settings: Settings) -> list[ScrapeTarget]:
    if not settings.node_targets:
        return []
    return [ScrapeTarget("node", "node-exporter", HOST_TIER, settings.node_targets)]


def _job(target: ScrapeTarget) -> dict:
    return {
        "job_name": target.job,
        "metrics_path": target.metrics_path,
        "static_configs": [{"targets": list(target.addresses)}],
        # Relabelling (not static labels) so the same two rules carry over to any
        # service-discovery mechanism a later target uses.
        "relabel_configs": [
            {"target_label": "service", "replacement": target.service, "action": "replace"},
            {"target_label": "tier", "replacement": target.tier, "action": "replace"},
        ],
    }


def prometheus_config(platform: Platform, settings: Settings, rule_files: list[RuleFile]) -> dict:
    return {
        "global": {
            "scrape_interval": format_duration(settings.scrape_interval),
            "scrape_timeout": format_duration(min(10, settings.scrape_interval)),
            "evaluation_interval": format_duration(settings.evaluation_interval),
            "external_labels": {"platform": platform.name},
        },
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [settings.alertmanager_address]}]}]
        },
        # Relative to prometheus.yml, so the directory can be mounted anywhere.
        "rule_files": [f.path for f in rule_files],
        "scrape_configs": [_job(t) for t in scrape_targets(platform, settings)],
    }
