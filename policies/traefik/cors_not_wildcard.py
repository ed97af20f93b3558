"""traefik-cors-not-wildcard: no CORS middleware admits every origin.

Traefik's headers middleware admits an origin equal to an entry of
`accessControlAllowOriginList` (`*` admitting all) or one that a regex of
`accessControlAllowOriginListRegex` matches anywhere in it (Go's `MatchString`, unanchored).
Judged on every headers middleware of the stack: file provider, labels and Kubernetes
`Middleware` resources alike (policies/traefik/config.py). Refused:

- `*`;
- `null`: the origin browsers send from sandboxed frames, `file:` pages and some redirects,
  which any attacker's page can produce, so admitting it admits everyone;
- an origin with a `*` in it (`https://*.example.com`): Traefik compares origins literally, so
  it admits nothing as written, and the wildcard it stands for is not what the list is for;
- a regex that matches an origin nobody owns (`https://rampart-probe.invalid`: `.invalid` is
  reserved, RFC 2606) or `null`, such as `.*`, `^https?://`, `(.*)`; a regex Python cannot
  compile is compared with the usual match-all spellings instead.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import ci_get, collect, split

WILDCARD_REGEX = {".*", "^.*$", ".+", "^.+$", "^https?://.*$", "https?://.*", "^.*", ".*$"}
# Origins no stack owns: a regex matching one of them matches any attacker's origin.
PROBES = ("https://rampart-probe.invalid", "http://rampart-probe.invalid",
          "https://rampart-probe.invalid:8443", "null")


def wildcard_origin(origin: str) -> str | None:
    """Why a list entry admits every origin (or stands for a wildcard), or None."""
    text = origin.strip()
    if text == "*":
        return "any CORS origin (*)"
    if text.lower() == "null":
        return "the origin null, which any page can send from a sandboxed frame"
    if "*" in text:
        return f"the wildcard-like origin {text!r} (Traefik compares origins literally; " \
            "list the exact origins)"
    return None


def wildcard_regex(regex: str) -> str | None:
    """The origin nobody owns that this regex admits, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Go syntax Python reads differently (FutureWarning)
        try:
            compiled = re.compile(regex)
        except re.error:
            return "everything" if regex.strip() in WILDCARD_REGEX else None
    return next((probe for probe in PROBES if compiled.search(probe)), None)


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    for mw in view.middlewares.values():
        headers = ci_get(mw.config, "headers")
        if not isinstance(headers, dict):
            continue
        origins = split(ci_get(headers, "accessControlAllowOriginList"))
        regexes = split(ci_get(headers, "accessControlAllowOriginListRegex"))
        for index, origin in enumerate(origins):
            why = wildcard_origin(origin)
            if why is None:
                continue
            # `*` keeps the field as its subject; other entries are named by position (an
            # origin such as https://*.x would read as a pattern to the waiver rules).
            subject = "accessControlAllowOriginList" if origin.strip() == "*" \
                else f"accessControlAllowOriginList.{index}"
            yield Finding(
                f"middleware {mw.name} allows {why} (headers.accessControlAllowOriginList)",
                urn=mw.urn,
                service="traefik",
                field="edge",
                subject=f"{mw.name}/{subject}",
            )
        for index, rx in enumerate(regexes):
            probe = wildcard_regex(rx)
            if probe is None:
                continue
            yield Finding(
                f"middleware {mw.name} allows any CORS origin (regex {rx} admits {probe}; "
                "headers.accessControlAllowOriginListRegex)",
                urn=mw.urn,
                service="traefik",
                field="edge",
                subject=f"{mw.name}/accessControlAllowOriginListRegex"
                + (f".{index}" if index else ""),
            )


RULE = Rule(
    name="traefik-cors-not-wildcard",
    description="No Traefik CORS middleware (file provider, labels or Kubernetes Middleware) "
    "admits every origin: no `*`, `null` or wildcard-like origin, no regex matching any "
    "origin.",
    severity=Severity.HIGH,
    remediation="List the exact front-end origins in the catalog's edge `cors_origins` "
    "(`rampart:corsOrigins`); the targets write them into the one CORS middleware.",
    check_stack=check,
    tags=("edge", "traefik", "docker", "kubernetes"),
)
