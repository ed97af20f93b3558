"""replicated-workloads-have-pdb (advisory): replicated workloads have a PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from policies.core import (
    K8S_DEPLOYMENT,
    K8S_PDB,
    K8S_STATEFULSET,
    Context,
    Finding,
    Level,
    Resource,
    Rule,
    Severity,
    get,
)
from policies.stack.workloads import workloads


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    pdbs = [r for r in resources if r.type == K8S_PDB]
    for w in workloads(resources):
        if w.resource.type not in (K8S_DEPLOYMENT, K8S_STATEFULSET):
            continue
        replicas = get(w.resource.props, "spec", "replicas", default=1)
        if not isinstance(replicas, int | float) or replicas <= 1:
            continue
        covered = False
        for pdb in pdbs:
            if get(pdb.props, "metadata", "namespace", default="default") != (
                w.namespace or "default"
            ):
                continue
            wanted = get(pdb.props, "spec", "selector", "matchLabels", default={})
            if (
                isinstance(wanted, Mapping)
                and wanted
                and all(w.labels.get(k) == v for k, v in wanted.items())
            ):
                covered = True
                break
        if not covered:
            yield Finding(
                f"{w.service} runs {int(replicas)} replicas without a PodDisruptionBudget",
                urn=w.resource.urn,
                service=w.service,
                field="replicas",
                subject="PodDisruptionBudget",
            )


RULE = Rule(
    name="replicated-workloads-have-pdb",
    description="Replicated Kubernetes workloads have a PodDisruptionBudget.",
    severity=Severity.LOW,
    remediation="The Kubernetes target adds a PodDisruptionBudget (maxUnavailable: 1) for "
    "services with replicas > 1.",
    level=Level.ADVISORY,
    check_stack=check,
    tags=("reliability", "kubernetes", "stack"),
)
