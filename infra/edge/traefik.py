"""The Traefik edge, configured from the model.

Everything Traefik needs is written as two files and uploaded into its container: the static
configuration (entry points, API, ACME, logs, metrics) and one dynamic file for the file
provider (routers, middlewares, services, TLS options). Routers live in the file provider too,
not in Docker labels: TLS options cannot be carried by labels anyway, and without the Docker
provider Traefik needs no Docker socket (a mounted socket is root on the host).

The config builders are pure functions of the `Platform`, so tests and policies can read the
exact configuration that is deployed; `SelfSignedCertificate` is the one Pulumi component here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_tls as tls
import yaml

from infra.model.types import EdgeSettings, Exposure, Platform, SecretKind, Service, Volume

SERVICE = "traefik"  # the catalog's edge proxy

# Entry points. Only web and websecure are published; metrics (and ping) stay internal.
WEB = "web"
WEBSECURE = "websecure"
METRICS = "metrics"
WEB_PORT = 80
WEBSECURE_PORT = 443
PUBLISHED_PORTS: tuple[tuple[int, int], ...] = (
    (WEB_PORT, WEB_PORT), (WEBSECURE_PORT, WEBSECURE_PORT))

# Files inside the Traefik container. /etc/traefik/traefik.yml is Traefik's default static
# config location, so `traefik healthcheck --ping` finds the same configuration.
CONFIG_DIR = "/etc/traefik"
STATIC_PATH = f"{CONFIG_DIR}/traefik.yml"
DYNAMIC_PATH = f"{CONFIG_DIR}/dynamic/edge.yml"
CERT_PATH = f"{CONFIG_DIR}/certs/edge.crt"
KEY_PATH = "/run/secrets/edge_tls_key"
ACME_FILE = "acme.json"
ACME_RESOLVER = "acme"

# Middleware names (file provider, referenced as `<name>@file` from nowhere else).
MW_HEADERS = "security-headers"
MW_CORS = "cors"
MW_RATE = "rate-limit"
MW_LOGIN_RATE = "login-rate-limit"
MW_INFLIGHT = "inflight-limit"
MW_ADMIN_ALLOW = "admin-allowlist"
MW_ADMIN_AUTH = "admin-auth"

PUBLIC_MIDDLEWARES = (MW_HEADERS, MW_CORS, MW_RATE, MW_INFLIGHT)
LOGIN_MIDDLEWARES = (MW_HEADERS, MW_CORS, MW_LOGIN_RATE, MW_INFLIGHT)
# Security headers on every answer (401 and 403 included); the allowlist before anything else
# (a request from outside never reaches the password check); the rate and in-flight limits
# before basic auth, so password guessing from inside the allowlist is throttled too.
ADMIN_MIDDLEWARES = (MW_HEADERS, MW_ADMIN_ALLOW, MW_RATE, MW_INFLIGHT, MW_ADMIN_AUTH)
LOGIN_PRIORITY = 1000

# Modern suites only (forward secrecy, AEAD); TLS 1.3 suites are not configurable in Go.
TLS12_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
)
CURVES = ("X25519", "CurveP256", "CurveP384")

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CORS_HEADERS = ("Authorization", "Content-Type", "X-Request-Id", "X-Tenant-Id")
CORS_MAX_AGE_S = 600

SELF_SIGNED_VALIDITY_H = 90 * 24  # short-lived on purpose: dev and lab only

# Where the proxies in front of Traefik (ipStrategyDepth > 0) may connect from: private and
# loopback ranges, as load balancers in front of a single host sit on the private network.
# The model carries no list of proxy addresses yet; when it does, it replaces this.
TRUSTED_PROXY_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1/32")


# Request headers whose names alias another's (X_Auth_User, X.Auth.User for X-Auth-User) are
# dropped before routing: backends that turn header names into variables (CGI, PHP, WSGI,
# nginx) read them as the header Traefik manages, so a client could spoof it (CVE-2026-88879;
# Traefik keeps them by default).
ALIAS_HEADERS = "delete"


class EdgeConfigError(ValueError):
    """The catalog lacks something the edge cannot work without (names the service/field)."""


def edge_service(platform: Platform) -> Service:
    try:
        return platform.service(SERVICE)
    except KeyError:
        raise EdgeConfigError(
            f"{platform.source}: service '{SERVICE}': the catalog has no edge proxy"
        ) from None


def htpasswd_secret(platform: Platform) -> str:
    """Path of the admin users file (a secret delivered by the target like any other)."""
    proxy = edge_service(platform)
    for ref in proxy.secrets:
        if ref.kind is SecretKind.HTPASSWD:
            return ref.file
    raise EdgeConfigError(
        f"{platform.source}: service '{SERVICE}': field 'secrets': no {SecretKind.HTPASSWD.value} "
        "secret, so admin routers could not be put behind basic auth"
    )


def metrics_port(platform: Platform) -> int:
    port = edge_service(platform).metrics_port
    if port is None:
        raise EdgeConfigError(
            f"{platform.source}: service '{SERVICE}': field 'metrics_port' is required "
            "(Traefik metrics and ping live on an internal entry point)"
        )
    return port


def acme_storage(platform: Platform) -> str:
    """`<acme volume>/acme.json`: on the proxy's own volume, mounted by no other service."""
    return f"{acme_volume(platform).path.rstrip('/')}/{ACME_FILE}"


