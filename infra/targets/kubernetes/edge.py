"""The shared edge (infra/edge/traefik.py) as Traefik and cert-manager objects.

The routers, middlewares and TLS options are the Docker target's, from the same functions:
an IngressRoute per router, a Middleware per middleware a namespace's routers use, a
TLSOption per namespace with routes, the default TLSStore. Certificates come from
cert-manager (a self-signed ClusterIssuer for dev, ACME for prod) instead of Traefik's own
ACME store, so Traefik keeps no state and runs as a Deployment watching the CRDs.

May import: infra.model, infra.edge and this package's objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from infra.edge import traefik
from infra.edge.traefik import EdgeConfigError
from infra.model.types import Exposure, Platform, SecretKind, Service
from infra.targets.kubernetes.objects import CERT_MANAGER, TRAEFIK, labels, metadata

# Inside the pod Traefik listens unprivileged; its LoadBalancer Service maps 80/443 to these.
WEB_PORT = 8000
WEBSECURE_PORT = 8443
TLS_SECRET = "edge-tls"  # noqa: S105 - a Secret's name
# Traefik applies the TLSOption named `default` (one in the whole cluster) to every router
# without options of its own and to handshakes without SNI: the edge's options go there.
TLS_OPTION = "default"
REDIRECT_PRIORITY = 1  # below every router, so the HTTP-01 solver's answers on port 80
SOLVER_ENTRYPOINT_ANNOTATION = "traefik.ingress.kubernetes.io/router.entrypoints"
ADMIN_AUTH_SECRET = "admin-auth"  # noqa: S105 - a Secret's name
STATIC_FILE = traefik.STATIC_PATH
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

Obj = tuple[str, str, dict[str, Any]]


def issuer_name(platform: Platform) -> str:
    kind = "acme" if platform.edge.tls_mode == "acme" else "selfsigned"
    return f"{platform.name}-{kind}"


def proxy_service(platform: Platform) -> Service:
    """The catalog's Traefik as the Kubernetes target runs it: no ACME volume (cert-manager
    keeps certificates in Secrets), probed on /ping of its metrics entrypoint."""
    proxy = traefik.edge_service(platform)
    metrics = traefik.metrics_port(platform)
    health = replace(proxy.health, port=metrics, ready_path="/ping", live_path="/ping") \
        if proxy.health is not None else None
    volumes = tuple(v for v in proxy.volumes if "acme" not in v.name)
    return replace(proxy, health=health, volumes=volumes, stateful=False)


def container_ports(platform: Platform) -> list[tuple[str, int]]:
    return [("web", WEB_PORT), ("websecure", WEBSECURE_PORT),
            ("metrics", traefik.metrics_port(platform))]


def static_config(platform: Platform, ingress_class: str, namespaces: Sequence[str]) -> str:
    """Traefik watches only the namespaces with routes, through namespaced informers: with
    `disableClusterScopeResources` it lists no Nodes or IngressClasses, so RoleBindings in those
    namespaces are all the access it has (and needs)."""
    watched = sorted(set(namespaces))
    scoped = {"ingressClass": ingress_class, "namespaces": watched,
              "disableClusterScopeResources": True}
    providers = {
        "kubernetesCRD": {**scoped, "allowCrossNamespace": False,
                          "allowExternalNameServices": False},
        # cert-manager's HTTP-01 solver publishes its challenge as a plain Ingress (matched
        # by the kubernetes.io/ingress.class annotation the solver's `class` sets).
        "kubernetesIngress": scoped,
    }
    return traefik.to_yaml(traefik.static_config(
        platform, ports=(WEB_PORT, WEBSECURE_PORT), providers=providers, acme=False,
        redirect_to=f":{traefik.WEBSECURE_PORT}", redirect_priority=REDIRECT_PRIORITY))


def cluster_issuer(platform: Platform, ingress_class: str) -> Obj:
    edge = platform.edge
    meta = metadata(issuer_name(platform), None, labels(platform))
    if edge.tls_mode == "acme":
        spec: dict[str, Any] = {"acme": {
            "email": edge.acme_email, "server": edge.acme_ca_server,
            "privateKeySecretRef": {"name": f"{issuer_name(platform)}-account"},
            # HTTP-01 through Traefik (cert-manager has no TLS-ALPN-01 solver): the solver's
            # Ingress by class annotation (Traefik lists no IngressClasses), on the `web`
            # entrypoint only, behind a ClusterIP Service (the namespace allows no node ports).
            "solvers": [{"http01": {"ingress": {
                "class": ingress_class, "serviceType": "ClusterIP",
                "ingressTemplate": {"metadata": {"annotations": {
                    SOLVER_ENTRYPOINT_ANNOTATION: traefik.WEB}}}}}}]}}
    else:
        spec = {"selfSigned": {}}
    return CERT_MANAGER, "ClusterIssuer", {"metadata": meta, "spec": spec}


def routed_namespaces(platform: Platform, namespace_of: Callable[[Service], str]) -> list[str]:
    """The namespaces Traefik watches: its own and those of the services it routes to."""
    proxy = traefik.edge_service(platform)
    return sorted({namespace_of(proxy), *(namespace_of(r.service)
                                          for r in traefik.routers(platform))})


def edge_objects(platform: Platform, namespace_of: Callable[[Service], str],
                 ingress_class: str) -> list[Obj]:
    """ClusterIssuer; per namespace with routes: Certificate, Middlewares, IngressRoutes; in
    the proxy's namespace the cluster's default TLSOption and TLSStore."""
    proxy_ns = namespace_of(traefik.edge_service(platform))
    routers = traefik.routers(platform)
    for r in routers:
        if r.service.exposure is Exposure.ADMIN and namespace_of(r.service) != proxy_ns:
            raise EdgeConfigError(
                f"{platform.source}: service '{r.service.name}': field 'group': admin routes "
                f"use the edge proxy's htpasswd Secret, which lives in namespace {proxy_ns}; "
                "give admin services the proxy's group or set rampart:kubernetes.namespaces "
                "to 'stack'")
    spec_of = traefik.middlewares(platform, basic_auth_secret=ADMIN_AUTH_SECRET)
    objs: list[Obj] = [cluster_issuer(platform, ingress_class)]
    meta_labels = labels(platform)
    by_ns: dict[str, list[traefik.Router]] = {}
    for r in routers:
        by_ns.setdefault(namespace_of(r.service), []).append(r)
    for ns, rs in sorted(by_ns.items()):
        hosts = sorted({r.service.route.host for r in rs if r.service.route is not None})
        objs.append((CERT_MANAGER, "Certificate", {
            "metadata": metadata(TLS_SECRET, ns, meta_labels), "spec": {
                "secretName": TLS_SECRET, "dnsNames": hosts,
                "issuerRef": {"kind": "ClusterIssuer", "name": issuer_name(platform),
                              "group": "cert-manager.io"},
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "duration": "2160h", "renewBefore": "360h"}}))
        for name in sorted({m for r in rs for m in r.middlewares}):
            objs.append((TRAEFIK, "Middleware", {
                "metadata": metadata(name, ns, meta_labels), "spec": spec_of[name]}))
        for r in rs:
            objs.append((TRAEFIK, "IngressRoute", _ingress_route(platform, r, ns,
                                                                 ingress_class)))
    objs.append((TRAEFIK, "TLSOption", {
        "metadata": metadata(TLS_OPTION, proxy_ns, meta_labels),
        "spec": traefik.tls_options(platform.edge)}))
    objs.append((TRAEFIK, "TLSStore", {
        "metadata": metadata("default", proxy_ns, meta_labels),
        "spec": {"defaultCertificate": {"secretName": TLS_SECRET}}}))
    return objs


def _ingress_route(platform: Platform, r: traefik.Router, ns: str,
                   ingress_class: str) -> dict[str, Any]:
    if r.internal:
        backend: dict[str, Any] = {"name": "api@internal", "kind": "TraefikService"}
    else:
        backend = {"name": r.service.name, "port": r.service.port, "kind": "Service"}
    route: dict[str, Any] = {"kind": "Rule", "match": r.rule,
                             "middlewares": [{"name": m} for m in r.middlewares],
                             "services": [backend]}
    if r.priority is not None:
        route["priority"] = r.priority
    return {"metadata": metadata(r.name, ns, labels(platform, r.service),
                                 {INGRESS_CLASS_ANNOTATION: ingress_class}),
            "spec": {"entryPoints": [traefik.WEBSECURE], "routes": [route],
                     # no `options`: the cluster's `default` TLSOption (the edge's) applies
                     "tls": {"secretName": TLS_SECRET}}}


def htpasswd_secret_name(platform: Platform) -> str:
    """The catalog's name of the admin users file (TRAEFIK_DASHBOARD_HTPASSWD)."""
    for ref in traefik.edge_service(platform).secrets:
        if ref.kind is SecretKind.HTPASSWD:
            return ref.name
    traefik.htpasswd_secret(platform)  # raises the edge's own error
    raise AssertionError("unreachable")


def rbac_rules() -> list[dict[str, Any]]:
    """What Traefik reads through the API in the namespaces it watches: read-only, nothing
    cluster-scoped (the providers run with disableClusterScopeResources)."""
    return [
        {"apiGroups": [""], "resources": ["services", "secrets"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"],
         "verbs": ["update"]},
        {"apiGroups": ["traefik.io"],
         "resources": ["middlewares", "middlewaretcps", "ingressroutes", "traefikservices",
                       "ingressroutetcps", "ingressrouteudps", "tlsoptions", "tlsstores",
                       "serverstransports", "serverstransporttcps"],
         "verbs": ["get", "list", "watch"]},
    ]
