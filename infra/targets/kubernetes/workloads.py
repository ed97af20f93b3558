"""Hardened workloads from the model: pod specs under Pod Security "restricted", the
Deployment, StatefulSet or Job around them, their ServiceAccount, Service, disruption budget,
autoscaler and the files (Secrets, ConfigMaps) they mount.

Every figure comes from the `Service` the model built (user, limits, health timings, stop
grace, writable paths); what is added here is Kubernetes mechanics and the few constants
below, each with its reason.

May import: infra.model, infra.targets.shared and this package's objects.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.model.errors import ValidationError
from infra.model.types import HealthCheck, Platform, Service
from infra.targets.kubernetes.objects import labels, metadata, selector
from infra.targets.shared import previous_file, secret_env, under, upload_dirs, user_ids

# PSS restricted allows adding this one capability and no other.
ALLOWED_CAPABILITY = "NET_BIND_SERVICE"
# A pod keeps serving this long after it is marked terminating, so endpoints and the edge stop
# sending it requests before the process gets SIGTERM (zero-downtime rollouts).
PRESTOP_SLEEP_S = 5
# Readiness and startup are probed at most this far apart: the catalog's 30 s health interval
# is a Docker health check's; a rollout should not wait 30 s per pod to see it ready.
FAST_PROBE_S = 10
# Autoscaling target for a service with a replica range.
HPA_CPU_UTILISATION = 70
# Secret and ConfigMap files: owner (root) and the pod's fsGroup read, nobody else.
SECRET_MODE = 0o440
CONFIG_MODE = 0o444
# emptyDir for a writable path of a read-only root: bounded, so a runaway writer is evicted.
EMPTY_DIR_LIMIT = "256Mi"
# Jobs: one retry (like the Docker target's one-shot restart policy "no" plus a deploy retry),
# and a bound on how long one may run.
JOB_BACKOFF_LIMIT = 1
JOB_DEADLINE_S = 900
REVISION_HISTORY = 5


@dataclass(frozen=True)
class Mounted:
    """Files a pod mounts from one Secret or ConfigMap: {container path: key}."""

    source: str  # the Secret or ConfigMap name
    kind: str  # "secret" | "configMap"
    files: Mapping[str, str]


@dataclass
class PodParts:
    """What the platform adds to a service's pod besides the model's own settings."""

    mounted: list[Mounted] = field(default_factory=list)
    extra_args: Sequence[str] = ()
    needs_api: bool = False  # mounts its ServiceAccount token (Traefik: watches the API)
    container_ports: Sequence[tuple[str, int]] = ()  # replaces the service's own ports
    claims: Sequence[tuple[str, str]] = ()  # (claim name, mount path): StatefulSet volumes


def key_of(path: str) -> str:
    """A Secret/ConfigMap key for a file path: the path relative to /, `/` as `.`."""
    return path.strip("/").replace("/", ".")


def file_volumes(mounted: Sequence[Mounted]) -> tuple[list[dict], list[dict]]:
    """(volumes, volumeMounts): one projected volume per directory root, gathering the files
    of every Secret and ConfigMap under it (secrets 0440, configuration 0444)."""
    paths = sorted(p for m in mounted for p in m.files)
    volumes: list[dict] = []
    mounts: list[dict] = []
    for index, root in enumerate(upload_dirs(paths)):
        sources = []
        for m in mounted:
            mode = SECRET_MODE if m.kind == "secret" else CONFIG_MODE
            items = [{"key": key, "path": posixpath.relpath(path, root), "mode": mode}
                     for path, key in sorted(m.files.items()) if under(path, [root])]
            if items:
                sources.append({m.kind: {"name": m.source, "items": items}})
        name = f"files-{index}"
        volumes.append({"name": name, "projected": {"sources": sources,
                                                    "defaultMode": SECRET_MODE}})
        mounts.append({"name": name, "mountPath": root, "readOnly": True})
    return volumes, mounts


def secret_files(svc: Service) -> dict[str, tuple[str, str, bool]]:
    """{container path: (owner service, secret name, previous?)} of a service's secrets."""
    out: dict[str, tuple[str, str, bool]] = {}
    for ref in svc.secrets:
        owner = ref.shared_from or svc.name
        out[ref.file] = (owner, ref.name, False)
        if ref.delivers_previous:
            out[previous_file(ref)] = (owner, ref.name, True)
    return out


def numeric_user(platform: Platform, svc: Service) -> tuple[int, int]:
    """(uid, gid) as numbers, non-root: what runAsNonRoot needs to be checkable."""
    uid, gid = user_ids(svc)
    why = ("the kubernetes target runs every pod under Pod Security 'restricted' "
           "(runAsNonRoot with a numeric uid)")
    if uid is None or gid is None:
        raise ValidationError(platform.source, f"{why}; the image's default user may be root: "
                              "set `user: \"<uid>:<gid>\"` (a non-root user the image works "
                              "with)", service=svc.name, field="user")
    if not (uid.isdigit() and gid.isdigit()):
        raise ValidationError(platform.source, f"{why}; '{svc.security.user}' is a name: "
                              "write the numeric uid:gid", service=svc.name, field="user")
    if int(uid) == 0:
        raise ValidationError(platform.source, f"{why}; uid 0 is root", service=svc.name,
                              field="user")
    return int(uid), int(gid)


