"""traefik-tls-minimum: TLS 1.2 is the floor, set explicitly in the default TLS options."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import ci_get, collect

ACCEPTED = {"VersionTLS12", "VersionTLS13"}


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    if not view.proxies:
        return
    urn = view.tls_urn or view.proxy_urn
    if "default" not in view.tls_options:
        # Left implicit, the floor is whatever the Traefik release defaults to.
        yield Finding(
            "Traefik has no default TLS options, so the minimum TLS version is not pinned",
            urn=urn,
            service="traefik",
            field="edge",
            subject="tls.options.default",
        )
    for name, options in view.tls_options.items():
        version = ci_get(options, "minVersion")
        if version is None and name == "default":
            yield Finding(
                "default TLS options do not set minVersion",
                urn=urn,
                service="traefik",
                field="edge",
                subject="tls.options.default.minVersion",
            )
        elif version is not None and version not in ACCEPTED:
            yield Finding(
                f"TLS options {name} allow {version} (minimum is VersionTLS12)",
                urn=urn,
                service="traefik",
                field="edge",
                subject=f"tls.options.{name}.minVersion",
            )


RULE = Rule(
    name="traefik-tls-minimum",
    description="Traefik's TLS options set minVersion to TLS 1.2 or 1.3.",
    severity=Severity.HIGH,
    remediation="Keep the catalog edge setting `min_tls_version: VersionTLS12` (or 13).",
    check_stack=check,
    tags=("edge", "traefik", "tls"),
)