def acme_volume(platform: Platform) -> Volume:
    proxy = edge_service(platform)
    volumes = [v for v in proxy.volumes if "acme" in v.name and v.host_path is None]
    if len(volumes) != 1:
        raise EdgeConfigError(
            f"{platform.source}: service '{SERVICE}': field 'volumes': ACME needs exactly one "
            f"volume named *acme* for its certificate store (found {len(volumes)})")
    volume = volumes[0]
    sharing = sorted(s.name for s in platform.services
                     if s.name != SERVICE and any(v.name == volume.name for v in s.volumes))
    if sharing:
        raise EdgeConfigError(
            f"{platform.source}: service '{sharing[0]}': field 'volumes': the ACME store "
            f"'{volume.name}' must not be shared with other services")
    return volume


def routed_services(platform: Platform) -> tuple[Service, ...]:
    """Services the edge routes to: public and admin services with a route, by name."""
    return tuple(
        sorted(
            (s for s in platform.services
             if s.exposure in (Exposure.PUBLIC, Exposure.ADMIN) and s.route is not None),
            key=lambda s: s.name,
        )
    )


def _source_criterion(edge: EdgeSettings) -> dict[str, Any]:
    # depth 0 = the peer address; depth N = the Nth X-Forwarded-For entry from the right,
    # for N trusted proxies in front of Traefik. Either way the real client IP, never a header
    # the client alone controls.
    return {"ipStrategy": {"depth": edge.ip_strategy_depth}}


