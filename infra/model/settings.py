"""The stack's `rampart:` settings: parsed, checked, defaulted to the owners' figures.

Input is the plain config namespace (camelCase keys) that `infra/stack/__init__.py` reads; output is
typed values. Every key is documented in docs/configuration.md — keep the two in step.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from infra.model import defaults as d
from infra.model import secret_scan
from infra.model.errors import ValidationError
from infra.model.quantities import QuantityError, parse_cpu, parse_memory
from infra.model.reader import Fields, show_key
from infra.model.types import EdgeSettings

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME = rf"(?=.{{1,253}}$)(?:{_LABEL}\.)+{_LABEL}"
_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
# port: 1-65535 without leading zeros (checked against the bound in `_cors`)
_ORIGIN = re.compile(r"https?://(?P<host>[a-z0-9.-]+)(?::(?P<port>[1-9][0-9]{0,4}))?")
_MAX_PORT = 65535
_LOOPBACK_NAME = re.compile(r"localhost|(?:[a-z0-9-]+\.)+localhost")
# Every key of the `rampart:` namespace the model reads (docs/configuration.md lists each).
SETTINGS_KEYS = frozenset({
    "target", "environment", "catalog", "requireDigests", "domain", "tls", "acmeEmail",
    "acmeCaServer", "acmeChallenge", "minTlsVersion", "rateLimit", "loginRateLimit",
    "ipStrategyDepth", "corsOrigins", "adminAllowlist", "adminAllowlistMinPrefix",
    "adminAllowlistMaxShare", "inflightRequests", "hstsSeconds", "resources",
})
# Keys of the same namespace that other modules own and validate; the model lets them pass
# (the stack file is one namespace, and unknown keys must still be refused somewhere).
FOREIGN_KEYS = {
    "alerts": "infra/observability/settings.py",
    "observability": "infra/observability/settings.py",
    "policyWaivers": "policies/settings.py",
    "policyWaiverMaxDays": "policies/settings.py",
    "policyAllowedCapabilities": "policies/settings.py",
    "vaultAddr": "infra/secrets",
    "vaultMount": "infra/secrets",
    "vaultAllowInsecureHttp": "infra/secrets",
    "kubernetes": "infra/targets/kubernetes/settings.py",
}
# Upper bounds of the edge's figures: Traefik drops its whole dynamic configuration (every
# route 404) on a value its int64 fields or Go durations cannot hold, so the stack is refused
# first (tests/edge/test_traefik_rejects.py feeds Traefik the values it drops).
MAX_COUNT = 1_000_000  # requests per period, burst, concurrent requests
MAX_PERIOD_S = 7 * 86400  # a login window of a week at most
MAX_HSTS_S = 2 * 365 * 86400  # two years, the preload list's customary ceiling
RESOURCE_KEYS = {
    "cpuLimit": "cpu_limit",
    "memoryLimit": "memory_limit",
    "cpuReservation": "cpu_reservation",
    "memoryReservation": "memory_reservation",
}


@dataclass(frozen=True)
class Settings:
    environment: str
    require_digests: bool
    edge: EdgeSettings
    # service name -> {snake_case resource key -> parsed quantity}; the service names are
    # checked against the catalog once it is read
    resources: Mapping[str, Mapping[str, float | int]] = field(default_factory=dict)
    source: str = "<stack config>"  # where these settings came from, for error messages
    catalog: str | None = None
    target: str = "docker"


def parse_settings(raw: Mapping[str, Any] | None, source: str) -> Settings:
    f = Fields({} if raw is None else raw, file=source, what="the rampart settings")
    # Before any read could quote a value or key back (a URL with a password, a token).
    findings = secret_scan.settings_findings(f.data, skip=set(FOREIGN_KEYS))
    if findings:
        raise f.error(f"{secret_scan.message(findings[0])}; secrets come only from Vault, "
                      "never from the stack file", field=findings[0].where or None)
    f.only(SETTINGS_KEYS | frozenset(FOREIGN_KEYS))
    for key in FOREIGN_KEYS:
        f.seen.add(key)
    environment = f.choice("environment", ("dev", "prod"), "dev")
    prod = environment == "prod"
    # Production always pins by digest (DESIGN §1); dev may opt in to rehearse it.
    require_digests = f.bool_("requireDigests", prod)
    if prod and not require_digests:
        raise f.fail("requireDigests", "a prod stack always pins images by digest; remove "
                                       "the key or set it to true")
    target = f.choice("target", ("docker", "kubernetes"), "docker")
    catalog = f.str_("catalog", None)

    if prod and not f.has("domain"):
        raise f.fail("domain", "is required for a prod stack (the public DNS name)")
    domain = f.str_("domain", d.DEV_DOMAIN, pattern=HOSTNAME,
                    hint="a lower-case DNS name such as erp.example.com")

    tls = f.choice("tls", ("acme", "self-signed"), "acme" if prod else "self-signed")
    if prod and tls == "self-signed":
        raise f.fail("tls", "a prod stack must use 'acme' (self-signed is for dev and the lab)")
    acme_email = f.str_("acmeEmail", None, pattern=_EMAIL, hint="an e-mail address")
    if tls == "acme" and acme_email is None:
        raise f.fail("acmeEmail", "is required when tls is 'acme' (Let's Encrypt expiry notices)")
    # Staging CA unless prod: rate limits at the production CA are easy to exhaust in tests.
    ca_default = d.ACME_CA_PRODUCTION if prod else d.ACME_CA_STAGING
    acme_ca = f.str_("acmeCaServer", ca_default, pattern=r"https://\S+",
                     hint="an https:// ACME directory URL")
    challenge = f.choice("acmeChallenge", ("tls-alpn", "http"), "tls-alpn")
    min_tls = f.choice("minTlsVersion", ("VersionTLS12", "VersionTLS13"), d.MIN_TLS_VERSION)

    rate = f.sub("rateLimit", what="'rateLimit'")
    rate_average, rate_burst = d.RATE_AVERAGE, d.RATE_BURST
    if rate is not None:
        rate_average = rate.int_("average", d.RATE_AVERAGE, minimum=1, maximum=MAX_COUNT)
        rate_burst = rate.int_("burst", d.RATE_BURST, minimum=1, maximum=MAX_COUNT)
        rate.done()

    login = f.sub("loginRateLimit", what="'loginRateLimit'")
    login_average, login_period, login_burst = (
        d.LOGIN_RATE_AVERAGE, d.LOGIN_RATE_PERIOD_S, d.LOGIN_RATE_BURST)
    if login is not None:
        login_average = login.int_("average", d.LOGIN_RATE_AVERAGE, minimum=1,
                                   maximum=MAX_COUNT)
        login_period = login.int_("periodSeconds", d.LOGIN_RATE_PERIOD_S, minimum=1,
                                  maximum=MAX_PERIOD_S)
        login_burst = login.int_("burst", d.LOGIN_RATE_BURST, minimum=1, maximum=MAX_COUNT)
        login.done()

    depth = f.int_("ipStrategyDepth", 0, minimum=0, maximum=16)
    cors = _cors(f, domain, https_only=prod)
    allowlist, min_prefix, max_share = _allowlist(f)
    inflight = f.int_("inflightRequests", d.INFLIGHT_REQUESTS, minimum=1, maximum=MAX_COUNT)
    hsts = f.int_("hstsSeconds", d.HSTS_SECONDS, minimum=0, maximum=MAX_HSTS_S)
    if prod and hsts < d.HSTS_SECONDS:
        raise f.fail("hstsSeconds", f"a prod stack keeps HSTS at least one year ({d.HSTS_SECONDS})")
    resources = _resources(f)
    f.done()

    edge = EdgeSettings(
        domain=domain, tls_mode=tls, acme_email=acme_email, acme_ca_server=acme_ca,
        acme_challenge=challenge, min_tls_version=min_tls,
        rate_average=rate_average, rate_burst=rate_burst,
        login_rate_average=login_average, login_rate_period_s=login_period,
        login_rate_burst=login_burst, ip_strategy_depth=depth, cors_origins=cors,
        admin_allowlist=allowlist, inflight_requests=inflight, hsts_seconds=hsts,
        admin_allowlist_min_prefix=min_prefix, admin_allowlist_max_share=max_share,
    )
    return Settings(environment=environment, require_digests=require_digests, edge=edge,
                    resources=resources, catalog=catalog, target=target, source=source)


def _cors(f: Fields, domain: str, *, https_only: bool) -> tuple[str, ...]:
    """Default: the ERP web front end on app.<domain>; never a wildcard. A prod stack serves
    only HTTPS (ACME certificates, a year of HSTS), so its origins are https:// too: a page
    loaded over plain HTTP could be rewritten in transit and call the API as the user. Other
    stacks may name a plain-HTTP origin on the loopback names only (`localhost`,
    `*.localhost`: a front end's dev server)."""
    origins = f.str_list("corsOrigins", (f"https://app.{domain}",))
    for index, origin in enumerate(origins):
        where = f"corsOrigins[{index}]"
        if "*" in origin:
            raise f.fail(where, "'*' is never allowed: list each origin explicitly")
        match = _ORIGIN.fullmatch(origin)
        if (not match or not re.fullmatch(HOSTNAME + "|localhost", match["host"])
                or int(match["port"] or 1) > _MAX_PORT):
            raise f.fail(where, f"'{show_key(origin)}' is not an origin (scheme://host[:port], "
                                "no path)")
        if origin.startswith("http://"):
            if https_only:
                raise f.fail(where, f"'{show_key(origin)}' is plain HTTP; a prod stack requires "
                                    "TLS, so every origin is https://")
            if not _LOOPBACK_NAME.fullmatch(match["host"]):
                raise f.fail(where, f"'{show_key(origin)}' is plain HTTP; only loopback origins "
                                    "(localhost, *.localhost) may be http://, others are "
                                    "https://")
    return tuple(origins)


# IPv4 addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d): Traefik (Go's net.IPNet) matches IPv4
# clients against these, so ::ffff:0:0/96 is all of IPv4.
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _family_share(networks: list[_Net], bits: int) -> float:
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(networks)) / 2**bits


