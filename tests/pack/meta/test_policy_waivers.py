"""policy-waivers-valid / policy-waivers-in-force, and waiver matching in the pack wiring.

Waivers are built here as the stack file writes them (rule, resource, subject, reason,
expires); tests/pack/meta/test_waiver_scope.py covers what one waiver may cover."""

import datetime as dt

import pytest
from policy_harness import TODAY, container, settings
from policy_harness import stack_policy as from_config_values

from policies.isolation import no_new_privileges
from policies.meta import waivers
from policies.settings import parse_waivers

pytestmark = pytest.mark.unit
VALID = waivers.VALID_RULE
IN_FORCE = waivers.IN_FORCE_RULE


def entry(rule: str, resource: str, subject: str, expires: str = "2027-01-31",
          **kw: str) -> dict[str, str]:
    return {"rule": rule, "resource": resource, "subject": subject,
            "reason": "test exception", "expires": expires, **kw}


def test_complete_waivers_are_valid(harness):
    stack = settings(entry("no-new-privileges", "auth", "securityOpts"),
                     entry("no-host-mounts", "traefik", "/var/run/docker.sock"))
    assert harness.stack(VALID, [], stack) == []


@pytest.mark.parametrize("given, problem", [
    ({"rule": "no-new-privileges", "resource": "auth", "subject": "securityOpts",
      "expires": "2027-01-01"}, "no reason"),
    ({"rule": "no-new-privileges", "resource": "auth", "subject": "securityOpts",
      "reason": "x"}, "no expiry date"),
    ({"rule": "no-new-privileges", "resource": "auth", "subject": "securityOpts",
      "reason": "x", "expires": "soon"}, "is not a YYYY-MM-DD date"),
    ({"rule": "no-such-rule", "resource": "auth", "subject": "securityOpts", "reason": "x",
      "expires": "2027-01-01"}, "unknown rule 'no-such-rule'"),
    ({"resource": "auth", "subject": "securityOpts", "reason": "x", "expires": "2027-01-01"},
     "no rule"),
    ({"rule": "no-new-privileges", "subject": "securityOpts", "reason": "x",
      "expires": "2027-01-01"}, "no resource"),
    ({"rule": "no-new-privileges", "resource": "auth", "reason": "x",
      "expires": "2027-01-01"}, "no subject"),
    ({"rule": "no-new-privileges", "resource": ["auth", "crm"], "subject": "securityOpts",
      "reason": "x", "expires": "2027-01-01"}, "resource must be one name"),
])
def test_incomplete_waivers_are_violations(harness, given, problem):
    found = harness.stack(VALID, [], settings(given))
    assert len(found) == 1 and problem in found[0].message, found


def test_invalid_waiver_waives_nothing(harness):
    no_reason = {"rule": "no-new-privileges", "resource": "auth", "subject": "securityOpts",
                 "expires": "2027-01-01"}
    found = harness.resource(no_new_privileges.RULE, container(securityOpts=[]),
                             stack=settings(no_reason))
    assert len(found) == 1


def test_waivers_in_force_are_listed_expired_ones_are_not(harness):
    stack = settings(entry("no-new-privileges", "auth", "securityOpts", id="auth-nnp"),
                     entry("no-host-mounts", "traefik", "/var/run/docker.sock",
                           expires="2026-01-01"))
    found = harness.stack(IN_FORCE, [], stack)
    assert [v.message for v in found] == [
        "waiver auth-nnp: no-new-privileges on auth about securityOpts until 2027-01-31: "
        "test exception"]


def test_expiry_day_itself_still_waives():
    (w,) = parse_waivers([entry("no-new-privileges", "auth", "securityOpts",
                                expires=TODAY.isoformat())])
    assert not w.expired(TODAY) and w.expired(TODAY + dt.timedelta(days=1))


def test_the_default_id_names_the_one_finding():
    (w,) = parse_waivers([entry("no-host-mounts", "node-exporter", "/proc")])
    assert w.id == "no-host-mounts:node-exporter:/proc"


def test_waivers_from_engine_config_json():
    # Under `pulumi preview` structured config arrives JSON-encoded, scalars as text.
    values = {"rampart:policyWaivers": '[{"rule": "no-new-privileges", "resource": "auth", '
                                       '"subject": "securityOpts", "reason": "r", '
                                       '"expires": "2027-01-01"}]',
              "rampart:requireDigests": "true",
              "rampart:policyWaiverMaxDays": "90"}
    s = from_config_values(values, today=TODAY)
    assert s.require_digests is True and s.waiver_max_days == 90
    assert s.waivers[0].rule == "no-new-privileges" and s.waivers[0].subject == "securityOpts"
    assert s.judged[0].valid  # 2027-01-01 is within 90 days of 2026-11-23
