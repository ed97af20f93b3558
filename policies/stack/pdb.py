"""replicated-workloads-have-pdb (Kubernetes): a replicated workload has a disruption budget.

A Deployment or StatefulSet is replicated when `spec.replicas` > 1, or when a
HorizontalPodAutoscaler in its namespace targets it (`scaleTargetRef` kind and name) with
`minReplicas` > 1. Without a PodDisruptionBudget a node drain may evict every replica at once,
which is an outage the replicas were meant to prevent. A budget counts when it is in the
workload's namespace, its selector selects the workload's *pod* labels (the template's, not
the Deployment's own metadata: a selector matching only those selects no pod; an empty
selector selects every pod of the namespace, a missing one none), and it keeps at least one
pod: `minAvailable` of 0 or `0%`, `maxUnavailable` of `100%` or at least the replica count,
or neither field set, protect nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    UNKNOWN,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    describe,
    get,
    k8s_kind,
    k8s_name,
    k8s_namespace,
    pod_labels,
    selects,
    service_name,
)

REPLICATED_KINDS = ("Deployment", "StatefulSet")
_PERCENT = re.compile(r"\s*(\d+)\s*%\s*")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _protects(pdb: Resource, replicas: int) -> bool:
    """Whether the budget keeps at least one of `replicas` pods through a voluntary
    disruption."""
    spec = get(pdb.props, "spec", default={})
    if not isinstance(spec, Mapping):
        return False
    for key, keeps in (("minAvailable", lambda n: n >= 1),
                       ("maxUnavailable", lambda n: n < replicas)):
        value = spec.get(key)
        if value is None:
            continue
        if isinstance(value, str) and (m := _PERCENT.fullmatch(value)):
            percent = int(m.group(1))
            return percent > 0 if key == "minAvailable" else percent < 100
        number = _count(value)
        return number is not None and keeps(number)
    return False  # neither set: the disruption controller allows every eviction


def _replicas(res: Resource, autoscalers: Sequence[Resource]) -> tuple[int, str] | None:
    """(replica count, the field that says so) when the workload is replicated."""
    replicas = get(res.props, "spec", "replicas", default=1)
    if replicas is UNKNOWN:
        return None
    count = _count(replicas)
    if count is not None and count > 1:
        return count, f"spec.replicas: {count}"
    kind, name, ns = k8s_kind(res.type), k8s_name(res), k8s_namespace(res.props)
    for hpa in autoscalers:
        target = get(hpa.props, "spec", "scaleTargetRef", default={})
        if k8s_namespace(hpa.props) != ns or not isinstance(target, Mapping) \
                or target.get("kind") != kind or target.get("name") != name:
            continue
        minimum = _count(get(hpa.props, "spec", "minReplicas", default=1))
        if minimum is not None and minimum > 1:
            return minimum, f"HorizontalPodAutoscaler {k8s_name(hpa)} minReplicas: {minimum}"
    return None


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    pdbs = [r for r in resources if k8s_kind(r.type) == "PodDisruptionBudget"]
    autoscalers = [r for r in resources if k8s_kind(r.type) == "HorizontalPodAutoscaler"]
    for res in resources:
        if k8s_kind(res.type) not in REPLICATED_KINDS:
            continue
        replicated = _replicas(res, autoscalers)
        if replicated is None:
            continue
        count, why = replicated
        ns, labels = k8s_namespace(res.props), pod_labels(res.type, res.props)
        if any(k8s_namespace(p.props) == ns
               and selects(get(p.props, "spec", "selector"), labels) and _protects(p, count)
               for p in pdbs):
            continue
        yield Finding(
            f"{describe(res)} is replicated ({why}) but no PodDisruptionBudget in namespace "
            f"{ns} selects its pods and keeps at least one of them",
            urn=res.urn,
            service=service_name(res.type, res.props, res.name),
            field="replicas",
            subject="PodDisruptionBudget",
        )


RULE = Rule(
    name="replicated-workloads-have-pdb",
    description="Replicated Kubernetes Deployments and StatefulSets (replicas > 1, or an "
    "autoscaler with minReplicas > 1) have a PodDisruptionBudget selecting their pods.",
    severity=Severity.MEDIUM,
    remediation="The Kubernetes target adds a PodDisruptionBudget (maxUnavailable: 1, the "
    "workload's pod selector) for every service with more than one replica or a replica "
    "range.",
    check_stack=check,
    tags=("reliability", "kubernetes", "stack"),
)
