"""The Traefik rules on Kubernetes: Middleware, IngressRoute and TLSOption custom resources
(traefik.io/v1alpha1), the Traefik workload's static configuration from a mounted ConfigMap
or its flags, and what its Services publish. The rules are the file provider's
(policies/traefik/config.py reads both into one view); each test mutates one object of the
compliant edge the Kubernetes target writes."""

import copy

import pytest
from policy_harness import (
    ADMIN,
    EDGE_NS,
    K8S_MIDDLEWARES,
    K8S_TRAEFIK_STATIC,
    PUBLIC,
    changed,
    ingress_route,
    k8s_edge,
    middleware,
    settings,
    tls_option,
    traefik_workload,
    waiver,
)

from policies.traefik import (
    allowlist_bounded,
    cors_https,
    cors_not_wildcard,
    http_redirects,
    no_insecure_api,
    routers_hardened,
    tls_minimum,
)

pytestmark = pytest.mark.unit
TRAEFIK_RULES = [allowlist_bounded.RULE, cors_https.RULE, cors_not_wildcard.RULE,
                 http_redirects.RULE, no_insecure_api.RULE, routers_hardened.RULE,
                 tls_minimum.RULE]


def replaced(stack, name, props):
    """`stack` with the resource called `name` given new props (None removes it)."""
    out = [(t, n, p) for t, n, p in stack if n != name]
    if props is not None:
        out.append((next(t for t, n, _ in stack if n == name), name, props))
    return out


def props_of(stack, name):
    return copy.deepcopy(next(p for _, n, p in stack if n == name))


def with_middleware(name, spec):
    mws = {**K8S_MIDDLEWARES, name: spec}
    return k8s_edge(middlewares=mws)


@pytest.mark.parametrize("rule", TRAEFIK_RULES, ids=lambda r: r.name)
def test_the_kubernetes_edge_passes_every_traefik_rule(harness, rule):
    assert harness.stack(rule, k8s_edge()) == []


# --- CORS (Middleware headers) ----------------------------------------------------------------


@pytest.mark.parametrize("origins, why", [
    (["https://app.erp.test", "*"], "any CORS origin (*)"),
    (["https://*.erp.test"], "the wildcard-like origin 'https://*.erp.test'"),
    (["null"], "the origin null"),
])
def test_wildcard_cors_middleware_fails(harness, origins, why):
    stack = with_middleware("cors", {"headers": {"accessControlAllowOriginList": origins}})
    found = harness.stack(cors_not_wildcard.RULE, stack)
    assert len(found) == 1 and why in found[0].message, found
    assert found[0].message.startswith("middleware erp-edge-cors allows ")
    assert "(headers.accessControlAllowOriginList)" in found[0].message
    assert found[0].urn.endswith("::middleware-erp-edge-cors")


@pytest.mark.parametrize("regex", [".*", "^https?://.*$", "(.*)", "^https://.+$", "https?://"])
def test_match_all_origin_regexes_fail(harness, regex):
    stack = with_middleware("cors", {"headers": {"accessControlAllowOriginListRegex": [regex]}})
    found = harness.stack(cors_not_wildcard.RULE, stack)
    assert len(found) == 1 and "allows any CORS origin" in found[0].message, found


@pytest.mark.parametrize("regex", [r"^https://app\.erp\.test$", r"^https://[a-z]+\.erp\.test$"])
def test_anchored_origin_regexes_pass(harness, regex):
    stack = with_middleware("cors", {"headers": {"accessControlAllowOriginListRegex": [regex]}})
    assert harness.stack(cors_not_wildcard.RULE, stack) == []


def test_a_misspelled_origin_list_is_pruned_and_configures_nothing(harness):
    # The API server prunes fields its schema does not know: no CORS list, no wildcard.
    stack = with_middleware("cors", {"headers": {"AccessControlAllowOriginList": ["*"]}})
    assert harness.stack(cors_not_wildcard.RULE, stack) == []


def test_cors_waiver_override(harness):
    stack = with_middleware("cors", {"headers": {"accessControlAllowOriginList": ["*"]}})
    w = waiver(cors_not_wildcard.RULE.name, "middleware-erp-edge-cors",
               subject="erp-edge-cors/accessControlAllowOriginList")
    assert harness.stack(cors_not_wildcard.RULE, stack, settings(w)) == []


# --- TLS options --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["VersionTLS10", "VersionTLS11", "versiontls12", "TLS12", 12])
def test_tls_option_below_or_beside_tls12_fails(harness, version):
    _, name, props = tls_option(minVersion=version)
    stack = replaced(k8s_edge(), name, props)
    found = harness.stack(tls_minimum.RULE, stack)
    assert [v.message for v in found] == [
        f"TLS options default allow {version} (minimum is VersionTLS12)"]
    assert found[0].urn.endswith("::tlsoption-erp-edge-default")


