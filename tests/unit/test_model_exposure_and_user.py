"""Issue 12, items 2, 3 (model side) and 6: exposure follows the kind of service, root is
refused under any spelling, the admin allowlist cannot open the address space, and a prod
stack's CORS origins are https.

Property tests generate the spellings (root users, data store placements, allowlist splits
that cover everything) rather than listing the cases the issue found.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.model import build_platform_from_data
from infra.model.errors import ValidationError
from infra.model.kinds import ADMIN_UI_IMAGES, DATA_STORE_IMAGES
from infra.model.types import Exposure, Platform

pytestmark = pytest.mark.unit

PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIGEST = "sha256:" + "cd" * 32
VERSIONS: dict[str, Any] = {"images": {
    "pg": {"repository": "docker.io/library/postgres", "tag": "16.9", "digest": DIGEST},
    "app": {"repository": "registry.example/erp/app", "tag": "1.2.3", "digest": DIGEST},
    "grafana": {"repository": "docker.io/grafana/grafana", "tag": "12.1.0", "digest": DIGEST},
}}
CATALOG: dict[str, Any] = {"platform": "erp", "services": {
    "db": {"group": "infra", "image": "pg", "port": 5432, "stateful": True, "user": "999:999",
           "volumes": {"db-data": "/var/lib/postgresql/data"}, "backup_exempt": "test",
           "health": {"command": ["pg_isready"]}},
    "api": {"group": "core", "image": "app", "port": 3001, "depends_on": ["db"],
            "user": "1000:1000", "health": {"ready": "/health/ready"}},
    "gateway": {"group": "edge", "image": "app", "port": 4000, "exposure": "public",
                "depends_on": ["api"], "route": {"host": "api.{domain}"},
                "health": {"ready": "/health/ready"}},
    "dashboards": {"group": "platform", "image": "grafana", "port": 3000, "exposure": "admin",
                   "route": {"host": "grafana.{domain}"}, "health": {"ready": "/api/health"}},
}}
PROD = {"environment": "prod", "domain": "erp.example.com", "acmeEmail": "ops@example.com"}


def build(mutate: Callable[[dict[str, Any], dict[str, Any]], None] = lambda c, v: None,
          stack: dict[str, Any] | None = None) -> Platform:
    catalog, versions = copy.deepcopy(CATALOG), copy.deepcopy(VERSIONS)
    mutate(catalog, versions)
    return build_platform_from_data(catalog, versions, stack, catalog_file="catalog.yaml",
                                    versions_file="versions.yaml",
                                    settings_source="Pulumi.test.yaml")


def error(mutate: Callable[[dict[str, Any], dict[str, Any]], None] = lambda c, v: None,
          stack: dict[str, Any] | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build(mutate, stack)
    assert "\n" not in str(info.value)
    return info.value


def test_the_base_catalog_builds() -> None:
    platform = build()
    assert platform.service("dashboards").exposure is Exposure.ADMIN


# -- 2. exposure is a property of the kind ------------------------------------------------------

def test_issue_case_public_postgres_with_route_and_health() -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        c["services"]["db"].update(exposure="public", route={"host": "db.{domain}"},
                                   health={"ready": "/health", "port": 5432})

    err = error(mutate)
    assert (err.file, err.service, err.field) == ("catalog.yaml", "db", "exposure"), str(err)
    assert "data store" in err.message and "public" in err.message


@st.composite
def data_stores(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A data store under any disguise: group infra with any image, or a data store image in
    any group; public or admin, or internal with a route, or on the edge network."""
    image = draw(st.sampled_from(sorted(DATA_STORE_IMAGES)))
    registry = draw(st.sampled_from(["docker.io/library", "quay.io/acme", "registry.example",
                                     "ghcr.io/org/mirror"]))
    disguise = draw(st.sampled_from(["image", "group"]))
    pin = {"repository": f"{registry}/{image}" if disguise == "image"
           else "registry.example/erp/app", "tag": "1.2.3", "digest": DIGEST}
    group = (draw(st.sampled_from(["core", "business", "edge", "platform", "infra"]))
             if disguise == "image" else "infra")
    how = draw(st.sampled_from(["public", "admin", "route", "edge-network"]))
    service: dict[str, Any] = {"group": group, "image": "store", "port": 7000,
                               "health": {"ready": "/health"}}
    if how in ("public", "admin"):
        service.update(exposure=how, route={"host": "store.{domain}"})
    elif how == "route":
        service["route"] = {"host": "store.{domain}"}
    else:
        service["networks"] = ["edge", "backend"]
    return {"store": pin}, {"store": service}


