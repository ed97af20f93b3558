"""prometheus-scrapes-every-service: every service appears in Prometheus' scrape config.

A service counts as scraped when a scrape job is named after it, targets its host name, or
relabels its series with `service: <name>` (an exporter scraping on its behalf, e.g.
postgres-exporter).

A batch job (a backup) has nothing to scrape between runs; Prometheus' own advice for such
jobs is node_exporter's textfile collector. On Docker such a job counts as scraped when it
mounts, writable, a volume that a scraped container mounts at the directory it passes to
`--collector.textfile.directory`: the job's series then arrive with node_exporter's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    UNKNOWN,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    as_list,
    get,
    parse_yaml,
)
from policies.stack.workloads import Workload, workloads

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


TEXTFILE_FLAG = "--collector.textfile.directory"


def _textfile_dirs(props: Mapping[str, Any]) -> list[str]:
    """Directories a node_exporter container reads with its textfile collector."""
    args = [str(a) for a in as_list(props.get("command"))]
    dirs = []
    for i, arg in enumerate(args):
        if arg.startswith(TEXTFILE_FLAG + "="):
            dirs.append(arg.split("=", 1)[1])
        elif arg == TEXTFILE_FLAG and i + 1 < len(args):
            dirs.append(args[i + 1])
    return [d.rstrip("/") or "/" for d in dirs if d]


def _named_volumes(props: Mapping[str, Any]) -> Iterator[tuple[Any, str, bool]]:
    """(volume name, container path, read-only) of every named volume a container mounts;
    the name is UNKNOWN while a preview has not resolved it."""
    for v in as_list(props.get("volumes")):
        name = v.get("volumeName") if isinstance(v, Mapping) else None
        if isinstance(name, str) or name is UNKNOWN:
            yield name, str(v.get("containerPath", "")), v.get("readOnly") is True
    for m in as_list(props.get("mounts")):
        name = m.get("source") if isinstance(m, Mapping) else None
        if m.get("type") == "volume" and (isinstance(name, str) or name is UNKNOWN):
            yield name, str(m.get("target", "")), m.get("readOnly") is True


def textfile_writers(found: Sequence[Workload], scraped: set[str]) -> dict[str, str]:
    """{service: the scraped exporter that exports what it writes} for Docker services that
    write into a textfile-collector directory."""
    readers: dict[str, str] = {}  # volume name -> reading exporter's service
    for w in found:
        if w.kubernetes or w.service not in scraped:
            continue
        dirs = _textfile_dirs(w.resource.props)
        for volume, path, _ in _named_volumes(w.resource.props):
            if path.rstrip("/") in dirs:
                readers[volume] = w.service
    writers: dict[str, str] = {}
    for w in found:
        if w.kubernetes:
            continue
        for volume, _, read_only in _named_volumes(w.resource.props):
            if read_only:
                continue
            if volume is UNKNOWN and readers:
                # A value a preview does not know yet is never judged (docs/policies.md).
                writers[w.service] = "(not known yet)"
                continue
            reader = readers.get(volume)
            if reader is not None and reader != w.service:
                writers[w.service] = reader
    return writers


def monitored_services(monitors: Sequence[Resource]) -> set[str]:
    """Services a ServiceMonitor/PodMonitor scrapes on another's behalf: an exporter's
    endpoints relabelled `service: <name>` (postgres-exporter for postgres), as in a file."""
    names: set[str] = set()
    for mon in monitors:
        endpoints = [*as_list(get(mon.props, "spec", "endpoints")),
                     *as_list(get(mon.props, "spec", "podMetricsEndpoints"))]
        for endpoint in endpoints:
            for rc in as_list(get(endpoint, "relabelings")):
                if (isinstance(rc, Mapping) and rc.get("targetLabel") == "service"
                        and isinstance(rc.get("replacement"), str)):
                    names.add(rc["replacement"])
    return names


def _selectors(monitors: Sequence[Resource]) -> list[frozenset[tuple[str, str]]]:
    """Each monitor's `spec.selector.matchLabels` as a set of pairs (an empty one selects
    nothing here: a monitor must name what it scrapes)."""
    found = []
    for mon in monitors:
        wanted = get(mon.props, "spec", "selector", "matchLabels", default={})
        if isinstance(wanted, Mapping) and wanted:
            found.append(frozenset((str(k), str(v)) for k, v in wanted.items()))
    return found


def _k8s_monitored(
    res: Resource, pod_labels: Mapping[str, str], selectors: Sequence[frozenset[tuple[str, str]]]
) -> bool:
    annotations = get(res.props, "spec", "template", "metadata", "annotations", default={})
    if isinstance(annotations, Mapping) and annotations.get("prometheus.io/scrape") == "true":
        return True
    labels = {(str(k), str(v)) for k, v in pod_labels.items()}
    return any(selector <= labels for selector in selectors)


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    found = list(workloads(resources))
    if not found:
        return
    monitors = [r for r in resources if r.type in MONITORS]
    jobs = scrape_configs(resources)
    scraped = covered(jobs)
    scraped |= set(textfile_writers(found, scraped))
    docker = [w for w in found if not w.kubernetes]
    if docker and not jobs:
        # Blame the Prometheus container when there is one: its config is what is missing.
        prom = next((w for w in docker if w.service == "prometheus"), None)
        yield Finding(
            "the stack deploys no Prometheus scrape configuration (prometheus.yml)",
            urn=prom.resource.urn if prom else None,
            service=prom.service if prom else None,
            field="metrics",
            subject="prometheus.yml",
        )
        return
    on_behalf = monitored_services(monitors)
    selectors = _selectors(monitors)
    for w in found:
        if w.kubernetes:
            ok = _k8s_monitored(w.resource, w.labels, selectors) or w.service in on_behalf
        else:
            ok = w.service in scraped
        if not ok:
            yield Finding(
                f"service {w.service} is not scraped by Prometheus",
                urn=w.resource.urn,
                service=w.service,
                field="metrics",
                subject="metrics",
            )


RULE = Rule(
    name="prometheus-scrapes-every-service",
    description="Every service is scraped by Prometheus (directly or through its exporter).",
    severity=Severity.MEDIUM,
    remediation="Give the service `metrics` in the catalog, or deploy its exporter (e.g. "
    "postgres-exporter); infra/observability adds the scrape job. A batch job writes its "
    "metrics into a volume node-exporter reads with `--collector.textfile.directory`.",
    check_stack=check,
    tags=("observability", "docker", "kubernetes", "stack"),
)