def capabilities(platform: Platform, svc: Service) -> dict[str, list[str]]:
    extra = sorted(set(svc.security.cap_add) - {ALLOWED_CAPABILITY})
    if extra:
        raise ValidationError(
            platform.source, f"Pod Security 'restricted' allows adding only "
            f"{ALLOWED_CAPABILITY}; the service adds {', '.join(extra)}", service=svc.name,
            field="cap_add")
    caps: dict[str, list[str]] = {"drop": ["ALL"]}
    if svc.security.cap_add:
        caps["add"] = [ALLOWED_CAPABILITY]
    return caps


def cpu(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def memory(size: float) -> str:
    mib = math.ceil(size / 1024**2)
    return f"{mib}Mi"


def resources(svc: Service) -> dict[str, dict[str, str]]:
    r = svc.resources
    return {"requests": {"cpu": cpu(r.cpu_reservation), "memory": memory(r.memory_reservation)},
            "limits": {"cpu": cpu(r.cpu_limit), "memory": memory(r.memory_limit)}}


def _handler(health: HealthCheck, path: str | None) -> dict[str, Any]:
    if path is not None and health.port is not None:
        return {"httpGet": {"path": path, "port": health.port, "scheme": "HTTP"}}
    command = list(health.command)
    if command[:1] == ["CMD-SHELL"]:
        return {"exec": {"command": ["sh", "-c", " ".join(command[1:])]}}
    if command[:1] == ["CMD"]:
        command = command[1:]
    return {"exec": {"command": command}}


def probes(svc: Service) -> dict[str, Any]:
    """Startup, readiness and liveness from the model's health check: HTTP on the health
    paths where the catalog gives them, else the health command."""
    h = svc.health
    if h is None:
        return {}
    fast = min(h.interval_s, FAST_PROBE_S)
    ready = _handler(h, h.ready_path)
    live = _handler(h, h.live_path or h.ready_path)
    return {
        # Liveness and readiness wait until the service started, within its start period.
        "startupProbe": {**live, "periodSeconds": fast, "timeoutSeconds": h.timeout_s,
                         "failureThreshold": max(1, math.ceil(h.start_period_s / fast))
                         + h.retries},
        "readinessProbe": {**ready, "periodSeconds": fast, "timeoutSeconds": h.timeout_s,
                           "failureThreshold": h.retries},
        "livenessProbe": {**live, "periodSeconds": h.interval_s, "timeoutSeconds": h.timeout_s,
                          "failureThreshold": h.retries},
    }


def ports(svc: Service) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if svc.port is not None:
        out.append(("main", svc.port))
    if svc.metrics_port is not None and svc.metrics_port != svc.port:
        out.append(("metrics", svc.metrics_port))
    if svc.health is not None and svc.health.port is not None \
            and svc.health.port not in {p for _, p in out}:
        out.append(("health", svc.health.port))
    return out


def pod_spec(platform: Platform, svc: Service, parts: PodParts,
             image_pull_policy: str) -> dict[str, Any]:
    uid, gid = numeric_user(platform, svc)
    volumes, mounts = file_volumes(parts.mounted)
    taken = [m["mountPath"] for m in mounts] + [path for _, path in parts.claims]
    for name, path in parts.claims:
        mounts.append({"name": name, "mountPath": path})
    if svc.security.read_only_root:
        for index, path in enumerate(sorted(svc.security.writable_paths)):
            if under(path, taken):
                continue
            volumes.append({"name": f"writable-{index}",
                            "emptyDir": {"sizeLimit": EMPTY_DIR_LIMIT}})
            mounts.append({"name": f"writable-{index}", "mountPath": path})
    env = [{"name": k, "value": v} for k, v in svc.environment]
    env += [{"name": k, "value": v} for k, _, v in
            (e.partition("=") for e in secret_env(svc.secrets))]
    container: dict[str, Any] = {
        "name": svc.name,
        "image": svc.image.ref,
        "imagePullPolicy": image_pull_policy,
        "env": sorted(env, key=lambda e: e["name"]),
        "ports": [{"name": n, "containerPort": p, "protocol": "TCP"}
                  for n, p in (parts.container_ports or ports(svc))],
        "resources": resources(svc),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": svc.security.read_only_root,
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "capabilities": capabilities(platform, svc),
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": sorted(mounts, key=lambda m: m["mountPath"]),
        **probes(svc),
    }
    if svc.entrypoint:
        container["command"] = list(svc.entrypoint)
    args = [*svc.command, *parts.extra_args]
    if args:
        container["args"] = args
    if svc.one_shot is None:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_S}}}
    return {
        "serviceAccountName": svc.name,
        "automountServiceAccountToken": parts.needs_api,
        "enableServiceLinks": False,  # no *_SERVICE_HOST variables leaking the topology
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "fsGroup": gid,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": svc.stop_grace_s + PRESTOP_SLEEP_S,
        "containers": [container],
        "volumes": sorted(volumes, key=lambda v: v["name"]),
        **({"restartPolicy": "Never"} if svc.one_shot else {}),
    }


