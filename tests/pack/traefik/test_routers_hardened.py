"""traefik-routers-hardened: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import (
    CONTAINER,
    TRAEFIK_DYNAMIC,
    changed,
    container,
    edge_stack,
    settings,
    waiver,
)

from policies.traefik import routers_hardened

pytestmark = pytest.mark.unit
RULE = routers_hardened.RULE


def test_generated_routers_pass(harness):
    assert harness.stack(RULE, edge_stack()) == []


@pytest.mark.parametrize("path, value, expected", [
    ("http.routers.api-gateway.entryPoints", ["web"], "non-TLS entry point(s) web"),
    ("http.routers.api-gateway.middlewares", ["security-headers", "cors"],
     "no rate-limit middleware"),
    ("http.routers.api-gateway.middlewares", ["rate-limit"], "no security-headers middleware"),
])
def test_weak_router_fails(harness, path, value, expected):
    found = harness.stack(RULE, edge_stack(None, changed(TRAEFIK_DYNAMIC, path, value)))
    assert len(found) == 1 and expected in found[0].message, found
    assert found[0].message.startswith("router api-gateway ")


def test_router_without_entry_points_fails(harness):
    dynamic = changed(TRAEFIK_DYNAMIC, "http.routers.api-gateway.entryPoints", None)
    found = harness.stack(RULE, edge_stack(None, dynamic))
    assert [v.message for v in found] == [
        "router api-gateway has no entryPoints, so Traefik attaches it to every entry point "
        "(HTTP included)"]


def test_label_routers_are_judged_with_provider_suffixes(harness):
    labelled = container(name="erp-crm", labels=[
        {"label": "rampart.service", "value": "crm"},
        {"label": "traefik.http.routers.crm.rule", "value": "Host(`crm.erp.test`)"},
        {"label": "traefik.http.routers.crm.entrypoints", "value": "websecure"},
        {"label": "traefik.http.routers.crm.tls", "value": "true"},
        {"label": "traefik.http.routers.crm.middlewares",
         "value": "security-headers@file,crm-chain@docker"},
        {"label": "traefik.http.middlewares.crm-chain.chain.middlewares", "value": "rate-limit"},
    ])
    assert harness.stack(RULE, edge_stack(None, None, (CONTAINER, "erp-crm-container",
                                                        labelled))) == []
    labelled["labels"] = labelled["labels"][:-1]  # the chain no longer exists
    found = harness.stack(RULE, edge_stack(None, None, (CONTAINER, "erp-crm-container",
                                                         labelled)))
    assert [v.message for v in found] == ["router crm has no rate-limit middleware"]
    assert found[0].urn.endswith("::erp-crm-container")


def test_waiver_override(harness):
    w = waiver(RULE.name, "api-gateway", subject="api-gateway/rateLimit")
    stack = edge_stack(None, changed(TRAEFIK_DYNAMIC, "http.routers.api-gateway.middlewares",
                                     ["security-headers"]))
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
