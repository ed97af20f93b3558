"""The Traefik edge as deployed: the static and dynamic files uploaded into its container."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from infra.edge import traefik
from infra.model.errors import ValidationError
from infra.model.types import Exposure, Volume
from infra.offline.engine import REDACTED, Recording
from infra.offline.render import record_stack

pytestmark = pytest.mark.unit

CONTAINER = "docker:index/container:Container"
ADMIN_ROUTED = ("grafana", "prometheus", "alertmanager", "traefik")


def _uploads(rec: Recording) -> dict[str, Any]:
    edge = rec.get(CONTAINER, "erp-traefik-container")
    return {u["file"]: u for u in edge.inputs["uploads"]}


def static_of(rec: Recording) -> dict[str, Any]:
    return yaml.safe_load(_uploads(rec)[traefik.STATIC_PATH]["content"])


def dynamic_of(rec: Recording) -> dict[str, Any]:
    return yaml.safe_load(_uploads(rec)[traefik.DYNAMIC_PATH]["content"])


@pytest.fixture(scope="module")
def static(dev_recording):
    return static_of(dev_recording)


@pytest.fixture(scope="module")
def dynamic(dev_recording):
    return dynamic_of(dev_recording)


@pytest.fixture(scope="module")
def acme_recording():
    """The dev stack switched to ACME: a non-prod stack, so the staging CA by default."""
    return record_stack("dev", overrides={"tls": "acme", "acmeEmail": "ops@erp.example.com",
                                          "acmeChallenge": "http", "ipStrategyDepth": 2})


# -- entry points, API, logs, metrics --------------------------------------------------------


def test_web_redirects_permanently_to_websecure(static):
    web = static["entryPoints"]["web"]
    assert web["address"] == ":80"
    assert web["http"]["redirections"]["entryPoint"] == {
        "to": "websecure", "scheme": "https", "permanent": True}


def test_api_not_insecure_and_dashboard_behind_router(static, dynamic):
    assert static["api"] == {"dashboard": True, "insecure": False}
    # No `traefik` (8080) entry point: the API exists only behind the admin router.
    assert set(static["entryPoints"]) == {"web", "websecure", "metrics"}
    router = dynamic["http"]["routers"]["traefik"]
    assert router["service"] == "api@internal"
    assert router["entryPoints"] == ["websecure"]
    assert "tls" in router
    _admin_chain(router["middlewares"])


def test_json_access_log_without_request_headers(static):
    assert static["accessLog"]["format"] == "json"
    assert static["accessLog"]["fields"]["headers"]["defaultMode"] == "drop"
    assert static["log"]["format"] == "json"


def test_metrics_on_internal_entrypoint_not_published(static, dev_recording, dev_platform):
    assert static["metrics"]["prometheus"]["entryPoint"] == "metrics"
    port = int(static["entryPoints"]["metrics"]["address"].lstrip(":"))
    assert port == dev_platform.service("traefik").metrics_port
    published = dev_recording.get(CONTAINER, "erp-traefik-container").inputs["ports"]
    assert port not in {p["external"] for p in published}, "metrics port is published"


def test_only_the_file_provider(static, dev_recording):
    # Routers come from the uploaded file; no Docker provider, so no Docker socket mount.
    assert set(static["providers"]) == {"file"}
    # The file provider reads exactly the dynamic file uploaded into the container, which is
    # where the TLS options live (Docker labels cannot carry them).
    assert static["providers"]["file"]["filename"] == traefik.DYNAMIC_PATH
    uploaded = _uploads(dev_recording)
    assert traefik.DYNAMIC_PATH in uploaded and traefik.STATIC_PATH in uploaded
    assert "options" in yaml.safe_load(uploaded[traefik.DYNAMIC_PATH]["content"])["tls"]
    labels = dev_recording.get(CONTAINER, "erp-traefik-container").inputs.get("labels", [])
    assert not [x for x in labels if x["label"].startswith("traefik.")], "Docker-label config"
    volumes = dev_recording.get(CONTAINER, "erp-traefik-container").inputs.get("volumes", [])
    assert all("docker.sock" not in str(v) for v in volumes)


# -- TLS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tls_options_minimum_1_2_and_sni_strict(stack, dev_recording, prod_recording):
    rec = dev_recording if stack == "dev" else prod_recording
    options = dynamic_of(rec)["tls"]["options"]["default"]
    assert options["minVersion"] == "VersionTLS12" and options["sniStrict"] is True
    assert set(options["cipherSuites"]) == set(traefik.TLS12_CIPHER_SUITES)


def test_tls_options(dynamic):
    options = dynamic["tls"]["options"]["default"]
    assert options["minVersion"] in ("VersionTLS12", "VersionTLS13")
    assert options["sniStrict"] is True
    for suite in options.get("cipherSuites", []):
        assert "ECDHE" in suite, f"cipher suite without forward secrecy: {suite}"
        assert "GCM" in suite or "CHACHA20" in suite, f"cipher suite without AEAD: {suite}"


def test_dev_uses_a_self_signed_certificate(dynamic, dev_recording):
    assert dynamic["tls"]["certificates"] == [
        {"certFile": traefik.CERT_PATH, "keyFile": traefik.KEY_PATH}]
    uploads = _uploads(dev_recording)
    assert uploads[traefik.KEY_PATH]["content"] == REDACTED, "TLS key is not secret"
    assert uploads[traefik.CERT_PATH]["content"].startswith("-----BEGIN CERTIFICATE-----")
    assert dev_recording.of_type("tls:index/selfSignedCert:SelfSignedCert"), "no pulumi-tls cert"


def test_acme_with_staging_ca_outside_prod(acme_recording):
    static = static_of(acme_recording)
    acme = static["certificatesResolvers"]["acme"]["acme"]
    assert acme["email"] == "ops@erp.example.com"
    assert "staging" in acme["caServer"], "non-prod stacks must use the staging CA"
    assert acme["httpChallenge"] == {"entryPoint": "web"}
    assert static["entryPoints"]["websecure"]["http"]["tls"] == {"certResolver": "acme"}
    assert not acme_recording.of_type("tls:index/privateKey:PrivateKey")


def test_acme_storage_on_its_own_volume(acme_recording):
    static = static_of(acme_recording)
    storage = static["certificatesResolvers"]["acme"]["acme"]["storage"]
    edge = acme_recording.get(CONTAINER, "erp-traefik-container").inputs
    mounts = {v["containerPath"]: v["volumeName"] for v in edge["volumes"]}
    directory = storage.rsplit("/", 1)[0]
    assert directory in mounts, f"ACME storage {storage} is not on a volume"
    for other in acme_recording.of_type(CONTAINER):
        if other.name in ("erp-traefik-container", "erp-traefik-acme-init"):
            continue
        names = {v.get("volumeName") for v in other.inputs.get("volumes", [])}
        assert mounts[directory] not in names, f"{other.urn}: shares the ACME volume"


def test_acme_store_is_handed_to_the_traefik_user_first(acme_recording, dev_platform):
    init = acme_recording.get(CONTAINER, "erp-traefik-acme-init")
    edge = acme_recording.get(CONTAINER, "erp-traefik-container")
    user = dev_platform.service("traefik").security.user
    assert init.urn in edge.dependencies, f"{edge.urn}: starts before its ACME store is ready"
    storage = static_of(acme_recording)["certificatesResolvers"]["acme"]["acme"]["storage"]
    assert storage == "/acme/acme.json"
    assert init.inputs["command"] == [
        f"chown {user} /acme && chmod 0700 /acme && touch {storage} && chown {user} {storage}"
        f" && chmod 0600 {storage}"], "ACME store is not created 0600 for Traefik's user"
    assert init.inputs["capabilities"] == {"drops": ["ALL"], "adds": ["CHOWN", "FOWNER"]}
    assert init.inputs["networkMode"] == "none" and init.inputs["mustRun"] is False
    assert not init.inputs.get("ports"), f"{init.urn}: publishes ports"


def test_prod_uses_the_production_ca(prod_recording):
    acme = static_of(prod_recording)["certificatesResolvers"]["acme"]["acme"]
    assert acme["caServer"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["email"] and "tlsChallenge" in acme
    assert not prod_recording.of_type("tls:index/selfSignedCert:SelfSignedCert"), \
        "prod must not carry a self-signed certificate"
    dynamic = dynamic_of(prod_recording)
    assert "certificates" not in dynamic["tls"], "prod serves a file certificate"
    for name, router in dynamic["http"]["routers"].items():
        assert router["tls"] == {"certResolver": "acme"}, f"router {name}: not ACME"


def test_prod_acme_store_is_0600_and_single_instance(prod_recording):
    storage = static_of(prod_recording)["certificatesResolvers"]["acme"]["acme"]["storage"]
    init = prod_recording.get(CONTAINER, "erp-traefik-acme-init")
    assert init.inputs["command"][0].endswith(f"chmod 0600 {storage}"), init.inputs["command"]
    edge = prod_recording.get(CONTAINER, "erp-traefik-container")
    assert init.urn in edge.dependencies, "Traefik starts before its ACME store is 0600"
    assert len([c for c in prod_recording.of_type(CONTAINER)
                if c.name.startswith("erp-traefik-container")]) == 1, "ACME needs one Traefik"


def test_acme_volume_shared_with_another_service_is_refused(small_acme):
    proxy = small_acme.service("traefik")
    acme = Volume("traefik-acme", "/acme")
    services = tuple(
        dataclasses.replace(s, volumes=(acme,)) if s.name in ("traefik", "grafana") else s
        for s in small_acme.services)
    platform = dataclasses.replace(small_acme, services=services)
    assert proxy.name == "traefik"
    with pytest.raises(traefik.EdgeConfigError, match="grafana.*must not be shared"):
        traefik.static_config(platform)


# -- middlewares ---------------------------------------------------------------------------


def test_general_rate_limit(dynamic):
    rl = dynamic["http"]["middlewares"]["rate-limit"]["rateLimit"]
    assert (rl["average"], rl["burst"], rl["period"]) == (100, 50, "1s")
    assert rl["sourceCriterion"] == {"ipStrategy": {"depth": 0}}


def test_login_rate_limit(dynamic):
    rl = dynamic["http"]["middlewares"]["login-rate-limit"]["rateLimit"]
    assert (rl["average"], rl["period"]) == (5, "900s"), "5 requests per 15 minutes"
    assert rl["burst"] <= 5
    assert "ipStrategy" in rl["sourceCriterion"]


def test_ip_strategy_depth_is_configurable(acme_recording):
    mws = dynamic_of(acme_recording)["http"]["middlewares"]
    for name in ("rate-limit", "login-rate-limit"):
        assert mws[name]["rateLimit"]["sourceCriterion"]["ipStrategy"]["depth"] == 2, name
    assert mws["inflight-limit"]["inFlightReq"]["sourceCriterion"]["ipStrategy"]["depth"] == 2
    assert mws["admin-allowlist"]["ipAllowList"]["ipStrategy"]["depth"] == 2
    # Traefik only keeps X-Forwarded-For from trusted peers: the depth needs trusted proxies.
    entry_points = static_of(acme_recording)["entryPoints"]
    for name in ("web", "websecure"):
        assert entry_points[name]["forwardedHeaders"]["trustedIPs"], name


def test_no_forwarded_headers_trusted_without_proxies(static):
    for name, entry in static["entryPoints"].items():
        assert "forwardedHeaders" not in entry, f"entry point {name} trusts forwarded headers"


def test_security_headers(dynamic):
    h = dynamic["http"]["middlewares"]["security-headers"]["headers"]
    assert h["stsSeconds"] == 31536000 and h["stsIncludeSubdomains"] is True
    assert h["frameDeny"] is True and h["contentTypeNosniff"] is True
    assert h["referrerPolicy"] == "strict-origin-when-cross-origin"


def test_cors_allowlist_from_stack_config(dynamic):
    cors = dynamic["http"]["middlewares"]["cors"]["headers"]
    assert cors["accessControlAllowOriginList"] == ["https://app.erp.localhost"]
    assert all("*" not in origin for origin in cors["accessControlAllowOriginList"])


def test_cors_wildcard_is_a_validation_error():
    with pytest.raises(ValidationError, match=r"corsOrigins\[0\].*'\*' is never allowed"):
        record_stack("dev", overrides={"corsOrigins": ["*"]})


def test_inflight_limit(dynamic):
    assert dynamic["http"]["middlewares"]["inflight-limit"]["inFlightReq"]["amount"] == 100


def test_admin_auth_reads_a_secret_users_file(dynamic, dev_recording):
    auth = dynamic["http"]["middlewares"]["admin-auth"]["basicAuth"]
    users = _uploads(dev_recording)[auth["usersFile"]]
    assert users["content"] == REDACTED, "htpasswd file is not secret"
    assert auth["removeHeader"] is True
    allow = dynamic["http"]["middlewares"]["admin-allowlist"]["ipAllowList"]["sourceRange"]
    assert "0.0.0.0/0" not in allow and allow


# -- routers -------------------------------------------------------------------------------


def test_every_router_is_tls_on_websecure(dynamic):
    for name, router in dynamic["http"]["routers"].items():
        assert router["entryPoints"] == ["websecure"], f"router {name}: entry points"
        assert "tls" in router, f"router {name}: no TLS"
        assert "security-headers" in router["middlewares"], f"router {name}: no headers"


def test_public_router_api_gateway(dynamic, dev_platform):
    public = [s.name for s in dev_platform.services if s.exposure is Exposure.PUBLIC]
    assert public == ["api-gateway"]
    router = dynamic["http"]["routers"]["api-gateway"]
    assert router["middlewares"] == list(traefik.PUBLIC_MIDDLEWARES)
    assert router["service"] == "api-gateway"
    svc = dev_platform.service("api-gateway")
    assert dynamic["http"]["services"]["api-gateway"]["loadBalancer"]["servers"] == [
        {"url": f"http://api-gateway:{svc.port}"}]


def test_login_routes_get_the_login_limit(dynamic, dev_platform):
    route = dev_platform.service("api-gateway").route
    assert route is not None and route.login_paths, "the catalog names no login paths"
    router = dynamic["http"]["routers"]["api-gateway-login"]
    assert "login-rate-limit" in router["middlewares"]
    assert "rate-limit" not in router["middlewares"]
    assert router["priority"] > 0
    for path in route.login_paths:
        assert f"PathPrefix(`{path}`)" in router["rule"], f"login path {path} not covered"


@pytest.mark.parametrize("name", ADMIN_ROUTED)
def test_admin_routers_behind_allowlist_and_auth(dynamic, name):
    router = dynamic["http"]["routers"].get(name)
    assert router is not None, f"no admin router for {name}"
    _admin_chain(router["middlewares"], name)


def _admin_chain(chain, name=""):
    """Headers on every answer; the allowlist before everything else; the limits before
    basic auth (password guessing is throttled); auth last."""
    assert chain[0] == "security-headers", name
    assert chain[1] == "admin-allowlist", name
    assert chain.index("rate-limit") < chain.index("admin-auth"), name
    assert chain.index("inflight-limit") < chain.index("admin-auth"), name
    assert chain[-1] == "admin-auth", name


def test_no_router_for_internal_services(dynamic, dev_platform):
    internal = {s.name for s in dev_platform.services if s.exposure is Exposure.INTERNAL}
    routed = {r["service"] for r in dynamic["http"]["routers"].values()}
    assert not internal & routed, f"internal services routed: {sorted(internal & routed)}"


def test_catalog_without_htpasswd_is_refused(small):
    services = tuple(dataclasses.replace(s, secrets=()) if s.name == "traefik" else s
                     for s in small.services)
    with pytest.raises(traefik.EdgeConfigError, match="traefik.*htpasswd"):
        traefik.dynamic_config(dataclasses.replace(small, services=services))


def test_config_files_are_deterministic(small):
    assert traefik.to_yaml(traefik.dynamic_config(small)) == \
        traefik.to_yaml(traefik.dynamic_config(small))
    assert "&id" not in traefik.to_yaml(traefik.dynamic_config(small)), "YAML anchors"


def test_catalog_without_edge_proxy_is_refused(small):
    services = tuple(s for s in small.services if s.name != "traefik")
    with pytest.raises(traefik.EdgeConfigError, match="no edge proxy"):
        traefik.static_config(dataclasses.replace(small, services=services))


def test_edge_proxy_without_metrics_port_is_refused(small):
    services = tuple(dataclasses.replace(s, metrics_port=None) if s.name == "traefik" else s
                     for s in small.services)
    with pytest.raises(traefik.EdgeConfigError, match="traefik.*metrics_port"):
        traefik.static_config(dataclasses.replace(small, services=services))


def test_acme_with_several_traefik_instances_is_refused(small_acme, record_platform):
    services = tuple(
        dataclasses.replace(s, replicas=2, volumes=(Volume("traefik-acme", "/acme"),))
        if s.name == "traefik" else s for s in small_acme.services)
    with pytest.raises(traefik.EdgeConfigError, match="replicas.*cannot be shared"):
        record_platform(dataclasses.replace(small_acme, services=services))
