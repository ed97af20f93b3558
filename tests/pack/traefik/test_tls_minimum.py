"""traefik-tls-minimum: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import TRAEFIK_DYNAMIC, changed, edge_stack, settings, waiver

from policies.traefik import tls_minimum

pytestmark = pytest.mark.unit
RULE = tls_minimum.RULE


@pytest.mark.parametrize("version", ["VersionTLS12", "VersionTLS13"])
def test_tls12_or_13_passes(harness, version):
    dynamic = changed(TRAEFIK_DYNAMIC, "tls.options.default.minVersion", version)
    assert harness.stack(RULE, edge_stack(None, dynamic)) == []


@pytest.mark.parametrize("path", ["tls.options.default.minVersion", "tls.options.legacy"])
def test_tls10_or_11_fails(harness, path):
    value = "VersionTLS10" if path.endswith("minVersion") else {"minVersion": "VersionTLS11"}
    found = harness.stack(RULE, edge_stack(None, changed(TRAEFIK_DYNAMIC, path, value)))
    assert len(found) == 1 and "minimum is VersionTLS12" in found[0].message


def test_missing_min_version_or_options_fail(harness):
    no_version = changed(TRAEFIK_DYNAMIC, "tls.options.default.minVersion", None)
    assert [v.message for v in harness.stack(RULE, edge_stack(None, no_version))] == [
        "default TLS options do not set minVersion"]
    no_options = changed(TRAEFIK_DYNAMIC, "tls", None)
    assert len(harness.stack(RULE, edge_stack(None, no_options))) == 1


def test_waiver_override(harness):
    w = waiver(RULE.name, "traefik", subject="tls.options.default.minVersion")
    stack = edge_stack(None, changed(TRAEFIK_DYNAMIC, "tls.options.default.minVersion",
                                     "VersionTLS11"))
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
