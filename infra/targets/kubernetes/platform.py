"""The platform on a cluster: every object the Kubernetes target declares, in one component.

Order of decisions: which catalog services run here (all but the stack's `omit` list; the
backup job is replaced by the database operator's backups), their namespaces, the edges
between them, then per namespace its policies and budgets, per service its workload. Every
refusal (a root image, a host path, an edge to a service not run here, a volume two services
share) is raised before the first object is declared.

May import: infra.model, infra.edge, infra.secrets (the provider protocol) and this package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.edge import traefik
from infra.model import defaults as d
from infra.model.errors import ValidationError
from infra.model.types import Platform, Service
from infra.secrets.provider import SecretsProvider
from infra.targets.kubernetes import edge as edge_
from infra.targets.kubernetes import monitoring as mon
from infra.targets.kubernetes import network as net
from infra.targets.kubernetes import postgres as pg
from infra.targets.kubernetes import secrets as eso
from infra.targets.kubernetes import workloads as wl
from infra.targets.kubernetes.objects import (
    EXTERNAL_SECRETS,
    Declarer,
    labels,
    metadata,
    selector,
)
from infra.targets.kubernetes.settings import KubernetesSettings, service_namespaces

PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
# Pods the operators add beside ours, counted in each namespace's quota: the Prometheus and
# Alertmanager config reloaders, and cert-manager's HTTP-01 solver (its defaults).
SIDECAR_CPU, SIDECAR_MEMORY = 0.1, 128 * 1024**2
SOLVER_CPU, SOLVER_MEMORY = 0.1, 64 * 1024**2
RECEIVER_PORTS = (25, 443, 465, 587)  # Alertmanager's webhooks and mail
# Never the cluster's own networks (RFC 1918, the CGNAT range some CNIs use for pods) or the
# link-local range of cloud metadata endpoints.
PRIVATE_RANGES = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12",
                  "192.168.0.0/16")
ANYWHERE = "0.0.0.0/0"
CNPG_OPERATOR_LABELS = (("app.kubernetes.io/name", "cloudnative-pg"),)
SOLVER_LABELS = (("acme.cert-manager.io/http01-solver", "true"),)
SOLVER_PORT = 8089
EDGE_PORTS = (("web", 80, "web"), ("websecure", 443, "websecure"))  # Service port -> pod port


@dataclass(frozen=True)
class KubernetesInputs:
    """What the program hands the target besides the model: the stack's block, Vault as
    pods reach it, generated files, monitoring content and the backup plan."""

    stack: str
    settings: KubernetesSettings
    vault_server: str
    vault_mount: str
    # {service: {container path: content}} (Grafana's files, the repository init's script)
    config_files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # {service: {container path: secret name}} (Alertmanager's receiver credentials)
    secret_files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    monitoring: mon.Monitoring = field(default_factory=mon.Monitoring)
    backup: pg.BackupPlan | None = None
    backup_job: str | None = None  # the catalog's backup job the operator replaces
    database: str | None = None  # the PostgreSQL service it backs up
    stack_source: str = "<stack>"  # the stack file, for errors about its settings
    vault_ca: str | None = None  # PEM of the CA that signs Vault's certificate


@dataclass
class Plan:
    """Decisions made before anything is declared."""

    deployed: dict[str, Service]
    namespace: dict[str, str]
    peers: dict[str, net.Peer]
    edges: list[net.Edge]
    externals: list[net.External]
    namespaces: list[str] = field(default_factory=list)  # those the deployed services use

    def __post_init__(self) -> None:
        self.namespaces = sorted({self.namespace[s] for s in self.deployed})


def _fail(platform: Platform, svc: str, field_: str, message: str) -> ValidationError:
    return ValidationError(platform.source, message, service=svc, field=field_)


def plan(platform: Platform, inputs: KubernetesInputs) -> Plan:
    settings = inputs.settings
    omitted = dict(settings.omit)
    names = {s.name for s in platform.services}
    for name in omitted:
        if name not in names:
            raise ValidationError(inputs.stack_source,
                                  f"omits '{name}', which the catalog does not have",
                                  field=f"rampart:kubernetes.omit.{name}")
    replaced = {inputs.backup_job} if inputs.backup_job else set()
    deployed = {s.name: s for s in platform.services
                if s.name not in omitted and s.name not in replaced}
    if traefik.SERVICE in deployed:
        deployed[traefik.SERVICE] = edge_.proxy_service(platform)
    namespaces = service_namespaces(settings, platform)
    # Refusals first.
    if platform.edge.ip_strategy_depth > 0 and traefik.SERVICE in deployed:
        raise ValidationError(
            inputs.stack_source,
            "ipStrategyDepth must be 0 on the kubernetes target: Traefik's Service keeps the "
            "client's address (externalTrafficPolicy Local), and trusting X-Forwarded-For "
            "from the cluster's ranges would let any client choose its own address (the admin "
            "allowlist and the rate limits)", field="rampart:ipStrategyDepth")
    owners: dict[str, str] = {}
    for svc in sorted(deployed.values(), key=lambda s: s.name):
        if svc.name != inputs.database:
            wl.numeric_user(platform, svc)
            wl.capabilities(platform, svc)
        for v in svc.volumes:
            if v.host_path is not None:
                raise _fail(platform, svc.name, "volumes",
                            f"host path '{v.host_path}' (volume '{v.name}'): Pod Security "
                            "'restricted' allows no host paths; run the service elsewhere "
                            "and list it in rampart:kubernetes.omit with the reason")
            if v.name in owners and owners[v.name] != svc.name:
                raise _fail(platform, svc.name, "volumes",
                            f"volume '{v.name}' is also mounted by '{owners[v.name]}': a "
                            "ReadWriteOnce claim belongs to one workload on Kubernetes")
            owners[v.name] = svc.name
        for dep in svc.depends_on:
            if dep not in deployed and dep not in replaced:
                raise _fail(platform, svc.name, "depends_on",
                            f"'{dep}' is not run on the kubernetes target "
                            f"(rampart:kubernetes.omit: {omitted.get(dep, 'omitted')}); a "
                            "service cannot depend on a service on another target")
    peers: dict[str, net.Peer] = {}
    for svc in deployed.values():
        pod_labels = pg.pod_selector(svc) if svc.name == inputs.database \
            else selector(platform, svc.name)
        peers[svc.name] = net.Peer(namespaces[svc.name], svc.name,
                                   tuple(sorted(pod_labels.items())))
    edges: list[net.Edge] = []
    externals: list[net.External] = []
    for svc in deployed.values():
        for dep in svc.depends_on:
            server = deployed.get(dep)
            if server is None or dep in svc.completed_dependencies:
                continue
            if server.port is not None:
                edges.append(net.Edge(peers[svc.name], peers[dep], server.port, "depends_on"))
    proxy = deployed.get(traefik.SERVICE)
    if proxy is not None:
        for r in traefik.routers(platform):
            if not r.internal and r.service.name in deployed and r.service.port is not None:
                edges.append(net.Edge(peers[proxy.name], peers[r.service.name],
                                      r.service.port, "route"))
        externals.append(net.External(peers[proxy.name], (ANYWHERE,), (),
                                      (edge_.WEB_PORT, edge_.WEBSECURE_PORT),
                                      "clients reach the edge", direction="ingress"))
        externals.append(net.External(peers[proxy.name], settings.api_server_cidrs, (),
                                      net.API_SERVER_PORTS, "watches its CRDs"))
        if platform.edge.tls_mode == "acme":
            for ns in sorted({namespaces[r.service.name] for r in traefik.routers(platform)}):
                solver = net.Peer(ns, "acme-http01-solver", SOLVER_LABELS)
                edges.append(net.Edge(peers[proxy.name], solver, SOLVER_PORT, "acme"))
    prom = deployed.get(PROMETHEUS)
    if prom is not None:
        for s in inputs.monitoring.scrapes:
            if s.target in deployed and s.target != PROMETHEUS:
                edges.append(net.Edge(peers[prom.name], peers[s.target], s.port, "scrape"))
        if ALERTMANAGER in deployed and deployed[ALERTMANAGER].port is not None:
            edges.append(net.Edge(peers[prom.name], peers[ALERTMANAGER],
                                  deployed[ALERTMANAGER].port or 0, "alerting"))
        externals.append(net.External(peers[prom.name], settings.api_server_cidrs, (),
                                      net.API_SERVER_PORTS, "discovers its targets"))
    if ALERTMANAGER in deployed:
        externals.append(net.External(peers[ALERTMANAGER], (ANYWHERE,), PRIVATE_RANGES,
                                      RECEIVER_PORTS, "notifies receivers"))
    if inputs.database in deployed and inputs.backup is not None:
        db = peers[inputs.database]
        operator = net.Peer(settings.cnpg_namespace, "cnpg-operator", CNPG_OPERATOR_LABELS)
        edges.append(net.Edge(operator, db, pg.STATUS_PORT, "operator"))
        edges.append(net.Edge(db, db, 5432, "replication"))
        store = _store_service(inputs.backup.endpoint, deployed)
        if store is not None and store.port is not None:
            edges.append(net.Edge(db, peers[store.name], store.port, "backups"))
        externals.append(net.External(db, settings.api_server_cidrs, (),
                                      net.API_SERVER_PORTS, "instance manager"))
        if prom is not None:
            edges.append(net.Edge(peers[prom.name], db, pg.METRICS_PORT, "scrape"))
    return Plan(deployed=deployed, namespace=namespaces, peers=peers, edges=edges,
                externals=externals)


def _store_service(endpoint: str, deployed: Mapping[str, Service]) -> Service | None:
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return deployed.get(host)


def _pods(svc: Service) -> int:
    return svc.max_replicas or svc.replicas


def quotas(platform: Platform, p: Plan, inputs: KubernetesInputs) -> list[tuple[str, str, dict]]:
    """ResourceQuota and LimitRange per namespace, from the services' own figures: every
    pod at its ceiling, one surge pod (a rollout) and the operators' sidecars."""
    out: list[tuple[str, str, dict]] = []
    storage_gi = _gibibytes(inputs.settings.storage_size)
    for ns in p.namespaces:
        members = [s for s in p.deployed.values() if p.namespace[s.name] == ns]
        req_cpu = req_mem = lim_cpu = lim_mem = 0.0
        pods = claims = 0
        for s in members:
            n = _pods(s)
            req_cpu += n * s.resources.cpu_reservation
            req_mem += n * s.resources.memory_reservation
            lim_cpu += n * s.resources.cpu_limit
            lim_mem += n * s.resources.memory_limit
            pods += n
            if s.name in (PROMETHEUS, ALERTMANAGER):
                req_cpu += n * SIDECAR_CPU
                lim_cpu += n * SIDECAR_CPU
                req_mem += n * SIDECAR_MEMORY
                lim_mem += n * SIDECAR_MEMORY
            claims += n * len([v for v in s.volumes if v.host_path is None]) \
                if s.name not in (PROMETHEUS, ALERTMANAGER, inputs.database) else n
        largest = max(members, key=lambda s: (s.resources.cpu_limit, s.resources.memory_limit))
        pods += 1
        req_cpu += largest.resources.cpu_reservation
        lim_cpu += largest.resources.cpu_limit
        req_mem += largest.resources.memory_reservation
        lim_mem += largest.resources.memory_limit
        if platform.edge.tls_mode == "acme":
            pods += 1
            req_cpu += SOLVER_CPU
            lim_cpu += SOLVER_CPU
            req_mem += SOLVER_MEMORY
            lim_mem += SOLVER_MEMORY
        edge_here = traefik.SERVICE in p.deployed and p.namespace[traefik.SERVICE] == ns
        balancers = 1 if edge_here else 0
        # A LoadBalancer Service allocates a node port per port (80, 443).
        node_ports = len(EDGE_PORTS) if edge_here else 0
        out.append(("v1", "ResourceQuota", {
            "metadata": metadata("budget", ns, labels(platform)), "spec": {"hard": {
                "requests.cpu": wl.cpu(req_cpu), "requests.memory": wl.memory(req_mem),
                "limits.cpu": wl.cpu(lim_cpu), "limits.memory": wl.memory(lim_mem),
                "pods": str(pods), "persistentvolumeclaims": str(claims),
                "requests.storage": f"{claims * storage_gi}Gi",
                "services.loadbalancers": str(balancers),
                "services.nodeports": str(node_ports)}}}))
        max_cpu = max([d.CPU_LIMIT, *(s.resources.cpu_limit for s in members)])
        max_mem = max([d.MEMORY_LIMIT, *(s.resources.memory_limit for s in members)])
        out.append(("v1", "LimitRange", {
            "metadata": metadata("defaults", ns, labels(platform)), "spec": {"limits": [{
                "type": "Container",
                "default": {"cpu": wl.cpu(d.CPU_LIMIT), "memory": wl.memory(d.MEMORY_LIMIT)},
                "defaultRequest": {"cpu": wl.cpu(d.CPU_RESERVATION),
                                   "memory": wl.memory(d.MEMORY_RESERVATION)},
                "max": {"cpu": wl.cpu(max_cpu), "memory": wl.memory(max_mem)}}]}}))
    return out