def test_a_named_tls_option_is_judged_too(harness):
    stack = [*k8s_edge(), tls_option("legacy", minVersion="VersionTLS11")]
    found = harness.stack(tls_minimum.RULE, stack)
    assert [v.message for v in found] == [
        "TLS options erp-edge-legacy allow VersionTLS11 (minimum is VersionTLS12)"]


def test_missing_default_tls_option_fails(harness):
    stack = replaced(k8s_edge(), "tlsoption-erp-edge-default", None)
    found = harness.stack(tls_minimum.RULE, stack)
    assert len(found) == 1 and "no default TLS options" in found[0].message


def test_a_misspelled_min_version_is_pruned(harness):
    _, name, props = tls_option()
    props["spec"]["MinVersion"] = props["spec"].pop("minVersion")
    found = harness.stack(tls_minimum.RULE, replaced(k8s_edge(), name, props))
    assert [v.message for v in found] == ["default TLS options do not set minVersion"]


def test_two_default_tls_options_cancel_each_other(harness):
    stack = [*k8s_edge(), tls_option(ns="erp")]
    found = harness.stack(tls_minimum.RULE, stack)
    assert len(found) == 1 and "several namespaces (erp, erp-edge)" in found[0].message


# --- IngressRoutes ------------------------------------------------------------------------------


@pytest.mark.parametrize("change, expected", [
    ({"entryPoints": ["web"]}, "listens on non-TLS entry point(s) web"),
    ({"entryPoints": ["websecure", "metrics"]}, "listens on non-TLS entry point(s) metrics"),
    ({"entryPoints": None}, "has no entryPoints"),
    ({"entryPoints": []}, "has no entryPoints"),
    # the CRD's field is `entryPoints`: the API server prunes this one
    ({"entryPoints": None, "entrypoints": ["websecure"]}, "has no entryPoints"),
])
def test_ingress_route_off_the_tls_entry_point_fails(harness, change, expected):
    _, name, props = ingress_route("api-gateway", "api-gateway", PUBLIC)
    for key, value in change.items():
        if value is None:
            props["spec"].pop(key, None)
        else:
            props["spec"][key] = value
    found = harness.stack(routers_hardened.RULE, replaced(k8s_edge(), name, props))
    assert len(found) == 1, found
    assert found[0].message.startswith(f"router erp-edge-api-gateway {expected}"), found
    assert found[0].urn.endswith("::ingressroute-erp-edge-api-gateway")


def test_ingress_route_without_tls_fails_when_the_entry_point_does_not_terminate_tls(harness):
    static = changed(K8S_TRAEFIK_STATIC, "entryPoints.websecure.http", None)  # :8443, no tls
    _, name, props = ingress_route("api-gateway", "api-gateway", PUBLIC)
    stack = k8s_edge(static=static)
    assert harness.stack(routers_hardened.RULE, stack) == []  # every route sets tls
    del props["spec"]["tls"]
    found = harness.stack(routers_hardened.RULE, replaced(stack, name, props))
    assert [v.message for v in found] == [
        "router erp-edge-api-gateway does not terminate TLS (no router tls and no entry point "
        "http.tls)"]


@pytest.mark.parametrize("mws, expected", [
    (["security-headers", "cors"], "has no rate-limit middleware"),
    (["rate-limit"], "has no security-headers middleware (HSTS, frameDeny, nosniff)"),
])
def test_ingress_route_without_hardening_middlewares_fails(harness, mws, expected):
    _, name, props = ingress_route("api-gateway", "api-gateway", mws)
    found = harness.stack(routers_hardened.RULE, replaced(k8s_edge(), name, props))
    assert [v.message for v in found] == [f"router erp-edge-api-gateway {expected}"]


def test_a_misspelled_middleware_kind_is_no_middleware(harness):
    stack = with_middleware("rate-limit", {"ratelimit": {"average": 100, "burst": 50}})
    found = harness.stack(routers_hardened.RULE, stack)
    assert {v.message for v in found} == {
        "router erp-edge-api-gateway has no rate-limit middleware",
        "router erp-edge-traefik has no rate-limit middleware"}


def test_middleware_references_resolve_by_namespace_chain_and_provider(harness):
    chain = middleware("public-chain", {"chain": {"middlewares": [
        {"name": "rate-limit", "namespace": EDGE_NS}, {"name": "security-headers"}]}})
    _, name, props = ingress_route("api-gateway", "api-gateway", ["public-chain"])
    stack = [*replaced(k8s_edge(), name, props), chain]
    assert harness.stack(routers_hardened.RULE, stack) == []
    # the same middleware names in another namespace are other middlewares
    props["spec"]["routes"][0]["middlewares"] = [{"name": "public-chain", "namespace": "erp"}]
    found = harness.stack(routers_hardened.RULE, [*replaced(k8s_edge(), name, props), chain])
    assert len(found) == 2, found


