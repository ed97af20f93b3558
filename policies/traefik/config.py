"""Reading the Traefik configuration a stack deploys, from its resources.

Sources, merged into one view, so every Traefik rule judges every provider alike:
- files uploaded into a Traefik container (`uploads[].file/content`): the static
  configuration (`traefik.yml`, or any file with top-level `entryPoints`/`api`) and dynamic
  files for the file provider (top-level `http`/`tls`);
- `traefik.http.*` labels on any container (the Docker provider's form);
- `--api.insecure` style flags in a Traefik container's `command`;
- on Kubernetes: the Traefik workload (a pod running the traefik image, or the service
  `traefik`), the files of the ConfigMaps it mounts (static and file-provider YAML, as above),
  its `args`/`command` flags (a static configuration given as `--entryPoints.<name>.…` flags
  when it mounts none), the ports its LoadBalancer/NodePort Services and hostPorts publish,
  and the Kubernetes CRD provider's custom resources (`traefik.io/v1alpha1`, and the older
  `traefik.containo.us` group): `Middleware`, `IngressRoute` (one router per route) and
  `TLSOption`, named as Traefik names them (`<namespace>-<name>`; the TLSOption `default`).

Traefik reads its file and label keys case-insensitively, so those are looked up so; a custom
resource's fields are read exactly, as the API server keeps them: its structural schema
prunes `entrypoints:` or `Ratelimit:`, which therefore configure nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    Resource,
    as_list,
    docker_labels,
    get,
    k8s_kind,
    k8s_name,
    k8s_namespace,
    parse_yaml,
    pod_containers,
    pod_labels,
    pod_spec,
    service_name,
)

STATIC_NAMES = ("traefik.yml", "traefik.yaml")


@dataclass
class Router:
    name: str
    config: dict[str, Any]
    urn: str  # the resource that declares it
    service: str  # catalog service it routes (for reports)
    kubernetes: bool = False  # from an IngressRoute


@dataclass
class Middleware:
    name: str
    config: dict[str, Any]
    urn: str


@dataclass
class TraefikView:
    proxies: list[Resource] = field(default_factory=list)
    static: dict[str, Any] = field(default_factory=dict)
    static_urn: str | None = None
    flags: dict[str, str] = field(default_factory=dict)  # from `command`
    routers: list[Router] = field(default_factory=list)
    middlewares: dict[str, Middleware] = field(default_factory=dict)
    tls_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    tls_urn: str | None = None
    tls_option_urns: dict[str, str] = field(default_factory=dict)  # TLSOption resources
    # Namespaces holding a TLSOption named `default`: Traefik drops them all when several do.
    tls_defaults: list[str] = field(default_factory=list)
    published_ports: set[int] = field(default_factory=set)  # Kubernetes Services, hostPorts

    @property
    def present(self) -> bool:
        return bool(self.proxies or self.routers)

    @property
    def proxy_urn(self) -> str | None:
        return self.proxies[0].urn if self.proxies else None

    def entrypoints(self) -> dict[str, dict[str, Any]]:
        eps = self.static.get("entryPoints")
        return (
            {k: v if isinstance(v, dict) else {} for k, v in eps.items()}
            if isinstance(eps, Mapping)
            else {}
        )

    def tls_by_config(self) -> set[str]:
        """Entry points whose static config terminates TLS for every router (http.tls)."""
        return {n for n, ep in self.entrypoints().items() if _ci_get(ep, "http", "tls") is not None}

    def tls_entrypoints(self) -> set[str]:
        """TLS entry points: http.tls set, or listening on an HTTPS port (443/8443)."""
        out = self.tls_by_config()
        for name, ep in self.entrypoints().items():
            if str(ep.get("address", "")).split("/")[0].rsplit(":", 1)[-1] in ("443", "8443"):
                out.add(name)
        return out

    def middleware(self, ref: str) -> Middleware | None:
        return self.middlewares.get(ref.split("@", 1)[0])

    def expand(self, refs: Iterable[str], seen: set[str] | None = None) -> list[Middleware]:
        """Middlewares a router applies, chains expanded."""
        seen = seen if seen is not None else set()
        out: list[Middleware] = []
        for ref in refs:
            mw = self.middleware(str(ref))
            if mw is None or mw.name in seen:
                continue
            seen.add(mw.name)
            out.append(mw)
            chain = _ci_get(mw.config, "chain", "middlewares")
            if chain:
                out.extend(self.expand(_split(chain), seen))
        return out


def _ci_get(data: Any, *path: str) -> Any:
    """Case-insensitive nested get: Traefik keys are case-insensitive in labels and YAML."""
    cur = data
    for step in path:
        if not isinstance(cur, Mapping):
            return None
        match = next((k for k in cur if str(k).lower() == step.lower()), None)
        if match is None:
            return None
        cur = cur[match]
    return cur


ci_get = _ci_get


def _split(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in as_list(value)]


split = _split


def _is_proxy(res: Resource) -> bool:
    if res.type != CONTAINER:
        return False
    image = res.props.get("image")
    if service_name(res.type, res.props, res.name) == "traefik":
        return True
    if isinstance(image, str) and "traefik" in image.rsplit("/", 1)[-1]:
        return True
    return any(
        isinstance(u, Mapping) and str(u.get("file", "")).startswith("/etc/traefik/")
        for u in as_list(res.props.get("uploads"))
    )


def _nest(target: dict[str, Any], path: Sequence[str], value: str) -> None:
    cur = target
    for step in path[:-1]:
        nxt = cur.get(step)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[step] = nxt
        cur = nxt
    cur[path[-1]] = value


def _from_labels(res: Resource, view: TraefikView) -> None:
    routers: dict[str, dict[str, Any]] = {}
    for key, value in docker_labels(res.props).items():
        parts = key.split(".")
        if len(parts) < 5 or parts[0] != "traefik" or parts[1] != "http":
            continue
        kind, name, rest = parts[2], parts[3], parts[4:]
        if kind == "routers":
            _nest(routers.setdefault(name, {}), rest, value)
        elif kind == "middlewares":
            mw = view.middlewares.setdefault(name, Middleware(name, {}, res.urn))
            _nest(mw.config, rest, value)
    svc = service_name(res.type, res.props, res.name)
    for name, cfg in routers.items():
        # Label form: "entrypoints=websecure", "middlewares=a@docker,b@file", "tls=true".
        normal: dict[str, Any] = dict(cfg)
        for key in list(normal):
            low = key.lower()
            if low == "entrypoints":
                normal["entryPoints"] = _split(normal.pop(key))
            elif low == "middlewares":
                normal["middlewares"] = _split(normal.pop(key))
            elif low == "tls":
                tls = normal.pop(key)
                if isinstance(tls, dict) or str(tls).lower() == "true":
                    normal["tls"] = tls if isinstance(tls, dict) else {}
        view.routers.append(Router(name, normal, res.urn, svc))


def _from_uploads(res: Resource, view: TraefikView) -> None:
    files = [(str(up.get("file", "")), up.get("content"))
             for up in as_list(res.props.get("uploads")) if isinstance(up, Mapping)]
    _from_files(files, res.urn, view)


def _from_files(files: Sequence[tuple[str, Any]], urn: str, view: TraefikView) -> None:
    """Static and file-provider YAML: (path or ConfigMap key, content) pairs."""
    for path, content in files:
        if not isinstance(content, str) or content == SECRET:
            continue
        if not path.endswith((".yml", ".yaml")):
            continue
        data = parse_yaml(content)
        if not isinstance(data, Mapping):
            continue
        if path.rsplit("/", 1)[-1] in STATIC_NAMES or "entryPoints" in data:
            view.static = dict(data)
            view.static_urn = urn
        routers = _ci_get(data, "http", "routers")
        if isinstance(routers, Mapping):
            for name, cfg in routers.items():
                # File-provider routers are named after the service they route.
                svc = str(name).removesuffix("-login")
                view.routers.append(Router(str(name), dict(cfg or {}), urn, svc))
        mws = _ci_get(data, "http", "middlewares")
        if isinstance(mws, Mapping):
            for name, cfg in mws.items():
                view.middlewares[str(name)] = Middleware(str(name), dict(cfg or {}), urn)
        options = _ci_get(data, "tls", "options")
        if isinstance(options, Mapping):
            for name, cfg in options.items():
                view.tls_options[str(name)] = dict(cfg or {})
            view.tls_urn = urn


def _from_command(res: Resource, view: TraefikView) -> None:
    _from_args(as_list(res.props.get("command")), view)


def _from_args(args: Sequence[Any], view: TraefikView) -> None:
    for arg in args:
        if isinstance(arg, str) and arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            view.flags[key.lower()] = value or "true"


def _static_from_flags(flags: Mapping[str, str]) -> dict[str, Any]:
    """`--entryPoints.<name>.<setting>=value` flags as the static file would say them
    (Traefik reads its flags case-insensitively; the names come back in lower case)."""
    entrypoints: dict[str, dict[str, Any]] = {}
    for key, value in flags.items():
        parts = key.split(".")
        if len(parts) < 3 or parts[0] != "entrypoints":
            continue
        ep = entrypoints.setdefault(parts[1], {})
        rest = parts[2:]
        if rest[:2] == ["http", "tls"]:
            if len(rest) > 2 or value.lower() != "false":
                ep.setdefault("http", {}).setdefault("tls", {})
            continue
        _nest(ep, rest, value)
    return {"entryPoints": entrypoints} if entrypoints else {}


# --- Kubernetes ---------------------------------------------------------------------------

TRAEFIK_GROUPS = ("traefik.io", "traefik.containo.us")
_TOKEN = re.compile(r"kubernetes:(?P<group>[^/:]+)/[^:]+:(?P<kind>[A-Za-z]+)")
# The fields the Traefik rules read, spelled as Traefik's CRDs spell them. Any other spelling
# of one of them is pruned by the API server, so it is dropped here too.
CRD_KEYS = frozenset({
    "entryPoints", "routes", "match", "services", "middlewares", "name", "namespace", "tls",
    "options", "headers", "rateLimit", "inFlightReq", "ipAllowList", "ipWhiteList",
    "sourceRange", "basicAuth", "digestAuth", "forwardAuth", "chain",
    "accessControlAllowOriginList", "accessControlAllowOriginListRegex", "stsSeconds",
    "frameDeny", "contentTypeNosniff", "contentSecurityPolicy", "minVersion", "maxVersion",
    "sniStrict", "cipherSuites",
})
_CRD_FOLDED = {k.lower(): k for k in CRD_KEYS}


def traefik_kind(resource_type: str) -> str | None:
    """`Middleware` for `kubernetes:traefik.io/v1alpha1:Middleware`; None for anything else."""
    m = _TOKEN.fullmatch(resource_type)
    return m.group("kind") if m and m.group("group") in TRAEFIK_GROUPS else None


def as_crd(value: Any) -> Any:
    """A custom resource's spec as the API server stores it: a misspelled known field gone."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            exact = _CRD_FOLDED.get(str(key).lower())
            if exact is None or key == exact:
                out[key] = as_crd(item)
        return out
    if isinstance(value, list):
        return [as_crd(v) for v in value]
    return value