def _gibibytes(size: str) -> int:
    number = int(size[:-2])
    return {"Mi": max(1, math.ceil(number / 1024)), "Gi": number, "Ti": number * 1024}[size[-2:]]


class KubernetesPlatform(pulumi.ComponentResource):
    """The whole platform on one cluster."""

    def __init__(self, name: str, platform: Platform, secrets: SecretsProvider,
                 inputs: KubernetesInputs, p: Plan,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rampart:kubernetes:Platform", name, None, opts)
        settings = inputs.settings
        provider = k8s.Provider(f"{name}-cluster", context=settings.context,
                                kubeconfig=settings.kubeconfig,
                                enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self))
        declare = Declarer(pulumi.ResourceOptions(parent=self, provider=provider))
        objs = objects(platform, secrets, inputs, p)
        by_name: dict[tuple[str, str | None, str], pulumi.Resource] = {}
        for api, kind, body in objs:
            after = [by_name[k] for k in _after(kind, body, by_name)]
            by_name[(kind, body["metadata"].get("namespace"), body["metadata"]["name"])] = \
                declare(api, kind, body, depends_on=after)
        self.counts = dict(sorted(declare.count.items()))
        self.register_outputs({"objects": self.counts})



def _after(kind: str, body: Mapping[str, Any],
           known: Mapping[tuple[str, str | None, str], pulumi.Resource]) -> list:
    """Objects that must exist first: its namespace; for a workload, its one-shot jobs
    (pulumi-kubernetes waits for a Job to complete)."""
    ns = body["metadata"].get("namespace")
    keys: list[tuple[str, str | None, str]] = []
    if ns is not None and ("Namespace", None, ns) in known:
        keys.append(("Namespace", None, ns))
    for job in body["metadata"].get("annotations", {}).get("rampart.io/after-jobs", "").split():
        job_ns, _, job_name = job.partition("/")
        if ("Job", job_ns, job_name) in known:
            keys.append(("Job", job_ns, job_name))
    return keys