def test_each_route_of_an_ingress_route_is_a_router(harness):
    _, name, props = ingress_route("api-gateway", "api-gateway", PUBLIC)
    second = copy.deepcopy(props["spec"]["routes"][0])
    second["middlewares"] = [{"name": "cors"}]
    props["spec"]["routes"].append(second)
    found = harness.stack(routers_hardened.RULE, replaced(k8s_edge(), name, props))
    assert {v.message for v in found} == {
        "router erp-edge-api-gateway-1 has no rate-limit middleware",
        "router erp-edge-api-gateway-1 has no security-headers middleware (HSTS, frameDeny, "
        "nosniff)"}


def test_dashboard_route_without_authentication_fails(harness):
    _, name, props = ingress_route("traefik", "api@internal",
                                   ["admin-allowlist", "security-headers", "rate-limit"])
    found = harness.stack(no_insecure_api.RULE, replaced(k8s_edge(), name, props))
    assert [v.message for v in found] == [
        "router erp-edge-traefik exposes the Traefik API without authentication"]
    assert "admin-auth" in ADMIN and harness.stack(no_insecure_api.RULE, k8s_edge()) == []


def test_insecure_api_flag_in_the_traefik_args_fails(harness):
    stack = [*traefik_workload(K8S_TRAEFIK_STATIC, args=["--api.insecure=true"]),
             *k8s_edge()[3:]]
    found = harness.stack(no_insecure_api.RULE, stack)
    assert [v.message for v in found] == [
        "Traefik serves its API/dashboard on the insecure port (api.insecure)"]


def test_wide_admin_allowlist_middleware_fails(harness):
    stack = with_middleware("admin-allowlist", {"ipAllowList": {"sourceRange": ["0.0.0.0/0"]}})
    found = harness.stack(allowlist_bounded.RULE, stack)
    assert found and all(v.urn.endswith("::middleware-erp-edge-admin-allowlist")
                         for v in found), found


# --- static configuration: ConfigMap or flags; entry points and what is published -------------


def test_plain_http_entry_point_without_redirect_fails(harness):
    static = changed(K8S_TRAEFIK_STATIC, "entryPoints.web.http", None)
    found = harness.stack(http_redirects.RULE, k8s_edge(static=static))
    assert [v.message for v in found] == [
        "entry point web (:8000) serves plain HTTP without redirecting to HTTPS"]
    assert found[0].urn.endswith("::configmap-erp-edge-traefik-static")


def test_an_internal_entry_point_published_by_a_service_is_judged(harness):
    stack = k8s_edge()
    (svc,) = [p for t, n, p in stack if n == f"service-{EDGE_NS}-traefik"]
    svc["spec"]["ports"].append({"name": "metrics", "port": 9100, "targetPort": "metrics"})
    found = harness.stack(http_redirects.RULE, stack)
    assert [v.message for v in found] == [
        "entry point metrics (:9100) serves plain HTTP without redirecting to HTTPS"]


FLAGS = ["--entryPoints.web.address=:8000",
         "--entryPoints.web.http.redirections.entryPoint.to=websecure",
         "--entryPoints.web.http.redirections.entryPoint.scheme=https",
         "--entryPoints.websecure.address=:8443",
         "--entryPoints.websecure.http.tls=true",
         "--providers.kubernetescrd"]


def test_static_configuration_given_as_flags(harness):
    stack = [*traefik_workload(None, args=FLAGS), *k8s_edge()[3:]]
    for rule in (routers_hardened.RULE, http_redirects.RULE):
        assert harness.stack(rule, stack) == [], rule.name
    no_redirect = [f for f in FLAGS if "redirections" not in f]
    found = harness.stack(http_redirects.RULE,
                          [*traefik_workload(None, args=no_redirect), *k8s_edge()[3:]])
    assert [v.message for v in found] == [
        "entry point web (:8000) serves plain HTTP without redirecting to HTTPS"]
    no_tls = [f for f in FLAGS if "http.tls" not in f]
    _, name, props = ingress_route("api-gateway", "api-gateway", PUBLIC)
    del props["spec"]["tls"]
    stack = replaced([*traefik_workload(None, args=no_tls), *k8s_edge()[3:]], name, props)
    found = harness.stack(routers_hardened.RULE, stack)
    assert [v.message for v in found] == [
        "router erp-edge-api-gateway does not terminate TLS (no router tls and no entry point "
        "http.tls)"]


def test_without_any_visible_static_configuration_routes_cannot_be_shown_tls(harness):
    stack = [*traefik_workload(None), *k8s_edge()[3:]]
    found = harness.stack(routers_hardened.RULE, stack)
    assert found and all("non-TLS entry point(s) websecure" in v.message for v in found)
    assert harness.stack(http_redirects.RULE, stack)[0].message.startswith(
        "Traefik has no entry points configured")
