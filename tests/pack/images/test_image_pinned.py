"""image-pinned: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, REMOTE_IMAGE, UNKNOWN
from policies.images import image_pinned

pytestmark = pytest.mark.unit
RULE = image_pinned.RULE
DIGEST = "sha256:" + "b" * 64


@pytest.mark.parametrize("image", [
    "docker.io/library/postgres:15.8-alpine3.20",
    "traefik:v3.1.4",
    "quay.io/minio/minio:RELEASE.2024-08-03T04-33-23Z",
    f"docker.io/library/redis@{DIGEST}",
    f"docker.io/library/redis:latest@{DIGEST}",  # the digest pins, whatever the tag says
    DIGEST,  # RemoteImage.image_id flowing into a container
])
def test_exact_versions_and_digests_pass(harness, image):
    assert harness.resource(RULE, container(image=image)) == [], image


@pytest.mark.parametrize("image, expected", [
    ("postgres:latest", "`latest` tag"),
    ("postgres", "has no tag"),
    ("registry.local:5000/erp/auth", "has no tag"),  # a registry port is not a tag
    ("postgres:16", "floating tag '16'"),
    ("bitnami/kafka:stable", "floating tag 'stable'"),
])
def test_latest_untagged_and_floating_tags_fail(harness, image, expected):
    found = harness.resource(RULE, container(image=image))
    assert len(found) == 1 and expected in found[0], found


def test_remote_image_name_is_judged(harness):
    found = harness.resource(RULE, {"name": "postgres:latest"}, REMOTE_IMAGE, "erp-postgres-image")
    assert found and "`latest`" in found[0]


def test_kubernetes_container_images_are_judged(harness):
    found = harness.resource(RULE, deployment(image="erp/auth:latest"), K8S_DEPLOYMENT, "auth")
    assert found == ["container auth 'erp/auth:latest' uses the `latest` tag"]


def test_missing_image_fails_and_unknown_waits(harness):
    assert harness.resource(RULE, container(image=None)) == ["image has no image reference"]
    assert harness.resource(RULE, container(image=UNKNOWN)) == []


def test_waiver_override(harness):
    props = container(image="postgres:latest")
    active = settings(waiver(RULE.name, "erp-auth-container", subject="image"))
    assert harness.resource(RULE, props, stack=active) == []
    assert harness.outcomes[-1].status == "waived"
    expired = settings(waiver(RULE.name, "auth", subject="image", expires="2026-01-01"))
    found = harness.resource(RULE, props, stack=expired)
    assert found and "expired on 2026-01-01" in found[0]
