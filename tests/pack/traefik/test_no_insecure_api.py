"""traefik-no-insecure-api: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import TRAEFIK_DYNAMIC, TRAEFIK_STATIC, changed, edge_stack, settings, waiver

from policies.traefik import no_insecure_api

pytestmark = pytest.mark.unit
RULE = no_insecure_api.RULE


def test_dashboard_behind_admin_router_passes(harness):
    assert harness.stack(RULE, edge_stack()) == []


def test_insecure_api_fails_and_names_the_traefik_container(harness):
    found = harness.stack(RULE, edge_stack(changed(TRAEFIK_STATIC, "api.insecure", True)))
    assert [v.message for v in found] == [
        "Traefik serves its API/dashboard on the insecure port (api.insecure)"]
    assert found[0].urn.endswith("::erp-traefik-container")


def test_insecure_flag_on_the_command_line_fails(harness):
    found = harness.stack(RULE, edge_stack(command=["--api.insecure=true"]))
    assert len(found) == 1


def test_dashboard_router_without_auth_fails(harness):
    dynamic = changed(TRAEFIK_DYNAMIC, "http.routers.traefik.middlewares",
                      ["admin-allowlist", "security-headers", "rate-limit"])
    found = harness.stack(RULE, edge_stack(None, dynamic))
    assert [v.message for v in found] == [
        "router traefik exposes the Traefik API without authentication"]


def test_missing_api_section_is_secure_by_default(harness):
    assert harness.stack(RULE, edge_stack(changed(TRAEFIK_STATIC, "api", None))) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "traefik", subject="api.insecure")
    stack = edge_stack(changed(TRAEFIK_STATIC, "api.insecure", True))
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
