"""The stack's services, whatever the target: one view for the stack rules."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.core import (
    CONTAINER,
    K8S_STATEFULSET,
    K8S_WORKLOADS,
    Resource,
    docker_labels,
    get,
    is_one_shot,
    service_name,
)


@dataclass(frozen=True)
class Workload:
    resource: Resource
    service: str
    labels: Mapping[str, str]  # Docker labels, or the pod template's labels
    namespace: str | None = None

    @property
    def kubernetes(self) -> bool:
        return self.resource.type.startswith("kubernetes:")


def workloads(resources: Sequence[Resource]) -> Iterator[Workload]:
    for res in resources:
        if res.type == CONTAINER:
            if is_one_shot(res.type, res.props):
                continue  # not a service: it exits once its job is done
            yield Workload(
                res, service_name(res.type, res.props, res.name), docker_labels(res.props)
            )
        elif res.type in K8S_WORKLOADS:
            labels = get(res.props, "spec", "template", "metadata", "labels", default={})
            meta = get(res.props, "metadata", "labels", default={})
            # The catalog's reasons (backup-exempt, writable-root) are free text, which only
            # an annotation can carry: `rampart.io/*` annotations count as Rampart labels.
            notes = get(res.props, "metadata", "annotations", default={})
            rampart_notes = {k: v for k, v in notes.items() if str(k).startswith(
                "rampart.io/")} if isinstance(notes, Mapping) else {}
            merged: dict[str, Any] = {}
            for src in (rampart_notes, meta, labels):
                if isinstance(src, Mapping):
                    merged.update({str(k): str(v) for k, v in src.items()})
            if res.type == K8S_STATEFULSET:
                merged.setdefault("rampart.stateful", "true")
            ns = get(res.props, "metadata", "namespace", default="default")
            yield Workload(
                res,
                service_name(res.type, res.props, res.name),
                merged,
                ns if isinstance(ns, str) else None,
            )


def label(w: Workload, key: str) -> str | None:
    """Rampart labels: `rampart.<key>` on Docker, `rampart.io/<key>` on Kubernetes."""
    return w.labels.get(f"rampart.{key}") or w.labels.get(f"rampart.io/{key}")
