"""policy-waivers-valid / policy-waivers-in-force, and waiver matching in the pack wiring."""

import datetime as dt

import pytest
from policy_harness import TODAY, container, settings, waiver

from policies.isolation import no_privileged
from policies.meta import waivers
from policies.settings import from_config_values, parse_waivers

pytestmark = pytest.mark.unit
VALID = waivers.VALID_RULE
IN_FORCE = waivers.IN_FORCE_RULE


def test_complete_waivers_are_valid(harness):
    stack = settings(waiver("no-privileged", "auth"), waiver("no-host-mounts", "traefik"))
    assert harness.stack(VALID, [], stack) == []


@pytest.mark.parametrize("entry, problem", [
    ({"rule": "no-privileged", "resource": "auth", "expires": "2027-01-01"}, "no reason"),
    ({"rule": "no-privileged", "resource": "auth", "reason": "x"}, "no expiry date"),
    ({"rule": "no-privileged", "resource": "auth", "reason": "x", "expires": "soon"},
     "is not a YYYY-MM-DD date"),
    ({"rule": "no-such-rule", "resource": "auth", "reason": "x", "expires": "2027-01-01"},
     "unknown rule 'no-such-rule'"),
    ({"resource": "auth", "reason": "x", "expires": "2027-01-01"}, "no rule"),
])
def test_incomplete_waivers_are_violations(harness, entry, problem):
    found = harness.stack(VALID, [], settings(entry))
    assert len(found) == 1 and problem in found[0].message, found


def test_invalid_waiver_waives_nothing(harness):
    no_reason = {"rule": "no-privileged", "resource": "auth", "expires": "2027-01-01"}
    found = harness.resource(no_privileged.RULE, container(privileged=True),
                             stack=settings(no_reason))
    assert len(found) == 1


def test_waivers_in_force_are_listed_expired_ones_are_not(harness):
    stack = settings(waiver("no-privileged", "auth", id="auth-priv"),
                     waiver("no-host-mounts", "traefik", expires="2026-01-01"))
    found = harness.stack(IN_FORCE, [], stack)
    assert [v.message for v in found] == [
        "waiver auth-priv: no-privileged on auth until 2027-01-31: test exception"]


def test_expiry_day_itself_still_waives():
    (w,) = parse_waivers([waiver("no-privileged", "auth", expires=TODAY.isoformat())])
    assert not w.expired(TODAY) and w.expired(TODAY + dt.timedelta(days=1))


def test_waivers_from_engine_config_json():
    # Under `pulumi preview` structured config arrives JSON-encoded.
    values = {"rampart:policyWaivers": '[{"rule": "no-privileged", "resource": "auth", '
                                       '"reason": "r", "expires": "2027-01-01"}]',
              "rampart:requireDigests": "true"}
    s = from_config_values(values, today=TODAY)
    assert s.require_digests is True
    assert s.waivers[0].rule == "no-privileged" and s.waivers[0].valid
