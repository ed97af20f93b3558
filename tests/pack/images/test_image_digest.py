"""image-digest-required: compliant, non-compliant, property missing, config override."""

import pytest
from policy_harness import container, settings, waiver

from policies.core import REMOTE_IMAGE
from policies.images import image_digest

pytestmark = pytest.mark.unit
RULE = image_digest.RULE
DIGEST = "sha256:" + "c" * 64
STRICT = {"require_digests": True}


@pytest.mark.parametrize("image", [f"postgres:15.8@{DIGEST}", DIGEST])
def test_digest_pinned_images_pass(harness, image):
    assert harness.resource(RULE, container(image=image), stack=settings(**STRICT)) == []


def test_tag_only_fails_when_stack_requires_digests(harness):
    found = harness.resource(RULE, container(image="postgres:15.8"), stack=settings(**STRICT))
    assert found == ["image 'postgres:15.8' is not pinned by digest (stack sets requireDigests)"]


def test_remote_image_name_needs_digest(harness):
    found = harness.resource(RULE, {"name": "traefik:v3.1.4"}, REMOTE_IMAGE, "erp-traefik-image",
                             stack=settings(**STRICT))
    assert len(found) == 1


def test_config_override_stack_without_require_digests_passes(harness):
    assert harness.resource(RULE, container(image="postgres:15.8"), stack=settings()) == []


def test_missing_image_is_left_to_image_pinned(harness):
    assert harness.resource(RULE, container(image=None), stack=settings(**STRICT)) == []


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="image")
    props = container(image="postgres:15.8")
    waived = settings(w, **STRICT)
    assert harness.resource(RULE, props, stack=waived) == []
    expired = settings(dict(w, expires="2025-12-31"), **STRICT)
    assert len(harness.resource(RULE, props, stack=expired)) == 1
