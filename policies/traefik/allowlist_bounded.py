"""traefik-allowlist-bounded: an IP allowlist admits a bounded part of the address space.

The admin routers (Traefik dashboard, Grafana, Prometheus, Alertmanager) refuse everything
outside `rampart:adminAllowlist` before asking for a password, which is only a defence if the
list is narrow. Judged on every `ipAllowList` (and Traefik v2's `ipWhiteList`) middleware:

- no entry shorter than /8 (`Context.allowlist_min_prefix`), in IPv4 or IPv6: a /8 already
  admits 1/256 of its address family;
- the union of the entries never covers a whole address family (all of IPv4, all of IPv6):
  `[0.0.0.0/1, 128.0.0.0/1]` is `0.0.0.0/0` in two halves (`Context.allowlist_max_share`
  lowers that bound);
- IPv4-mapped IPv6 ranges are IPv4 ranges (`::ffff:0:0/96` is all of IPv4 to Traefik, whose
  Go matcher compares mapped addresses as IPv4);
- an entry that is neither an address nor a network is refused too (Traefik would refuse to
  build the middleware, leaving the router's behaviour to chance).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from fractions import Fraction

from policies.core import Context, Finding, Resource, Rule, Severity
from policies.traefik.config import ci_get, collect, split

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MIDDLEWARE_KINDS = ("ipAllowList", "ipWhiteList")
MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")
FAMILY = {4: "IPv4", 6: "IPv6"}


def network(entry: str) -> Network | None:
    """An allowlist entry as Traefik reads it: a CIDR or a single address; IPv4-mapped IPv6
    ranges as the IPv4 range they stand for."""
    try:
        net: Network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(MAPPED_V4):
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    return net


def share(nets: Sequence[Network], version: int) -> Fraction:
    """The fraction of one address family the union of `nets` covers."""
    collapsed: list[Network]
    if version == 4:
        collapsed = list(ipaddress.collapse_addresses(
            n for n in nets if isinstance(n, ipaddress.IPv4Network)))
    else:
        collapsed = list(ipaddress.collapse_addresses(
            n for n in nets if isinstance(n, ipaddress.IPv6Network)))
    size = 2 ** (32 if version == 4 else 128)
    return Fraction(sum(n.num_addresses for n in collapsed), size)


def _percent(value: Fraction) -> str:
    return f"{float(value) * 100:.3g}%"


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    view = collect(resources)
    for mw in view.middlewares.values():
        for kind in MIDDLEWARE_KINDS:
            config = ci_get(mw.config, kind)
            if not isinstance(config, dict):
                continue
            entries = split(ci_get(config, "sourceRange"))
            yield from _judge(mw.name, mw.urn, entries, ctx)


def _judge(name: str, urn: str, entries: list[str], ctx: Context) -> Iterator[Finding]:
    nets: list[Network] = []
    for entry in entries:
        net = network(entry)
        if net is None:
            yield Finding(f"IP allowlist {name}: {entry!r} is not an address or a network",
                          urn=urn, service="traefik", field="edge", subject=f"{name}/{entry}")
            continue
        nets.append(net)
        if net.prefixlen < ctx.allowlist_min_prefix:
            yield Finding(
                f"IP allowlist {name} admits {entry} (a /{net.prefixlen}: "
                f"{_percent(Fraction(1, 2 ** net.prefixlen))} of all {FAMILY[net.version]} "
                f"addresses; no prefix may be shorter than /{ctx.allowlist_min_prefix})",
                urn=urn, service="traefik", field="edge", subject=f"{name}/{entry}")
    for version in (4, 6):
        covered = share(nets, version)
        if covered and covered >= ctx.allowlist_max_share:
            what = f"all of {FAMILY[version]}" if covered == 1 else \
                f"{_percent(covered)} of {FAMILY[version]}"
            yield Finding(
                f"IP allowlist {name} admits {what} in union "
                f"({', '.join(str(n) for n in nets if n.version == version)})",
                urn=urn, service="traefik", field="edge", subject=f"{name}/sourceRange")


RULE = Rule(
    name="traefik-allowlist-bounded",
    description="IP allowlists (the admin allowlist) admit no prefix shorter than /8 and, in "
    "union, never a whole address family.",
    severity=Severity.HIGH,
    remediation="List the operators' networks in `rampart:adminAllowlist` (a VPN range, the "
    "office's /24), never 0.0.0.0/0, ::/0 or halves of them.",
    check_stack=check,
    tags=("edge", "traefik", "network", "docker", "kubernetes"),
)
