"""read-only-root-filesystem (mandatory) and read-only-root-with-writable-paths (advisory):
compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, Level
from policies.isolation import read_only_root

pytestmark = pytest.mark.unit
MANDATORY = read_only_root.RULE
ADVISORY = read_only_root.ADVISORY_RULE
BARE = {"tmpfs": None, "volumes": None, "mounts": None}


def test_levels():
    assert MANDATORY.level is Level.MANDATORY and ADVISORY.level is Level.ADVISORY


def test_read_only_root_passes_both(harness):
    assert harness.resource(MANDATORY, container()) == []
    assert harness.resource(ADVISORY, container()) == []


def test_writable_root_without_declared_paths_is_mandatory(harness):
    props = container(readOnly=False, **BARE)
    assert harness.resource(MANDATORY, props) == ["container has a writable root filesystem"]
    assert harness.resource(ADVISORY, props) == []


@pytest.mark.parametrize("declared", [
    {"tmpfs": {"/tmp": "rw"}},  # noqa: S108 - a container path
    {"volumes": [{"volumeName": "data", "containerPath": "/var/lib/postgresql/data"}]},
    {"labels": [{"label": "rampart.writable-paths", "value": "/var/cache/nginx"}]},
])
def test_writable_root_with_declared_paths_is_advisory(harness, declared):
    props = container(readOnly=False, **{**BARE, **declared})
    assert harness.resource(MANDATORY, props) == []
    assert len(harness.resource(ADVISORY, props)) == 1


def test_missing_read_only_flag_means_writable(harness):
    assert len(harness.resource(MANDATORY, container(readOnly=None, **BARE))) == 1


def test_kubernetes(harness):
    assert harness.resource(MANDATORY, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(securityContext={"runAsNonRoot": True})
    assert harness.resource(MANDATORY, props, K8S_DEPLOYMENT, "auth") == [
        "container auth has a writable root filesystem"]


def test_waiver_override(harness):
    props = container(readOnly=False, **BARE)
    waived = settings(waiver(MANDATORY.name, "auth", subject="readOnly"))
    assert harness.resource(MANDATORY, props, stack=waived) == []
    assert len(harness.resource(MANDATORY, props, stack=settings(
        waiver(MANDATORY.name, "auth", subject="readOnly", expires="2026-10-01")))) == 1


def test_a_secrets_volume_is_not_a_declared_writable_path(harness):
    props = container(readOnly=False, tmpfs=None, mounts=None,
                      volumes=[{"volumeName": "erp-auth-run-secrets",
                                "containerPath": "/run/secrets"}])
    assert harness.resource(MANDATORY, props) == ["container has a writable root filesystem"]
    assert harness.resource(ADVISORY, props) == []


def test_catalog_writable_root_reason_makes_it_advisory(harness):
    props = container(readOnly=False, **{**BARE, "labels": [
        {"label": "rampart.service", "value": "temporal"},
        {"label": "rampart.writable-root", "value": "auto-setup renders its config at start"}]})
    assert harness.resource(MANDATORY, props) == []
    assert harness.resource(ADVISORY, props) == [
        "container has a writable root filesystem (catalog writable_root: auto-setup renders "
        "its config at start)"]
