"""traefik-routers-hardened: every router is TLS-only with rate-limit and security headers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import Router, TraefikView, ci_get, collect, split

SECURITY_HEADERS = ("stsseconds", "framedeny", "contenttypenosniff", "contentsecuritypolicy")


def _problems(router: Router, view: TraefikView) -> Iterator[tuple[str, str]]:
    """(subject, problem): the subject names the router setting at fault."""
    eps = split(router.config.get("entryPoints") or router.config.get("entrypoints"))
    tls_eps = view.tls_entrypoints()
    if not eps:
        yield "entryPoints", ("has no entryPoints, so Traefik attaches it to every entry point "
                              "(HTTP included)")
    else:
        plain = [ep for ep in eps if ep not in tls_eps]
        if plain:
            yield "entryPoints", f"listens on non-TLS entry point(s) {', '.join(plain)}"
        elif router.config.get("tls") is None and not all(ep in view.tls_by_config() for ep in eps):
            yield "tls", "does not terminate TLS (no router tls and no entry point http.tls)"
    mws = view.expand(split(router.config.get("middlewares")))
    if not any(ci_get(mw.config, "rateLimit") is not None for mw in mws):
        yield "rateLimit", "has no rate-limit middleware"
    if not any(
        isinstance(ci_get(mw.config, "headers"), dict)
        and {str(k).lower() for k in ci_get(mw.config, "headers")} & set(SECURITY_HEADERS)
        for mw in mws
    ):
        yield "headers", "has no security-headers middleware (HSTS, frameDeny, nosniff)"


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    for router in view.routers:
        for subject, problem in _problems(router, view):
            yield Finding(
                f"router {router.name} {problem}",
                urn=router.urn,
                service=router.service,
                field="route",
                subject=f"{router.name}/{subject}",
            )


RULE = Rule(
    name="traefik-routers-hardened",
    description="Every Traefik router is on the TLS entry point with the rate-limit and "
    "security-headers middlewares.",
    severity=Severity.HIGH,
    remediation="Route services through the catalog's `route:` (the target attaches "
    "websecure, TLS, rate-limit and security-headers); never declare routers by hand.",
    check_stack=check,
    tags=("edge", "traefik", "docker", "kubernetes"),
)
