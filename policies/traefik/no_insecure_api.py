"""traefik-no-insecure-api: the API/dashboard is never on the insecure port and always
behind authentication on a TLS router."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import TraefikView, ci_get, collect, split

AUTH_MIDDLEWARES = ("basicauth", "digestauth", "forwardauth")


def _insecure(view: TraefikView) -> bool:
    flag = view.flags.get("api.insecure")
    if flag is not None and flag.lower() != "false":
        return True
    return ci_get(view.static, "api", "insecure") in (True, "true")


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    if not view.present:
        return
    if _insecure(view):
        yield Finding(
            "Traefik serves its API/dashboard on the insecure port (api.insecure)",
            urn=view.static_urn or view.proxy_urn,
            service="traefik",
            field="edge",
            subject="api.insecure",
        )
    for router in view.routers:
        if str(router.config.get("service", "")).lower() != "api@internal":
            continue
        mws = view.expand(split(router.config.get("middlewares")))
        kinds = {str(k).lower() for mw in mws for k in mw.config}
        if not kinds & set(AUTH_MIDDLEWARES):
            yield Finding(
                f"router {router.name} exposes the Traefik API without authentication",
                urn=router.urn,
                service=router.service,
                field="route",
                subject=f"{router.name}/middlewares",
            )


RULE = Rule(
    name="traefik-no-insecure-api",
    description="The Traefik API and dashboard are never served on the insecure API port and "
    "are always behind authentication.",
    severity=Severity.CRITICAL,
    remediation="Keep `api.insecure: false`; route the dashboard through the admin router "
    "(IP allowlist + basic auth on websecure).",
    check_stack=check,
    tags=("edge", "traefik", "docker", "kubernetes"),
)