def static_config(platform: Platform, *, ports: tuple[int, int] = (WEB_PORT, WEBSECURE_PORT),
                  providers: Mapping[str, Any] | None = None,
                  acme: bool | None = None, redirect_to: str = WEBSECURE,
                  redirect_priority: int | None = None, listen_host: str = "",
                  internal_port: int | None = None, internal_host: str | None = None,
                  acme_storage_path: str | None = None) -> dict[str, Any]:
    """Traefik's static configuration. The defaults are the Docker target's (ports 80/443, the
    file provider, ACME in Traefik when tls is 'acme'); the Kubernetes target listens on
    unprivileged ports behind its Service, watches CRDs and leaves certificates to
    cert-manager (`acme=False`), redirecting to the public port (`redirect_to=":443"`) with the
    lowest priority (`redirect_priority=1`), so cert-manager's HTTP-01 challenge router, the
    only other router on `web`, answers on port 80.

    `listen_host` binds every entry point to one address (default: all interfaces) and
    `internal_port` moves the metrics/ping entry point off the catalog's metrics port: the
    probe tests (tests/edge) run this configuration on loopback, on free ports.
    `internal_host` binds the metrics/ping entry point alone to another address (a bare host's
    admin address, infra/cli/edge_config.py) and `acme_storage_path` puts the ACME store where
    that host keeps it instead of on the container's volume."""
    edge = platform.edge
    proxy = edge_service(platform)
    acme = edge.tls_mode == "acme" if acme is None else acme
    web_port, websecure_port = ports
    internal = metrics_port(platform) if internal_port is None else internal_port
    websecure: dict[str, Any] = {
        "address": f"{listen_host}:{websecure_port}",
        "http": {"tls": {"certResolver": ACME_RESOLVER} if acme else {}},
        # Drain in-flight requests on SIGTERM within the service's stop grace.
        "transport": {"lifeCycle": {"graceTimeOut": f"{proxy.stop_grace_s}s"}},
    }
    web: dict[str, Any] = {
        "address": f"{listen_host}:{web_port}",
        "http": {"redirections": {"entryPoint": {
            "to": redirect_to, "scheme": "https", "permanent": True,
            **({"priority": redirect_priority} if redirect_priority is not None else {})}}},
    }
    for entry in (web, websecure):
        entry["http"]["aliasHeadersStrategy"] = ALIAS_HEADERS
    if edge.ip_strategy_depth > 0:
        # Traefik drops X-Forwarded-For from untrusted peers before middlewares run; without
        # trusting the proxies in front, a depth-based strategy would find no client address
        # and every client would share one rate-limit bucket.
        for entry in (web, websecure):
            entry["forwardedHeaders"] = {"trustedIPs": list(TRUSTED_PROXY_RANGES)}
    config: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            WEB: web,
            WEBSECURE: websecure,
            METRICS: {"address": f"{listen_host if internal_host is None else internal_host}"
                                 f":{internal}",
                      "http": {"aliasHeadersStrategy": ALIAS_HEADERS}},
        },
        # The API and dashboard are served only through the admin router (TLS, allowlist, auth).
        "api": {"dashboard": True, "insecure": False},
        "ping": {"entryPoint": METRICS},
        "metrics": {"prometheus": {
            "entryPoint": METRICS, "addEntryPointsLabels": True,
            "addRoutersLabels": True, "addServicesLabels": True}},
        "log": {"level": "INFO", "format": "json"},
        # Request headers are dropped from the access log: they carry tokens and cookies.
        "accessLog": {"format": "json", "fields": {
            "defaultMode": "keep", "headers": {"defaultMode": "drop"}}},
        "providers": dict(providers) if providers is not None else {
            "file": {"filename": DYNAMIC_PATH, "watch": False}},
    }
    if acme:
        challenge: dict[str, Any] = (
            {"tlsChallenge": {}} if edge.acme_challenge == "tls-alpn"
            else {"httpChallenge": {"entryPoint": WEB}}
        )
        config["certificatesResolvers"] = {ACME_RESOLVER: {"acme": {
            "email": edge.acme_email,
            "caServer": edge.acme_ca_server,
            # Traefik creates this file 0600 and refuses to start if it is more open; it lives
            # on a volume that belongs to this one Traefik instance.
            "storage": acme_storage_path or acme_storage(platform),
            **challenge,
        }}}
    return config


def _rule(host: str, prefixes: Sequence[str]) -> str:
    rule = f"Host(`{host}`)"
    wanted = [p for p in prefixes if p != "/"]
    if not wanted:
        return rule
    alternatives = " || ".join(f"PathPrefix(`{p}`)" for p in wanted)
    return f"{rule} && ({alternatives})" if len(wanted) > 1 else f"{rule} && {alternatives}"


def _router(rule: str, service: str, middlewares: Sequence[str], edge: EdgeSettings,
            priority: int | None = None, *, acme: bool | None = None) -> dict[str, Any]:
    acme = edge.tls_mode == "acme" if acme is None else acme
    router: dict[str, Any] = {
        "rule": rule,
        "entryPoints": [WEBSECURE],
        "service": service,
        "middlewares": list(middlewares),
        "tls": {"certResolver": ACME_RESOLVER} if acme else {},
    }
    if priority is not None:
        router["priority"] = priority
    return router


def _lb_service(svc: Service, url: str | None = None) -> dict[str, Any]:
    lb: dict[str, Any] = {"servers": [{"url": url or f"http://{svc.name}:{svc.port}"}],
                          "passHostHeader": True}
    if svc.health is not None and svc.health.ready_path:
        # Traefik stops sending traffic to a backend whose readiness fails.
        lb["healthCheck"] = {"path": svc.health.ready_path,
                             "interval": f"{svc.health.interval_s}s",
                             "timeout": f"{svc.health.timeout_s}s"}
    return {"loadBalancer": lb}


