"""traefik-cors-not-wildcard: no CORS middleware allows every origin."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import ci_get, collect, split

WILDCARD_REGEX = {".*", "^.*$", ".+", "^.+$", "^https?://.*$", "https?://.*"}


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    for mw in view.middlewares.values():
        headers = ci_get(mw.config, "headers")
        if not isinstance(headers, dict):
            continue
        origins = split(ci_get(headers, "accessControlAllowOriginList"))
        regexes = split(ci_get(headers, "accessControlAllowOriginListRegex"))
        if "*" in origins:
            yield Finding(
                f"middleware {mw.name} allows any CORS origin (*)",
                urn=mw.urn,
                service="traefik",
                field="edge",
                subject=f"{mw.name}/accessControlAllowOriginList",
            )
        for rx in regexes:
            if rx in WILDCARD_REGEX:
                yield Finding(
                    f"middleware {mw.name} allows any CORS origin (regex {rx})",
                    urn=mw.urn,
                    service="traefik",
                    field="edge",
                    subject=f"{mw.name}/accessControlAllowOriginListRegex",
                )


RULE = Rule(
    name="traefik-cors-not-wildcard",
    description="No Traefik CORS middleware allows `*` (any origin).",
    severity=Severity.HIGH,
    remediation="List the exact front-end origins in the catalog's edge `cors_origins`.",
    check_stack=check,
    tags=("edge", "traefik"),
)
