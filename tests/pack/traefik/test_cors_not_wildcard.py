"""traefik-cors-not-wildcard: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import TRAEFIK_DYNAMIC, changed, edge_stack, settings, waiver

from policies.traefik import cors_not_wildcard

pytestmark = pytest.mark.unit
RULE = cors_not_wildcard.RULE
ORIGINS = "http.middlewares.cors.headers.accessControlAllowOriginList"


def test_exact_origins_pass(harness):
    assert harness.stack(RULE, edge_stack()) == []


@pytest.mark.parametrize("path, value", [
    (ORIGINS, ["https://app.erp.test", "*"]),
    ("http.middlewares.cors.headers.accessControlAllowOriginListRegex", [".*"]),
])
def test_wildcard_origin_fails(harness, path, value):
    found = harness.stack(RULE, edge_stack(None, changed(TRAEFIK_DYNAMIC, path, value)))
    assert len(found) == 1 and "allows any CORS origin" in found[0].message


def test_missing_origin_list_allows_nothing(harness):
    assert harness.stack(RULE, edge_stack(None, changed(TRAEFIK_DYNAMIC, ORIGINS, None))) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "traefik", subject="cors/accessControlAllowOriginList")
    stack = edge_stack(None, changed(TRAEFIK_DYNAMIC, ORIGINS, ["*"]))
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