@PROFILE
@given(case=data_stores())
def test_data_stores_are_never_routed(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    pins, services = case

    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"].update(pins)
        c["services"].update(services)

    err = error(mutate)
    assert err.service == "store", str(err)
    assert err.field in ("exposure", "route", "networks"), str(err)
    assert "data store" in err.message or "backend network only" in err.message, str(err)


@pytest.mark.parametrize("image", sorted(DATA_STORE_IMAGES)[:12])
def test_data_store_images_stay_internal_and_build(image: str) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"]["store"] = {"repository": f"docker.io/library/{image}", "tag": "1.2.3"}
        c["services"]["store"] = {"group": "platform", "image": "store", "port": 7000}

    assert build(mutate).service("store").exposure is Exposure.INTERNAL


@PROFILE
@given(repository=st.sampled_from(["registry.example/erp/app", "docker.io/library/nginx",
                                   "docker.io/library/postgres", "quay.io/keycloak/keycloak",
                                   "docker.io/dpage/pgadmin4", "docker.io/provectuslabs/kafka-ui"]),
       group=st.sampled_from(["core", "business", "edge", "platform"]))
def test_admin_exposure_only_for_known_admin_uis(repository: str, group: str) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"]["tool"] = {"repository": repository, "tag": "1.2.3", "digest": DIGEST}
        c["services"]["tool"] = {"group": group, "image": "tool", "port": 8000,
                                 "exposure": "admin", "route": {"host": "tool.{domain}"},
                                 "health": {"ready": "/"}}

    err = error(mutate)
    assert (err.service, err.field) == ("tool", "exposure"), str(err)
    assert "admin" in err.message


@pytest.mark.parametrize("image", sorted(ADMIN_UI_IMAGES))
def test_known_admin_uis_may_be_admin(image: str) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"]["ui"] = {"repository": f"docker.io/acme/{image}", "tag": "3.4.5"}
        c["services"]["ui"] = {"group": "platform", "image": "ui", "port": 9999,
                               "exposure": "admin", "route": {"host": "ui.{domain}"},
                               "health": {"ready": "/ready"}}

    assert build(mutate).service("ui").exposure is Exposure.ADMIN


def test_stateful_alone_is_not_a_data_store() -> None:
    """A stateful app may be public (its state is not a database port)."""
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        c["services"]["gateway"].update(stateful=True, volumes={"uploads": "/uploads"},
                                        backup_exempt="cache of generated files")

    assert build(mutate).service("gateway").exposure is Exposure.PUBLIC


# -- 3. root under any spelling ---------------------------------------------------------------

@st.composite
def root_users(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["name", "digits", "int"]))
    if kind == "int":
        return draw(st.sampled_from([0, 2**32, 2 * 2**32]))
    uid = ("root" if kind == "name" else
           draw(st.sampled_from(["", "+", "-"])) + "0" * draw(st.integers(1, 10)))
    if kind == "digits" and draw(st.booleans()):
        uid = str(2**32 * draw(st.integers(1, 2)))  # wraps to 0
    group = draw(st.sampled_from(["", ":0", ":00", ":root", ":1000", ":999", ": 0"]))
    pad = draw(st.sampled_from(["", " ", "\t"]))
    return f"{pad}{uid}{group}{pad}"


@PROFILE
@given(user=root_users())
def test_root_is_refused_under_any_spelling(user: Any) -> None:
    err = error(lambda c, v: c["services"]["api"].update(user=user))
    assert (err.service, err.field) == ("api", "user"), str(err)
    assert "runs as root" in err.message, str(err)


@pytest.mark.parametrize("user", ["root", "0", "00", "0000", "0:0", "00:00", "root:root",
                                  "0:1000", " 0 ", 0, "+0", "-0", "4294967296"])
def test_root_spellings_the_issue_names(user: Any) -> None:
    err = error(lambda c, v: c["services"]["api"].update(user=user))
    assert err.field == "user" and "runs as root" in err.message


@pytest.mark.parametrize("user", ["1000", "1000:1000", "1000:0", "472:0", "10", "0100",
                                  "node", "node:node", "rootless", "65534:65534"])
def test_non_root_users_build(user: str) -> None:
    """gid 0 is allowed by decision (Elasticsearch and Grafana images run as <uid>:0)."""
    assert build(lambda c, v: c["services"]["api"].update(user=user)).service(
        "api").security.user == user


# -- 6. the admin allowlist and CORS ------------------------------------------------------------

@st.composite
def covering_splits(draw: st.DrawFn) -> list[str]:
    """All of IPv4 (or IPv6), split into random pieces: every list covers everything."""
    family = draw(st.sampled_from(["0.0.0.0/0", "::/0"]))
    pieces = [ipaddress.ip_network(family)]
    for _ in range(draw(st.integers(1, 12))):
        index = draw(st.integers(0, len(pieces) - 1))
        net = pieces.pop(index)
        if net.prefixlen >= 10:
            pieces.append(net)
            continue
        pieces.extend(net.subnets())
    draw(st.randoms()).shuffle(pieces)
    return [str(p) for p in pieces]