def objects(platform: Platform, secrets: SecretsProvider, inputs: KubernetesInputs,
            p: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    """Every object, as (apiVersion, kind, body), namespaces first."""
    settings = inputs.settings
    out: list[tuple[str, str, dict[str, Any]]] = []
    namespaces = p.namespaces
    for ns in namespaces:
        out.append(("v1", "Namespace", {"metadata": metadata(ns, None, {
            **labels(platform),
            **{f"pod-security.kubernetes.io/{mode}": "restricted"
               for mode in ("enforce", "audit", "warn")},
            **{f"pod-security.kubernetes.io/{mode}-version": settings.pss_version
               for mode in ("enforce", "audit", "warn")}})}))
    out += quotas(platform, p, inputs)
    own = set(namespaces)
    edges = [e for e in p.edges]
    out += [("networking.k8s.io/v1", "NetworkPolicy", body)
            for body in net.policies(platform, namespaces, edges, p.externals, own=own)]
    service_names = {p.peers[n]: n for n in p.deployed}
    out += [("v1", "Service", body)
            for body in net.aliases(platform, edges, service_names, own=own)]
    if traefik.SERVICE in p.deployed:
        out += edge_.edge_objects(platform, lambda s: p.namespace[s.name],
                                  settings.ingress_class)
    for svc in sorted(p.deployed.values(), key=lambda s: s.name):
        out += _service_objects(platform, secrets, inputs, p, svc)
    prom_ns = p.namespace.get(PROMETHEUS)
    if prom_ns is not None:
        out += mon.service_monitors(platform, inputs.monitoring, lambda s: p.namespace[s.name],
                                    p.deployed)
        out.append(mon.prometheus_rule(platform, inputs.monitoring, prom_ns))
    return out


def _pull_policy(svc: Service) -> str:
    # By digest the image cannot change under the same reference; by tag it can.
    return "IfNotPresent" if svc.image.digest else "Always"


def _config_mounts(platform: Platform, svc: Service, ns: str,
                   files: Mapping[str, str]) -> tuple[list[wl.Mounted], list[tuple]]:
    """ConfigMaps for a service's generated files; Grafana dashboards (*.json) each in their
    own ConfigMap labelled for the dashboard sidecar."""
    if not files:
        return [], []
    plain = {path: text for path, text in files.items() if not path.endswith(".json")}
    boards = {path: text for path, text in files.items() if path.endswith(".json")}
    mounted: list[wl.Mounted] = []
    objs: list[tuple] = []
    if plain:
        name = f"{svc.name}-config"
        objs.append(("v1", "ConfigMap", {"metadata": metadata(name, ns, labels(platform, svc)),
                                         "data": {wl.key_of(k): v for k, v in
                                                  sorted(plain.items())}}))
        mounted.append(wl.Mounted(name, "configMap", {k: wl.key_of(k) for k in plain}))
    for path, text in sorted(boards.items()):
        stem = path.rsplit("/", 1)[-1].removesuffix(".json").lower().replace("_", "-")
        name = f"{svc.name}-dashboard-{stem}"
        objs.append(("v1", "ConfigMap", {
            "metadata": metadata(name, ns, {**labels(platform, svc),
                                            mon.DASHBOARD_LABEL: "1"}),
            "data": {wl.key_of(path): text}}))
        mounted.append(wl.Mounted(name, "configMap", {path: wl.key_of(path)}))
    return mounted, objs


def _service_objects(platform: Platform, secrets: SecretsProvider, inputs: KubernetesInputs,
                     p: Plan, svc: Service) -> list[tuple[str, str, dict[str, Any]]]:
    settings = inputs.settings
    ns = p.namespace[svc.name]
    out: list[tuple[str, str, dict[str, Any]]] = []
    if svc.name == inputs.database and inputs.backup is not None:
        return _database(platform, secrets, inputs, p, svc)
    is_proxy = svc.name == traefik.SERVICE
    needs_api = is_proxy or svc.name == PROMETHEUS
    out.append(("v1", "ServiceAccount", wl.service_account(platform, svc, ns, needs_api)))
    mounted: list[wl.Mounted] = []
    files = dict(wl.secret_files(svc))
    for path, secret in sorted(inputs.secret_files.get(svc.name, {}).items()):
        files[path] = (svc.name, secret, False)
    if is_proxy:
        files = {}  # Traefik reads the admin users from the admin-auth Secret (its middleware)
        htpasswd = edge_.htpasswd_secret_name(platform)
        out.append(_store(platform, svc, ns, inputs))
        out.append((EXTERNAL_SECRETS, "ExternalSecret", eso.external_secret(
            platform, svc, ns, inputs.stack, settings, secrets,
            files={"users": (svc.name, htpasswd, False)}, name=edge_.ADMIN_AUTH_SECRET)))
    if files:
        out.append(_store(platform, svc, ns, inputs))
        out.append((EXTERNAL_SECRETS, "ExternalSecret", eso.external_secret(
            platform, svc, ns, inputs.stack, settings, secrets, files=files)))
        mounted.append(wl.Mounted(eso.secret_name(svc), "secret",
                                  {path: wl.key_of(path) for path in files}))
    config = dict(inputs.config_files.get(svc.name, {}))
    watched = edge_.routed_namespaces(platform, lambda s: p.namespace[s.name]) if is_proxy \
        else p.namespaces
    if is_proxy:
        config = {edge_.STATIC_FILE: edge_.static_config(platform, settings.ingress_class,
                                                         watched)}
    if svc.name == ALERTMANAGER:
        out.append(mon.alertmanager_config_secret(platform, svc, ns,
                                                  inputs.monitoring.alertmanager_config))
        config = {}
    config_mounted, config_objs = _config_mounts(platform, svc, ns, config)
    out += config_objs
    mounted += config_mounted
    if needs_api:
        out += _rbac(platform, svc, ns, watched,
                     edge_.rbac_rules() if is_proxy else _discovery_rules())
    if svc.name == PROMETHEUS:
        out.append(mon.prometheus(platform, svc, ns, inputs.monitoring, settings.storage_class,
                                  settings.storage_size, p.namespace.get(ALERTMANAGER, ns),
                                  _pull_policy(svc)))
    elif svc.name == ALERTMANAGER:
        out += mon.alertmanager(platform, svc, ns, mounted, settings.storage_class,
                                settings.storage_size, _pull_policy(svc))
    else:
        claims = [] if is_proxy else [
            (v.name, v.path) for v in svc.volumes if v.host_path is None]
        parts = wl.PodParts(mounted=mounted, needs_api=needs_api, claims=claims,
                            container_ports=edge_.container_ports(platform) if is_proxy
                            else ())
        api, kind, body = wl.workload(platform, svc, ns, parts, pull_policy=_pull_policy(svc),
                                      storage_class=settings.storage_class,
                                      storage_size=settings.storage_size)
        jobs = [f"{p.namespace[j]}/{j}" for j in sorted(svc.completed_dependencies)
                if j in p.deployed]
        if jobs:
            body["metadata"].setdefault("annotations", {})["rampart.io/after-jobs"] = \
                " ".join(jobs)
        out.append((api, kind, body))
        if wl.replicated(svc) and svc.one_shot is None:
            out.append(("policy/v1", "PodDisruptionBudget",
                        wl.disruption_budget(platform, svc, ns)))
        if svc.max_replicas is not None:
            out.append(("autoscaling/v2", "HorizontalPodAutoscaler",
                        wl.autoscaler(platform, svc, ns, kind)))
    if is_proxy:
        edge_service = wl.service(
            platform, svc, ns, [("web", 80, edge_.WEB_PORT),
                                ("websecure", traefik.WEBSECURE_PORT, edge_.WEBSECURE_PORT)],
            service_type="LoadBalancer")
        # Local: the load balancer sends traffic only to nodes running Traefik and kube-proxy
        # keeps the client's address, which the rate limits and the admin allowlist judge.
        edge_service["spec"]["externalTrafficPolicy"] = "Local"
        out.append(("v1", "Service", edge_service))
        metrics = traefik.metrics_port(platform)
        body = wl.service(platform, svc, ns, [("metrics", metrics, metrics)])
        body["metadata"]["name"] = f"{svc.name}-metrics"
        out.append(("v1", "Service", body))
    elif svc.one_shot is None and wl.ports(svc):
        service_ports = [(n, port, port) for n, port in wl.ports(svc)]
        out.append(("v1", "Service", wl.service(platform, svc, ns, service_ports)))
        if any(kind == "StatefulSet" for _, kind, _ in out):
            # The StatefulSet's governing Service: a DNS name per pod.
            headless = wl.service(platform, svc, ns, service_ports)
            headless["metadata"]["name"] = wl.headless_name(svc)
            headless["spec"]["clusterIP"] = "None"
            out.append(("v1", "Service", headless))
    return out


def _store(platform: Platform, svc: Service, ns: str, inputs: KubernetesInputs,
           service_account: str | None = None) -> tuple[str, str, dict[str, Any]]:
    return (EXTERNAL_SECRETS, "SecretStore", eso.secret_store(
        platform, svc, ns, inputs.stack, inputs.settings, inputs.vault_server,
        inputs.vault_mount, service_account, inputs.vault_ca))


def _discovery_rules() -> list[dict[str, Any]]:
    """What Prometheus reads to find the ServiceMonitors' targets: read-only."""
    return [{"apiGroups": [""], "resources": ["services", "endpoints", "pods"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["get", "list", "watch"]}]


def _rbac(platform: Platform, svc: Service, ns: str, namespaces: Sequence[str],
          rules: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """A ClusterRole of read-only rules, bound in each of the platform's namespaces only."""
    role = f"{platform.name}-{svc.name}"
    rbac = "rbac.authorization.k8s.io/v1"
    out: list[tuple[str, str, dict[str, Any]]] = [
        (rbac, "ClusterRole", {"metadata": metadata(role, None, labels(platform, svc)),
                               "rules": rules})]
    for target in namespaces:
        out.append((rbac, "RoleBinding", {
            "metadata": metadata(f"{svc.name}-reader", target, labels(platform, svc)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": svc.name, "namespace": ns}]}))
    return out


def _database(platform: Platform, secrets: SecretsProvider, inputs: KubernetesInputs, p: Plan,
              svc: Service) -> list[tuple[str, str, dict[str, Any]]]:
    """PostgreSQL under CloudNativePG: the operator's own ServiceAccount (named as the
    cluster) logs in to Vault for the superuser password; the backup job's account, in the
    database's namespace, for the object-store key."""
    plan_ = inputs.backup
    assert plan_ is not None
    ns = p.namespace[svc.name]
    settings = inputs.settings
    password = next(r for r in svc.secrets if r.kind.value == "password")
    out: list[tuple[str, str, dict[str, Any]]] = [
        _store(platform, svc, ns, inputs),
        (EXTERNAL_SECRETS, "ExternalSecret", eso.external_secret(
            platform, svc, ns, inputs.stack, settings, secrets,
            files={"password": (svc.name, password.name, False)},
            template=pg.superuser_template(svc), name=pg.SUPERUSER_SECRET)),
    ]
    job = next(s for s in platform.services if s.name == inputs.backup_job)
    out.append(("v1", "ServiceAccount", wl.service_account(platform, job, ns, False)))
    out.append(_store(platform, job, ns, inputs))
    out.append((EXTERNAL_SECRETS, "ExternalSecret", eso.external_secret(
        platform, job, ns, inputs.stack, settings, secrets,
        files={"secret": (plan_.secret_owner, plan_.secret_name, False)},
        template=pg.s3_template(plan_), name=pg.S3_SECRET)))
    out.append(pg.cluster(platform, svc, ns, plan_, settings.storage_class,
                          settings.storage_size))
    out.append(pg.scheduled_backup(platform, svc, ns, plan_))
    if PROMETHEUS in p.deployed:
        out.append(mon.pod_monitor(platform, svc, ns, inputs.monitoring, pg.pod_selector(svc),
                                   pg.METRICS_PORT_NAME, f"{svc.name}-cnpg"))
    out.append(("v1", "Service", wl.service(platform, svc, ns, [("main", 5432, 5432)],
                                            pod_selector=pg.primary_selector(svc))))
    return out


def deploy(platform: Platform, secrets: SecretsProvider, inputs: KubernetesInputs,
           p: Plan) -> KubernetesPlatform:
    """Entry point used by infra.program when the stack's target is `kubernetes`: `p` is the
    `plan` of the same inputs, made (and its refusals raised) before Vault was read."""
    return KubernetesPlatform(platform.name, platform, secrets, inputs, p)


