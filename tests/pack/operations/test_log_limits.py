"""docker-log-limits: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, settings, waiver

from policies.operations import log_limits

pytestmark = pytest.mark.unit
RULE = log_limits.RULE


@pytest.mark.parametrize("driver, opts", [
    ("json-file", {"max-size": "10m", "max-file": "3"}),
    ("local", {"max-size": "20m", "max-file": "5"}),
    ("journald", None),  # shipped off the host: journald rotates
])
def test_limited_or_shipped_logs_pass(harness, driver, opts):
    assert harness.resource(RULE, container(logDriver=driver, logOpts=opts)) == []


@pytest.mark.parametrize("driver, opts, expected", [
    ("json-file", {"max-size": "10m"}, "no max-file"),
    ("json-file", {"max-file": "3"}, "no max-size"),
    ("none", None, "discards its logs"),
])
def test_unbounded_logs_fail(harness, driver, opts, expected):
    found = harness.resource(RULE, container(logDriver=driver, logOpts=opts))
    assert len(found) == 1 and expected in found[0], found


def test_missing_driver_means_unbounded_daemon_default(harness):
    found = harness.resource(RULE, container(logDriver=None, logOpts=None))
    assert found and "unset (daemon default, unbounded)" in found[0]


def test_waiver_override(harness):
    props = container(logOpts=None)
    # One waiver per finding: max-size and max-file are two.
    both = [waiver(RULE.name, "auth", subject=f"logOpts.{key}") for key in ("max-size",
                                                                            "max-file")]
    assert harness.resource(RULE, props, stack=settings(*both)) == []
    assert len(harness.resource(RULE, props, stack=settings(both[0]))) == 1
    assert len(harness.resource(RULE, props, stack=settings(*(
        dict(w, expires="2026-11-22") for w in both)))) == 2
