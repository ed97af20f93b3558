"""traefik-http-redirects: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import TRAEFIK_STATIC, changed, edge_stack, settings, waiver

from policies.traefik import http_redirects

pytestmark = pytest.mark.unit
RULE = http_redirects.RULE


def test_web_redirects_to_websecure(harness):
    assert harness.stack(RULE, edge_stack()) == []


@pytest.mark.parametrize("path, value", [
    ("entryPoints.web.http", None),
    ("entryPoints.web.http.redirections.entryPoint.to", "web"),
    ("entryPoints.web.http.redirections.entryPoint.scheme", "http"),
])
def test_plain_http_without_redirect_fails(harness, path, value):
    found = harness.stack(RULE, edge_stack(changed(TRAEFIK_STATIC, path, value)))
    assert [v.message for v in found] == [
        "entry point web (:80) serves plain HTTP without redirecting to HTTPS"]


@pytest.mark.parametrize("to, ok", [(":443", True), (":8443", True), ("websecure", True),
                                     ("443", False), (":https", False), (":443/tcp", False)])
def test_redirect_target_may_be_a_port(harness, to, ok):
    """Traefik reads `to: ":443"` as a port (the Kubernetes target's public port, which the
    Service maps onto websecure's :8443); anything else must name a TLS entry point."""
    static = changed(TRAEFIK_STATIC, "entryPoints.web.http.redirections.entryPoint.to", to)
    assert (harness.stack(RULE, edge_stack(static)) == []) is ok


def test_published_metrics_entry_point_must_redirect_too(harness):
    stack = edge_stack(ports=[{"internal": 443, "external": 443},
                              {"internal": 8082, "external": 8082}])
    assert [v.message for v in harness.stack(RULE, stack)] == [
        "entry point metrics (:8082) serves plain HTTP without redirecting to HTTPS"]


def test_missing_static_configuration_is_traefiks_plain_http_default(harness):
    found = harness.stack(RULE, edge_stack({}))
    assert len(found) == 1 and "no entry points configured" in found[0].message


def test_no_traefik_no_finding(harness):
    assert harness.stack(RULE, edge_stack()[1:]) == []


def test_waiver_override(harness):
    stack = edge_stack(changed(TRAEFIK_STATIC, "entryPoints.web.http", None))
    waived = settings(waiver(RULE.name, "erp-traefik-container", subject="entryPoints.web"))
    assert harness.stack(RULE, stack, waived) == []
    expired = settings(waiver(RULE.name, "erp-traefik-container", subject="entryPoints.web",
                             expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