def middlewares(platform: Platform, basic_auth_secret: str | None = None, *,
                users_file: str | None = None) -> dict[str, Any]:
    """Every middleware by name, as the file provider's `http.middlewares` and as the `spec`
    of a Traefik `Middleware` object. Basic auth reads the users file the target delivers
    (at `users_file` when given, e.g. a test's temporary file), or on Kubernetes the Secret
    `basic_auth_secret` (its `users` key)."""
    edge = platform.edge
    auth: dict[str, Any] = ({"secret": basic_auth_secret} if basic_auth_secret
                            else {"usersFile": users_file or htpasswd_secret(platform)})
    criterion = _source_criterion(edge)
    return {
        MW_HEADERS: {"headers": {
            "stsSeconds": edge.hsts_seconds,
            "stsIncludeSubdomains": True,
            "forceSTSHeader": True,
            "frameDeny": True,
            "contentTypeNosniff": True,
            "referrerPolicy": "strict-origin-when-cross-origin",
            # Do not advertise the software behind the edge.
            "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
        }},
        MW_CORS: {"headers": {
            "accessControlAllowOriginList": list(edge.cors_origins),
            "accessControlAllowMethods": list(CORS_METHODS),
            "accessControlAllowHeaders": list(CORS_HEADERS),
            "accessControlAllowCredentials": True,
            "accessControlMaxAge": CORS_MAX_AGE_S,
            "addVaryHeader": True,
        }},
        MW_RATE: {"rateLimit": {
            "average": edge.rate_average, "period": "1s", "burst": edge.rate_burst,
            "sourceCriterion": criterion}},
        MW_LOGIN_RATE: {"rateLimit": {
            "average": edge.login_rate_average, "period": f"{edge.login_rate_period_s}s",
            "burst": edge.login_rate_burst, "sourceCriterion": criterion}},
        MW_INFLIGHT: {"inFlightReq": {"amount": edge.inflight_requests,
                                      "sourceCriterion": criterion}},
        MW_ADMIN_ALLOW: {"ipAllowList": {"sourceRange": list(edge.admin_allowlist),
                                         "ipStrategy": {"depth": edge.ip_strategy_depth}}},
        MW_ADMIN_AUTH: {"basicAuth": {**auth, "removeHeader": True, "realm": "rampart-admin"}},
    }


@dataclass(frozen=True)
class Router:
    """One edge router: what it matches, the middlewares in order, where it sends requests
    (`service`; Traefik's own API when `internal`)."""

    name: str
    service: Service
    rule: str
    middlewares: tuple[str, ...]
    priority: int | None = None
    internal: bool = False


def routers(platform: Platform) -> list[Router]:
    """Every router of the edge, by routed service: public services get the public chain
    (and a stricter login router), admin services and Traefik's dashboard the admin chain."""
    out: list[Router] = []
    for svc in routed_services(platform):
        route = svc.route
        assert route is not None  # routed_services only returns routed services
        if svc.name == SERVICE:
            # Traefik's own dashboard and API: the internal service, admin protections only.
            out.append(Router(svc.name, svc, _rule(route.host, ("/api", "/dashboard")),
                              ADMIN_MIDDLEWARES, internal=True))
            continue
        rule = _rule(route.host, (route.path_prefix,))
        if svc.exposure is Exposure.ADMIN:
            out.append(Router(svc.name, svc, rule, ADMIN_MIDDLEWARES))
            continue
        out.append(Router(svc.name, svc, rule, PUBLIC_MIDDLEWARES))
        if route.login_paths:
            # Higher priority than the service's catch-all router, so login requests
            # always meet the strict limit.
            out.append(Router(f"{svc.name}-login", svc, _rule(route.host, route.login_paths),
                              LOGIN_MIDDLEWARES, priority=LOGIN_PRIORITY))
    return out


