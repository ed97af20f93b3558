"""The builders' keywords the probe edge uses: they move what a test machine must move and
leave the rest of the generated configuration as the targets get it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.edge import traefik

from . import harness as h

pytestmark = pytest.mark.unit

USERS = "/probe/users"
PAIR = ("/probe/edge.crt", "/probe/edge.key")


@pytest.mark.parametrize("variant", h.VARIANTS)
def test_probe_dynamic_config_differs_only_in_what_a_test_moves(variant: str) -> None:
    platform = h.variant_platform(variant)
    routed = [s.name for s in traefik.routed_services(platform) if s.name != traefik.SERVICE]
    upstream = {name: f"http://127.0.0.1:{9000 + i}" for i, name in enumerate(routed)}
    probe = traefik.dynamic_config(platform, upstream=upstream, users_file=USERS,
                                   certificate=PAIR)
    real = traefik.dynamic_config(platform)
    for name in routed:
        servers = probe["http"]["services"][name]["loadBalancer"]["servers"]
        assert servers == [{"url": upstream[name]}]
    assert all(r["tls"] == {} for r in probe["http"]["routers"].values())
    assert probe["tls"]["certificates"] == [{"certFile": PAIR[0], "keyFile": PAIR[1]}]
    assert probe["tls"]["options"] == real["tls"]["options"]
    # Routers (but their certificate source) and middlewares (but the users file) are the
    # stack's own.
    for name, router in real["http"]["routers"].items():
        assert {k: v for k, v in probe["http"]["routers"][name].items() if k != "tls"} == \
            {k: v for k, v in router.items() if k != "tls"}
    moved: dict[str, Any] = copy.deepcopy(probe["http"]["middlewares"])
    assert moved[traefik.MW_ADMIN_AUTH]["basicAuth"].pop("usersFile") == USERS
    kept: dict[str, Any] = copy.deepcopy(real["http"]["middlewares"])
    kept[traefik.MW_ADMIN_AUTH]["basicAuth"].pop("usersFile")
    assert moved == kept


def test_an_upstream_map_must_cover_every_routed_service() -> None:
    platform = h.variant_platform("dev")
    with pytest.raises(traefik.EdgeConfigError, match="no upstream URL given"):
        traefik.dynamic_config(platform, upstream={"grafana": "http://127.0.0.1:1"})


def test_probe_static_config_moves_only_addresses() -> None:
    platform = h.variant_platform("prod")
    probe = traefik.static_config(platform, ports=(1080, 1443), acme=False,
                                  listen_host="127.0.0.1", internal_port=1082)
    assert {n: e["address"] for n, e in probe["entryPoints"].items()} == {
        traefik.WEB: "127.0.0.1:1080", traefik.WEBSECURE: "127.0.0.1:1443",
        traefik.METRICS: "127.0.0.1:1082"}
    real = traefik.static_config(platform, acme=False)
    for config in (probe, real):
        for entry in config["entryPoints"].values():
            entry.pop("address")
    assert probe == real
