"""docker-restart-policy: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, settings, waiver

from policies.operations import restart_policy

pytestmark = pytest.mark.unit
RULE = restart_policy.RULE


@pytest.mark.parametrize("restart", ["unless-stopped", "always", "on-failure"])
def test_restarting_policies_pass(harness, restart):
    assert harness.resource(RULE, container(restart=restart)) == []


def test_no_restart_fails(harness):
    assert harness.resource(RULE, container(restart="no")) == [
        "container's restart policy is no"]


def test_missing_restart_is_the_provider_default_no(harness):
    assert harness.resource(RULE, container(restart=None)) == [
        "container's restart policy is unset (provider default: no)"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="restart")
    props = container(restart="no")
    assert harness.resource(RULE, props, stack=settings(w)) == []
    assert len(harness.resource(RULE, props, stack=settings(
        dict(w, expires="2026-11-22")))) == 1


def test_one_shot_containers_are_not_restarted(harness):
    # A volume-ownership init runs once (`attach: true`); restarting it would loop.
    assert harness.resource(RULE, container(restart="no", attach=True, mustRun=False)) == []