def dynamic_config(platform: Platform, *, upstream: Mapping[str, str] | None = None,
                   users_file: str | None = None,
                   certificate: tuple[str, str] | None = None) -> dict[str, Any]:
    """The file provider's dynamic configuration. The defaults are the Docker target's:
    services at `http://<service>:<port>` (Docker DNS), the users file where the target
    delivers it, the self-signed pair at CERT_PATH/KEY_PATH or ACME certificates.

    `upstream` (routed service name -> URL, every routed service) points the services
    elsewhere, `users_file` the admin basic auth, and `certificate` ((cert file, key file))
    serves that pair to every router instead of the stack's own (ACME off: pair it with
    `static_config(..., acme=False)`). The probe tests (tests/edge) run this configuration on
    a real Traefik in front of stand-in upstreams, with a local CA standing in for ACME."""
    edge = platform.edge
    routers_: dict[str, Any] = {}
    services: dict[str, Any] = {}
    acme = False if certificate is not None else None
    for r in routers(platform):
        target = "api@internal" if r.internal else r.service.name
        routers_[r.name] = _router(r.rule, target, r.middlewares, edge, priority=r.priority,
                                   acme=acme)
        if not r.internal:
            services[r.service.name] = _lb_service(r.service, _upstream(platform, r, upstream))

    tls_block: dict[str, Any] = {"options": {"default": _tls_options(edge)}}
    if certificate is not None or edge.tls_mode == "self-signed":
        cert_file, key_file = certificate or (CERT_PATH, KEY_PATH)
        tls_block["certificates"] = [{"certFile": cert_file, "keyFile": key_file}]
        tls_block["stores"] = {"default": {"defaultCertificate": {
            "certFile": cert_file, "keyFile": key_file}}}
    return {
        "http": {"routers": routers_,
                 "middlewares": middlewares(platform, users_file=users_file),
                 "services": services},
        "tls": tls_block,
    }


def _upstream(platform: Platform, router: Router,
              upstream: Mapping[str, str] | None) -> str | None:
    if upstream is None:
        return None
    try:
        return upstream[router.service.name]
    except KeyError:
        # Never fall back to Docker DNS for one service: a test would send it nowhere.
        raise EdgeConfigError(
            f"{platform.source}: service '{router.service.name}': no upstream URL given "
            f"(given for: {', '.join(sorted(upstream)) or 'none'})") from None


def tls_options(edge: EdgeSettings) -> dict[str, Any]:
    """The TLS options of every router (the file provider's `tls.options.default`, the spec
    of the Kubernetes target's TLSOption)."""
    return _tls_options(edge)


def _tls_options(edge: EdgeSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "minVersion": edge.min_tls_version,
        "sniStrict": True,
        "curvePreferences": list(CURVES),
    }
    if edge.min_tls_version == "VersionTLS12":
        options["cipherSuites"] = list(TLS12_CIPHER_SUITES)
    return options


_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present


class _NoAliasDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    # Shared sub-dicts (the source criterion) are written out in full, never as &anchors.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(config: Mapping[str, Any]) -> str:
    """Deterministic YAML (sorted keys) so renders and previews are byte-stable."""
    return yaml.dump(dict(config), Dumper=_NoAliasDumper, sort_keys=True,
                     default_flow_style=False, width=1000)


@dataclass(frozen=True)
class EdgeFile:
    """A file uploaded into the Traefik container."""

    path: str
    content: pulumi.Input[str]
    secret: bool


def edge_files(platform: Platform, certificate: SelfSignedCertificate | None) -> list[EdgeFile]:
    """The static and dynamic configuration, plus the self-signed pair when there is one.

    Secret files the catalog declares for Traefik (the admin htpasswd) are delivered by the
    target with every other service secret; only the generated key is added here."""
    files = [
        EdgeFile(STATIC_PATH, to_yaml(static_config(platform)), secret=False),
        EdgeFile(DYNAMIC_PATH, to_yaml(dynamic_config(platform)), secret=False),
    ]
    if platform.edge.tls_mode == "self-signed":
        if certificate is None:
            raise EdgeConfigError(
                f"{platform.source}: tls is 'self-signed' but no certificate was created")
        files.append(EdgeFile(CERT_PATH, certificate.cert_pem, secret=False))
        files.append(EdgeFile(KEY_PATH, certificate.key_pem, secret=True))
    return files


@dataclass(frozen=True)
class SelfSignedCertificateArgs:
    domain: str


class SelfSignedCertificate(pulumi.ComponentResource):
    """A self-signed edge certificate for dev and lab stacks (pulumi-tls, never for prod)."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]

    def __init__(self, name: str, args: SelfSignedCertificateArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rampart:traefik:SelfSignedCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=key.private_key_pem,
            dns_names=[args.domain, f"*.{args.domain}"],
            subject=tls.SelfSignedCertSubjectArgs(common_name=args.domain,
                                                  organization="Rampart dev"),
            validity_period_hours=SELF_SIGNED_VALIDITY_H,
            early_renewal_hours=7 * 24,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        self.cert_pem = cert.cert_pem
        self.key_pem = pulumi.Output.secret(key.private_key_pem)
        self.register_outputs({"cert_pem": self.cert_pem})
