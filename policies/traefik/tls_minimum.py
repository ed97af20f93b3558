"""traefik-tls-minimum: TLS 1.2 is the floor, set explicitly in the default TLS options.

The file provider's `tls.options` and the Kubernetes `TLSOption` resources are one set of
options (policies/traefik/config.py): every one of them sets `minVersion` to VersionTLS12 or
VersionTLS13 (spelled exactly: Traefik ignores a name it does not know, falling back to its
own default), and the options named `default` exist, once, with a `minVersion`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import ci_get, collect

ACCEPTED = {"VersionTLS12", "VersionTLS13"}


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    urn = view.tls_urn or view.proxy_urn
    if view.proxies or any(r.kubernetes for r in view.routers):
        if len(view.tls_defaults) > 1:
            # Traefik drops every TLSOption named `default` when there are several.
            yield Finding(
                "TLSOption default is declared in several namespaces "
                f"({', '.join(sorted(view.tls_defaults))}), so Traefik drops them all and "
                "the minimum TLS version is not pinned",
                urn=view.tls_option_urns.get("default", urn), service="traefik",
                field="edge", subject="tls.options.default")
        elif "default" not in view.tls_options:
            # Left implicit, the floor is whatever the Traefik release defaults to.
            yield Finding(
                "Traefik has no default TLS options (file provider tls.options.default or a "
                "TLSOption named default), so the minimum TLS version is not pinned",
                urn=urn,
                service="traefik",
                field="edge",
                subject="tls.options.default",
            )
    for name, options in view.tls_options.items():
        where = view.tls_option_urns.get(name, urn)
        version = ci_get(options, "minVersion")
        if version is None and name == "default":
            yield Finding(
                "default TLS options do not set minVersion",
                urn=where,
                service="traefik",
                field="edge",
                subject="tls.options.default.minVersion",
            )
        elif version is not None and (not isinstance(version, str) or version not in ACCEPTED):
            yield Finding(
                f"TLS options {name} allow {version} (minimum is VersionTLS12)",
                urn=where,
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
    tags=("edge", "traefik", "tls", "docker", "kubernetes"),
)
