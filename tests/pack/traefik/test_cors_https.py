"""traefik-cors-origins-https: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import TRAEFIK_DYNAMIC, TRAEFIK_STATIC, changed, edge_stack, settings, waiver

from policies.traefik import cors_https

pytestmark = pytest.mark.unit
RULE = cors_https.RULE
ORIGINS = "http.middlewares.cors.headers.accessControlAllowOriginList"
REGEX = "http.middlewares.cors.headers.accessControlAllowOriginListRegex"


def with_origins(path, value, static=None):
    return edge_stack(static, changed(TRAEFIK_DYNAMIC, path, value))


@pytest.mark.parametrize("origins", [
    ["https://app.erp.test"], ["https://app.erp.test:8443", "HTTPS://Admin.erp.test"], ["*"]])
def test_https_origins_pass(harness, origins):
    assert harness.stack(RULE, with_origins(ORIGINS, origins)) == [], origins


@pytest.mark.parametrize("origin", ["http://app.erp.test", "app.erp.test",
                                    "ws://app.erp.test", "https://"])
def test_non_https_origins_fail(harness, origin):
    found = harness.stack(RULE, with_origins(ORIGINS, ["https://app.erp.test", origin]))
    assert [v.message for v in found] == [
        f"middleware cors allows the CORS origin {origin!r}, which is not https although the "
        "edge requires TLS"]


@pytest.mark.parametrize("regex, ok", [
    (r"^https://[a-z]+\.erp\.test$", True), (r"^https:\/\/app\.erp\.test$", True),
    (r"^(?i)https://app\.erp\.test$", True), (r"^https?://app\.erp\.test$", False),
    (r"app\.erp\.test$", False), (r"^http://app\.erp\.test$", False)])
def test_origin_regexes_must_pin_https(harness, regex, ok):
    found = harness.stack(RULE, with_origins(REGEX, [regex]))
    assert (found == []) is ok, found


@pytest.mark.parametrize("origins", [["null"], ["https://*.erp.test"], ["NULL", "*"]])
def test_wildcard_like_origins_are_left_to_cors_not_wildcard(harness, origins):
    from policies.traefik import cors_not_wildcard

    stack = with_origins(ORIGINS, origins)
    assert harness.stack(RULE, stack) == []
    assert len(harness.stack(cors_not_wildcard.RULE, stack)) == len(origins)


def test_without_tls_at_the_edge_http_origins_are_not_judged(harness):
    static = changed(TRAEFIK_STATIC, "entryPoints", {"web": {"address": ":80"}})
    dynamic = changed(TRAEFIK_DYNAMIC, ORIGINS, ["http://app.erp.test"])
    for router in dynamic["http"]["routers"].values():
        router.pop("tls", None)
    assert harness.stack(RULE, edge_stack(static, dynamic)) == []


def test_missing_origin_list_passes(harness):
    assert harness.stack(RULE, with_origins(ORIGINS, None)) == []


def test_waiver_override(harness):
    stack = with_origins(ORIGINS, ["http://localhost:3000"])
    subject = "cors/http://localhost:3000"
    assert harness.stack(RULE, stack, settings(
        waiver(RULE.name, "traefik", subject=subject))) == []
    expired = settings(waiver(RULE.name, "traefik", subject=subject, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
