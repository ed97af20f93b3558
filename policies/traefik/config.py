"""Reading the Traefik configuration a stack deploys, from its resources.

Sources, merged into one view:
- files uploaded into a Traefik container (`uploads[].file/content`): the static
  configuration (`traefik.yml`, or any file with top-level `entryPoints`/`api`) and dynamic
  files for the file provider (top-level `http`/`tls`);
- `traefik.http.*` labels on any container (the Docker provider's form);
- `--api.insecure` style flags in a Traefik container's `command`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.core import (
    CONTAINER,
    SECRET,
    Resource,
    as_list,
    docker_labels,
    parse_yaml,
    service_name,
)

STATIC_NAMES = ("traefik.yml", "traefik.yaml")


@dataclass
class Router:
    name: str
    config: dict[str, Any]
    urn: str  # the resource that declares it
    service: str  # catalog service it routes (for reports)


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
    for up in as_list(res.props.get("uploads")):
        if not isinstance(up, Mapping):
            continue
        content = up.get("content")
        if not isinstance(content, str) or content == SECRET:
            continue
        path = str(up.get("file", ""))
        if not path.endswith((".yml", ".yaml")):
            continue
        data = parse_yaml(content)
        if not isinstance(data, Mapping):
            continue
        if path.rsplit("/", 1)[-1] in STATIC_NAMES or "entryPoints" in data:
            view.static = dict(data)
            view.static_urn = res.urn
        routers = _ci_get(data, "http", "routers")
        if isinstance(routers, Mapping):
            for name, cfg in routers.items():
                # File-provider routers are named after the service they route.
                svc = str(name).removesuffix("-login")
                view.routers.append(Router(str(name), dict(cfg or {}), res.urn, svc))
        mws = _ci_get(data, "http", "middlewares")
        if isinstance(mws, Mapping):
            for name, cfg in mws.items():
                view.middlewares[str(name)] = Middleware(str(name), dict(cfg or {}), res.urn)
        options = _ci_get(data, "tls", "options")
        if isinstance(options, Mapping):
            for name, cfg in options.items():
                view.tls_options[str(name)] = dict(cfg or {})
            view.tls_urn = res.urn


def _from_command(res: Resource, view: TraefikView) -> None:
    for arg in as_list(res.props.get("command")):
        if isinstance(arg, str) and arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            view.flags[key.lower()] = value or "true"


def collect(resources: Sequence[Resource]) -> TraefikView:
    view = TraefikView()
    for res in resources:
        if res.type != CONTAINER:
            continue
        if _is_proxy(res):
            view.proxies.append(res)
            _from_uploads(res, view)
            _from_command(res, view)
        _from_labels(res, view)
    return view