def _ref(ref: Any, namespace: str) -> str:
    """A CRD middleware reference as Traefik resolves it: `<namespace>-<name>`, the
    referencing object's namespace unless one is given; `name@provider` as it stands."""
    if not isinstance(ref, Mapping):
        return str(ref)
    name = str(ref.get("name", ""))
    if "@" in name:
        return name
    ns = ref.get("namespace")
    return f"{ns if isinstance(ns, str) and ns else namespace}-{name}"


def _spec(res: Resource) -> dict[str, Any]:
    spec = as_crd(get(res.props, "spec", default={}))
    return spec if isinstance(spec, dict) else {}


def _from_middleware(res: Resource, view: TraefikView) -> None:
    ns = k8s_namespace(res.props)
    config = _spec(res)
    chain = config.get("chain")
    if isinstance(chain, dict) and "middlewares" in chain:
        chain["middlewares"] = [_ref(m, ns) for m in as_list(chain["middlewares"])]
    name = f"{ns}-{k8s_name(res)}"
    view.middlewares[name] = Middleware(name, config, res.urn)


def _from_ingressroute(res: Resource, view: TraefikView) -> None:
    ns, name = k8s_namespace(res.props), k8s_name(res)
    spec = _spec(res)
    routes = [r for r in as_list(spec.get("routes")) if isinstance(r, Mapping)]
    for index, route in enumerate(routes):
        config: dict[str, Any] = {
            "middlewares": [_ref(m, ns) for m in as_list(route.get("middlewares"))]}
        if spec.get("entryPoints") is not None:
            config["entryPoints"] = spec["entryPoints"]
        if spec.get("tls") is not None:
            config["tls"] = spec["tls"]
        services = [s for s in as_list(route.get("services")) if isinstance(s, Mapping)]
        if services:
            config["service"] = services[0].get("name")
        router = f"{ns}-{name}" + (f"-{index}" if len(routes) > 1 else "")
        view.routers.append(Router(router, config, res.urn,
                                   service_name(res.type, res.props, name), kubernetes=True))


