"""traefik-http-redirects: every plain-HTTP entry point redirects to HTTPS.

The redirect's `to` is a TLS entry point's name or a port (`:443`: Traefik redirects to that
port, the public one when a Kubernetes Service maps it onto the entry point's container
port), with scheme https (Traefik's default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Resource, Rule, Severity, as_list
from policies.traefik.config import TraefikView, ci_get, collect

PORT = re.compile(r":\d+")


def _internal(view: TraefikView) -> set[str]:
    """Entry points used only for ping/metrics (never published to clients)."""
    names = set()
    for path in (("ping", "entryPoint"), ("metrics", "prometheus", "entryPoint")):
        ep = ci_get(view.static, *path)
        if isinstance(ep, str):
            names.add(ep)
    return names


def _published(view: TraefikView) -> set[int]:
    """Container ports clients can reach: Docker's published ports, Kubernetes hostPorts and
    the target ports of LoadBalancer/NodePort Services in front of Traefik."""
    ports = set(view.published_ports)
    for proxy in view.proxies:
        for p in as_list(proxy.props.get("ports")):
            try:
                ports.add(int(p.get("internal")))
            except (TypeError, ValueError, AttributeError):
                continue
    return ports


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    if not view.proxies:
        return
    urn = view.static_urn or view.proxy_urn
    eps = view.entrypoints()
    if not eps:
        # Traefik's default is one plain-HTTP entry point on :80 with no redirect.
        yield Finding(
            "Traefik has no entry points configured (default: plain HTTP on :80, no redirect)",
            urn=urn,
            service="traefik",
            field="edge",
            subject="entryPoints",
        )
        return
    tls = view.tls_entrypoints()
    internal, published = _internal(view), _published(view)
    for name, ep in eps.items():
        if name in tls:
            continue
        try:
            port = int(str(ep.get("address", "")).rsplit(":", 1)[-1].split("/")[0])
        except ValueError:
            port = None
        if name in internal and port not in published:
            continue
        redirect = ci_get(ep, "http", "redirections", "entryPoint")
        target = ci_get(redirect, "to") if isinstance(redirect, dict) else None
        scheme = ci_get(redirect, "scheme") if isinstance(redirect, dict) else None
        # `to` names a TLS entry point, or is a port (`:443`, which Traefik accepts as the
        # public port when a Service maps it onto the entry point's own).
        to_tls = target in tls or (isinstance(target, str) and PORT.fullmatch(target))
        if not to_tls or (scheme or "https") != "https":
            yield Finding(
                f"entry point {name} ({ep.get('address')}) serves plain HTTP without "
                "redirecting to HTTPS",
                urn=urn,
                service="traefik",
                field="edge",
                subject=f"entryPoints.{name}",
            )


RULE = Rule(
    name="traefik-http-redirects",
    description="Every plain-HTTP Traefik entry point redirects to the TLS entry point.",
    severity=Severity.HIGH,
    remediation="Keep the target's `web` entry point redirect (to: websecure, scheme: https).",
    check_stack=check,
    tags=("edge", "traefik", "docker", "kubernetes"),
)