def spread(platform: Platform, svc: Service) -> list[dict[str, Any]]:
    """Replicas on different nodes (hard) and zones (soft)."""
    match = {"matchLabels": selector(platform, svc.name)}
    return [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
         "whenUnsatisfiable": "DoNotSchedule", "labelSelector": match},
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": match},
    ]


def headless_name(svc: Service) -> str:
    return f"{svc.name}-pods"


def replicated(svc: Service) -> bool:
    return svc.replicas > 1 or svc.max_replicas is not None


def workload(platform: Platform, svc: Service, namespace: str, parts: PodParts, *,
             pull_policy: str, storage_class: str, storage_size: str,
             kind: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """(apiVersion, kind, object) of the service's workload."""
    spec = pod_spec(platform, svc, parts, pull_policy)
    pod_labels = {**selector(platform, svc.name), **labels(platform, svc)}
    template = {"metadata": {"labels": dict(sorted(pod_labels.items()))}, "spec": spec}
    meta = metadata(svc.name, namespace, labels(platform, svc), rampart_annotations(svc))
    if svc.one_shot is not None:
        meta.setdefault("annotations", {})["rampart.io/one-shot"] = svc.one_shot
        return "batch/v1", "Job", {"metadata": meta, "spec": {
            "backoffLimit": JOB_BACKOFF_LIMIT, "activeDeadlineSeconds": JOB_DEADLINE_S,
            "template": template}}
    if replicated(svc):
        spec["topologySpreadConstraints"] = spread(platform, svc)
    kind = kind or ("StatefulSet" if parts.claims else "Deployment")
    body: dict[str, Any] = {
        "selector": {"matchLabels": selector(platform, svc.name)},
        "revisionHistoryLimit": REVISION_HISTORY,
        "template": template,
    }
    if svc.max_replicas is None:
        body["replicas"] = svc.replicas  # with a range, the autoscaler owns the count
    if kind == "Deployment":
        # A new pod is ready before an old one goes: no capacity lost during a rollout.
        body["strategy"] = {"type": "RollingUpdate",
                            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        return "apps/v1", "Deployment", {"metadata": meta, "spec": body}
    body["serviceName"] = headless_name(svc)
    body["podManagementPolicy"] = "OrderedReady"
    body["updateStrategy"] = {"type": "RollingUpdate"}
    body["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain",
                                                    "whenScaled": "Retain"}
    body["volumeClaimTemplates"] = [
        {"metadata": {"name": name, "labels": labels(platform, svc)},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                  "resources": {"requests": {"storage": storage_size}}}}
        for name, _ in parts.claims]
    return "apps/v1", "StatefulSet", {"metadata": meta, "spec": body}


def rampart_annotations(svc: Service) -> dict[str, str]:
    """The model's `rampart.*` labels (the Docker target's container labels: group, exposure,
    stateful, backup, and the catalog's reasons such as writable-root or backup-exempt) as
    `rampart.io/*` annotations: a reason is free text, which a label value cannot hold."""
    return {f"rampart.io/{key.removeprefix('rampart.')}": value
            for key, value in svc.labels if key.startswith("rampart.")}


def service_account(platform: Platform, svc: Service, namespace: str,
                    needs_api: bool) -> dict[str, Any]:
    return {"metadata": metadata(svc.name, namespace, labels(platform, svc)),
            "automountServiceAccountToken": needs_api}


def service(platform: Platform, svc: Service, namespace: str,
            service_ports: Sequence[tuple[str, int, int]],
            pod_selector: Mapping[str, str] | None = None,
            service_type: str = "ClusterIP") -> dict[str, Any]:
    """A Service in front of the pods: (name, port, targetPort) each."""
    return {"metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": {
        "type": service_type,
        "selector": dict(pod_selector or selector(platform, svc.name)),
        "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"}
                  for n, p, t in service_ports]}}


def disruption_budget(platform: Platform, svc: Service, namespace: str) -> dict[str, Any]:
    return {"metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": {
        "maxUnavailable": 1, "selector": {"matchLabels": selector(platform, svc.name)}}}


def autoscaler(platform: Platform, svc: Service, namespace: str, kind: str) -> dict[str, Any]:
    assert svc.max_replicas is not None
    return {"metadata": metadata(svc.name, namespace, labels(platform, svc)), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": svc.name},
        "minReplicas": svc.replicas, "maxReplicas": svc.max_replicas,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": HPA_CPU_UTILISATION}}}]}}