@PROFILE
@given(cidrs=covering_splits())
def test_allowlist_covering_everything_is_refused(cidrs: list[str]) -> None:
    err = error(stack={"adminAllowlist": cidrs})
    assert err.file == "Pulumi.test.yaml" and err.service is None, str(err)
    assert err.field is not None and err.field.startswith("adminAllowlist"), str(err)


def test_issue_case_two_halves_of_ipv4() -> None:
    err = error(stack={"adminAllowlist": ["0.0.0.0/1", "128.0.0.0/1"]})
    assert err.field == "adminAllowlist[0]" and "/8" in err.message


def test_all_of_ipv4_in_slash_eights_is_refused() -> None:
    eights = [f"{i}.0.0.0/8" for i in range(256)]
    err = error(stack={"adminAllowlist": eights, "adminAllowlistMaxShare": 0.5})
    assert err.field == "adminAllowlist" and "all of IPv4" in err.message


@pytest.mark.parametrize("cidr", ["::ffff:0:0/96", "::ffff:0.0.0.0/97", "::/64", "::/80",
                                  "::ffff:0:0/100"])
def test_ipv4_mapped_ipv6_counts_as_ipv4(cidr: str) -> None:
    err = error(stack={"adminAllowlist": [cidr]})
    assert err.field == "adminAllowlist[0]", str(err)


@PROFILE
@given(prefixes=st.lists(st.integers(8, 24), min_size=1, max_size=24),
       first=st.integers(0, 2**24 - 1))
def test_union_share_is_bounded(prefixes: list[int], first: int) -> None:
    nets = []
    for offset, prefix in enumerate(prefixes):
        address = ((first + offset * 2**20) % 2**24) << 8
        nets.append(ipaddress.IPv4Network((address, prefix), strict=False))
    cidrs = list(dict.fromkeys(str(n) for n in nets))
    share = sum(n.num_addresses for n in ipaddress.collapse_addresses(
        ipaddress.ip_network(c) for c in cidrs)) / 2**32
    if share > 1 / 16:
        err = error(stack={"adminAllowlist": cidrs})
        assert err.field == "adminAllowlist" and "share" in err.message.lower(), str(err)
    else:
        assert build(stack={"adminAllowlist": cidrs}).edge.admin_allowlist == tuple(cidrs)


@pytest.mark.parametrize(("stack", "field"), [
    ({"adminAllowlist": ["10.0.0.0/7"]}, "adminAllowlist[0]"),
    ({"adminAllowlist": ["2001::/7"]}, "adminAllowlist[0]"),
    ({"adminAllowlist": ["10.0.0.0/16"], "adminAllowlistMinPrefix": 20}, "adminAllowlist[0]"),
    ({"adminAllowlistMinPrefix": 4}, "adminAllowlistMinPrefix"),
    ({"adminAllowlistMaxShare": 1}, "adminAllowlistMaxShare"),
    ({"adminAllowlistMaxShare": 0}, "adminAllowlistMaxShare"),
    ({"adminAllowlist": ["10.0.0.0/8", "11.0.0.0/8"], "adminAllowlistMaxShare": 0.005},
     "adminAllowlist"),
])
def test_allowlist_settings(stack: dict[str, Any], field: str) -> None:
    err = error(stack=stack)
    assert err.field == field, str(err)


def test_default_and_committed_allowlists_build() -> None:
    assert build().edge.admin_allowlist[0] == "10.0.0.0/8"
    assert build(stack={"adminAllowlist": ["10.8.0.0/24", "2001:db8::/32"]})


@pytest.mark.parametrize("origin", ["http://app.erp.example.com", "http://localhost:3000",
                                    "http://app.localhost"])
def test_http_origin_refused_in_prod(origin: str) -> None:
    err = error(stack={**PROD, "corsOrigins": ["https://app.erp.example.com", origin]})
    assert (err.file, err.field) == ("Pulumi.test.yaml", "corsOrigins[1]"), str(err)
    assert "https" in err.message


def test_http_origin_in_dev_only_on_loopback() -> None:
    dev = build(stack={"corsOrigins": ["http://localhost:5173", "http://app.erp.localhost",
                                       "https://app.erp.localhost"]})
    assert dev.edge.cors_origins[0] == "http://localhost:5173"
    err = error(stack={"corsOrigins": ["http://app.example.com"]})
    assert err.field == "corsOrigins[0]" and "loopback" in err.message
