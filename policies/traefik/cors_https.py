"""traefik-cors-origins-https: where the edge requires TLS, CORS admits only https origins.

A stack whose edge terminates TLS (a TLS entry point, or a router with `tls`) serves its
front end over https; an `http://` origin in the CORS allowlist lets a page served in clear
text, which anyone on the path can rewrite, make credentialed requests to the API. Origin
regexes must pin the scheme: they start with `^https://`. Entries that admit every origin
(`*`, `null`, `https://*.x`, a match-all regex) are traefik-cors-not-wildcard's findings, not
reported twice here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import TraefikView, ci_get, collect, split
from policies.traefik.cors_not_wildcard import wildcard_origin, wildcard_regex

HTTPS_ORIGIN = re.compile(r"https://[^\s/?#*]+/?", re.IGNORECASE)
HTTPS_REGEX = re.compile(r"\^(\(\?[a-z]+\))?https:(\\?/){2}", re.IGNORECASE)


def requires_tls(view: TraefikView) -> bool:
    return bool(view.tls_entrypoints()) or any(
        r.config.get("tls") is not None for r in view.routers)


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    if not requires_tls(view):
        return
    for mw in view.middlewares.values():
        headers = ci_get(mw.config, "headers")
        if not isinstance(headers, dict):
            continue
        for origin in split(ci_get(headers, "accessControlAllowOriginList")):
            if wildcard_origin(origin) is None and not HTTPS_ORIGIN.fullmatch(origin):
                yield Finding(
                    f"middleware {mw.name} allows the CORS origin {origin!r}, which is not "
                    "https although the edge requires TLS",
                    urn=mw.urn, service="traefik", field="edge",
                    subject=f"{mw.name}/{origin}")
        regexes = split(ci_get(headers, "accessControlAllowOriginListRegex"))
        for index, rx in enumerate(regexes):
            if wildcard_regex(rx) is None and not HTTPS_REGEX.match(rx):
                # The subject names the entry by position: a regex would read as a pattern.
                yield Finding(
                    f"middleware {mw.name} allows CORS origins matching {rx!r}, which does not "
                    "pin the https scheme (start it with ^https://)",
                    urn=mw.urn, service="traefik", field="edge",
                    subject=f"{mw.name}/accessControlAllowOriginListRegex.{index}")


RULE = Rule(
    name="traefik-cors-origins-https",
    description="When the edge requires TLS, every CORS origin is https (origin regexes "
    "start with ^https://).",
    severity=Severity.HIGH,
    remediation="List the front end's https origins in `rampart:corsOrigins` "
    "(https://app.example.com); serve any other front end over https too.",
    check_stack=check,
    tags=("edge", "traefik", "tls", "docker", "kubernetes"),
)