def _allowlist(f: Fields) -> tuple[tuple[str, ...], int, float]:
    """Each network at least a /`adminAllowlistMinPrefix` (default /8), and the union of the
    networks at most `adminAllowlistMaxShare` of each address family (default 1/16, i.e.
    sixteen /8s), never all of it: `[0.0.0.0/1, 128.0.0.0/1]` is `0.0.0.0/0` in two
    pieces. IPv4-mapped IPv6 networks count as the IPv4 networks they match."""
    cidrs = f.str_list("adminAllowlist", d.ADMIN_ALLOWLIST)
    min_prefix = f.int_("adminAllowlistMinPrefix", d.ADMIN_ALLOWLIST_MIN_PREFIX,
                        minimum=d.ADMIN_ALLOWLIST_MIN_PREFIX, maximum=32)
    max_share = f.number("adminAllowlistMaxShare", d.ADMIN_ALLOWLIST_MAX_SHARE, minimum=0)
    if not 0 < max_share <= d.ADMIN_ALLOWLIST_MAX_SHARE_BOUND:
        raise f.fail("adminAllowlistMaxShare", "must be above 0 and at most "
                                               f"{d.ADMIN_ALLOWLIST_MAX_SHARE_BOUND:g} (a "
                                               "share of each address family)")
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for index, cidr in enumerate(cidrs):
        where = f"adminAllowlist[{index}]"
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise f.fail(where, f"'{show_key(cidr)}' is not a CIDR such as 10.0.0.0/8") from None
        if network.prefixlen == 0:
            raise f.fail(where, f"'{cidr}' allows every address; admin routers need a real "
                                "allowlist")
        if isinstance(network, ipaddress.IPv6Network) and network.overlaps(_V4_MAPPED):
            if network.prefixlen < _V4_MAPPED.prefixlen:
                raise f.fail(where, f"'{cidr}' contains ::ffff:0:0/96, which matches every "
                                    "IPv4 client")
            mapped = ipaddress.IPv4Network(
                (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
            if mapped.prefixlen < min_prefix:
                raise f.fail(where, f"'{cidr}' is the IPv4 network {mapped} (IPv4-mapped); "
                                    f"no admin network may be wider than a /{min_prefix}")
            v4.append(mapped)
            continue
        if network.prefixlen < min_prefix:
            raise f.fail(where, f"'{cidr}' is wider than a /{min_prefix}; list the networks "
                                "admins really come from")
        if isinstance(network, ipaddress.IPv4Network):
            v4.append(network)
        else:
            v6.append(network)
    for family, share in (("IPv4", _family_share(v4, 32)), ("IPv6", _family_share(v6, 128))):
        if share >= 1:
            raise f.fail("adminAllowlist", f"together the networks cover all of {family}; "
                                           "admin routers need a real allowlist")
        if share > max_share:
            raise f.fail("adminAllowlist", f"together the networks cover {share:.2%} of "
                                           f"{family}, more than the {max_share:.2%} "
                                           "adminAllowlistMaxShare allows")
    return tuple(cidrs), min_prefix, max_share


def _resources(f: Fields) -> dict[str, dict[str, float | int]]:
    block = f.sub("resources", what="'resources'")
    if block is None:
        return {}
    overrides: dict[str, dict[str, float | int]] = {}
    for service in block.data:
        block.seen.add(service)
        entry = block.sub(service, required=True, what=f"'resources.{service}'")
        assert entry is not None
        values: dict[str, float | int] = {}
        for key in entry.data:
            if key not in RESOURCE_KEYS:
                raise entry.fail(key, "unknown key (allowed here: "
                                      f"{', '.join(sorted(RESOURCE_KEYS))})")
            parse = parse_cpu if key.startswith("cpu") else parse_memory
            try:
                values[RESOURCE_KEYS[key]] = parse(entry.data[key])
            except QuantityError as exc:
                raise entry.fail(key, str(exc)) from None
        overrides[service] = values
    return overrides


def unknown_resource_service(settings: Settings, known: set[str], source: str) -> None:
    for service in settings.resources:
        if service not in known:
            raise ValidationError(source, f"no service '{show_key(service)}' in the catalog",
                                  field=f"resources.{show_key(service)}")