def _from_tls_option(res: Resource, view: TraefikView) -> None:
    ns, name = k8s_namespace(res.props), k8s_name(res)
    option = "default" if name == "default" else f"{ns}-{name}"
    if name == "default":
        view.tls_defaults.append(ns)
    view.tls_options[option] = _spec(res)
    view.tls_option_urns[option] = res.urn


def _is_k8s_proxy(res: Resource) -> bool:
    spec = pod_spec(res.type, res.props)
    if spec is None:
        return False
    if service_name(res.type, res.props, res.name) == "traefik":
        return True
    return any(isinstance(c.get("image"), str)
               and "traefik" in c["image"].rsplit("/", 1)[-1].split(":", 1)[0]
               for c in pod_containers(spec))


def _mounted_config_maps(spec: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for vol in as_list(spec.get("volumes")):
        if not isinstance(vol, Mapping):
            continue
        name = get(vol, "configMap", "name")
        if isinstance(name, str):
            names.add(name)
        for source in as_list(get(vol, "projected", "sources")):
            name = get(source, "configMap", "name")
            if isinstance(name, str):
                names.add(name)
    return names


def _k8s_proxy(res: Resource, config_maps: Sequence[Resource], services: Sequence[Resource],
               view: TraefikView) -> None:
    spec = pod_spec(res.type, res.props) or {}
    ns = k8s_namespace(res.props)
    mounted = _mounted_config_maps(spec)
    for cm in config_maps:
        if k8s_namespace(cm.props) != ns or k8s_name(cm) not in mounted:
            continue
        data = get(cm.props, "data", default={})
        if isinstance(data, Mapping):
            _from_files([(str(k), v) for k, v in data.items()], cm.urn, view)
    named: dict[str, int] = {}
    for c in pod_containers(spec):
        _from_args([*as_list(c.get("command")), *as_list(c.get("args"))], view)
        for p in as_list(c.get("ports")):
            port, host = get(p, "containerPort"), get(p, "hostPort")
            if isinstance(get(p, "name"), str) and isinstance(port, int):
                named[p["name"]] = port
            if isinstance(host, int) and host and isinstance(port, int):
                view.published_ports.add(port)
    labels = pod_labels(res.type, res.props)
    for svc in services:
        wanted = get(svc.props, "spec", "selector", default={})
        if k8s_namespace(svc.props) != ns or get(svc.props, "spec", "type") not in (
                "LoadBalancer", "NodePort") or not isinstance(wanted, Mapping) or not wanted \
                or any(labels.get(k) != v for k, v in wanted.items()):
            continue
        for p in as_list(get(svc.props, "spec", "ports")):
            target = get(p, "targetPort", default=get(p, "port"))
            target = named.get(target, target) if isinstance(target, str) else target
            if isinstance(target, int):
                view.published_ports.add(target)


def collect(resources: Sequence[Resource]) -> TraefikView:
    view = TraefikView()
    config_maps = [r for r in resources if k8s_kind(r.type) == "ConfigMap"]
    services = [r for r in resources if k8s_kind(r.type) == "Service"]
    for res in resources:
        if res.type == CONTAINER:
            if _is_proxy(res):
                view.proxies.append(res)
                _from_uploads(res, view)
                _from_command(res, view)
            _from_labels(res, view)
            continue
        kind = traefik_kind(res.type)
        if kind == "Middleware":
            _from_middleware(res, view)
        elif kind == "IngressRoute":
            _from_ingressroute(res, view)
        elif kind == "TLSOption":
            _from_tls_option(res, view)
        elif _is_k8s_proxy(res):
            view.proxies.append(res)
            _k8s_proxy(res, config_maps, services, view)
    if not view.static and view.flags:
        view.static = _static_from_flags(view.flags)
        view.static_urn = view.proxy_urn if view.static else None
    return view
