"""prometheus-scrapes-every-service: every service appears in Prometheus' scrape config.

A service counts as scraped when a scrape job is named after it, targets its host name, or
relabels its series with `service: <name>` (an exporter scraping on its behalf, e.g.
postgres-exporter)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    as_list,
    get,
    parse_yaml,
)
from policies.stack.workloads import workloads

MONITORS = (
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    "kubernetes:monitoring.coreos.com/v1:PodMonitor",
)


def scrape_configs(resources: Sequence[Resource]) -> list[Mapping[str, Any]]:
    """`scrape_configs` of every prometheus.yml uploaded into a container."""
    jobs: list[Mapping[str, Any]] = []
    for res in resources:
        if res.type != CONTAINER:
            continue
        for up in as_list(res.props.get("uploads")):
            if not isinstance(up, Mapping) or not str(up.get("file", "")).endswith(
                ("prometheus.yml", "prometheus.yaml")
            ):
                continue
            content = up.get("content")
            if not isinstance(content, str) or content == SECRET:
                continue
            doc = parse_yaml(content)
            if isinstance(doc, Mapping):
                jobs.extend(j for j in as_list(doc.get("scrape_configs")) if isinstance(j, Mapping))
    return jobs


def covered(jobs: Sequence[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for job in jobs:
        names.add(str(job.get("job_name", "")))
        for sc in as_list(job.get("static_configs")):
            for target in as_list(get(sc, "targets")):
                names.add(str(target).split(":", 1)[0])
        for rc in as_list(job.get("relabel_configs")):
            if isinstance(rc, Mapping) and rc.get("target_label") == "service":
                names.add(str(rc.get("replacement")))
    return names


def _k8s_monitored(
    res: Resource, pod_labels: Mapping[str, str], monitors: Sequence[Resource]
) -> bool:
    annotations = get(res.props, "spec", "template", "metadata", "annotations", default={})
    if isinstance(annotations, Mapping) and annotations.get("prometheus.io/scrape") == "true":
        return True
    for mon in monitors:
        wanted = get(mon.props, "spec", "selector", "matchLabels", default={})
        if (
            isinstance(wanted, Mapping)
            and wanted
            and all(pod_labels.get(k) == v for k, v in wanted.items())
        ):
            return True
    return False


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    found = list(workloads(resources))
    if not found:
        return
    monitors = [r for r in resources if r.type in MONITORS]
    jobs = scrape_configs(resources)
    scraped = covered(jobs)
    docker = [w for w in found if not w.kubernetes]
    if docker and not jobs:
        # Blame the Prometheus container when there is one: its config is what is missing.
        prom = next((w for w in docker if w.service == "prometheus"), None)
        yield Finding(
            "the stack deploys no Prometheus scrape configuration (prometheus.yml)",
            urn=prom.resource.urn if prom else None,
            service=prom.service if prom else None,
            field="metrics",
        )
        return
    for w in found:
        if w.kubernetes:
            ok = _k8s_monitored(w.resource, w.labels, monitors)
        else:
            ok = w.service in scraped
        if not ok:
            yield Finding(
                f"service {w.service} is not scraped by Prometheus",
                urn=w.resource.urn,
                service=w.service,
                field="metrics",
            )


RULE = Rule(
    name="prometheus-scrapes-every-service",
    description="Every service is scraped by Prometheus (directly or through its exporter).",
    severity=Severity.MEDIUM,
    remediation="Give the service a `metrics_path` in the catalog, or deploy its exporter "
    "(e.g. postgres-exporter); infra/observability adds the scrape job.",
    check_stack=check,
    tags=("observability", "stack"),
)
