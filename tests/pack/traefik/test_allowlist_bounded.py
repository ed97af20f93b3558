"""traefik-allowlist-bounded: compliant, non-compliant, property missing, configuration and
waiver override."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_harness import (
    CONTAINER,
    TRAEFIK_DYNAMIC,
    changed,
    container,
    edge_stack,
    urn,
    waiver,
)
from policy_harness import settings as stack_settings

from policies.core import Context, Plain, Resource
from policies.traefik import allowlist_bounded

pytestmark = pytest.mark.unit
RULE = allowlist_bounded.RULE
RANGE = "http.middlewares.admin-allowlist.ipAllowList.sourceRange"


def stack_with(ranges):
    return edge_stack(None, changed(TRAEFIK_DYNAMIC, RANGE, ranges))


@pytest.mark.parametrize("ranges", [
    ["10.0.0.0/8"], ["10.8.0.0/24"], ["127.0.0.1/32", "10.0.0.0/8", "172.16.0.0/12",
                                      "192.168.0.0/16"],
    ["203.0.113.7"], ["2001:db8::/32", "fd00::/8"], ["::ffff:10.0.0.0/104"]])
def test_narrow_allowlists_pass(harness, ranges):
    assert harness.stack(RULE, stack_with(ranges)) == [], ranges


@pytest.mark.parametrize("ranges, expected", [
    (["0.0.0.0/0"], "admits 0.0.0.0/0 (a /0"),
    (["10.0.0.0/7"], "admits 10.0.0.0/7 (a /7: 0.781% of all IPv4"),
    (["::/0"], "admits ::/0 (a /0: 100% of all IPv6"),
    (["::ffff:0:0/96"], "admits ::ffff:0:0/96 (a /0: 100% of all IPv4"),
    (["not-an-ip"], "'not-an-ip' is not an address or a network"),
])
def test_short_prefixes_and_garbage_fail(harness, ranges, expected):
    found = [v.message for v in harness.stack(RULE, stack_with(ranges))]
    assert any(expected in m for m in found), found


def test_halves_of_ipv4_in_union_fail(harness):
    found = [v.message for v in harness.stack(RULE, stack_with(["0.0.0.0/1", "128.0.0.0/1"]))]
    assert "IP allowlist admin-allowlist admits all of IPv4 in union " \
        "(0.0.0.0/1, 128.0.0.0/1)" in found, found
    assert len(found) == 3  # the two halves, and their union


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(st.integers(8, 12))
def test_a_union_of_allowed_prefixes_covering_ipv4_fails(prefix):
    """Every entry respects the /8 floor, yet together they are all of IPv4."""
    import ipaddress

    nets = [str(n) for n in ipaddress.ip_network("0.0.0.0/0").subnets(new_prefix=prefix)]
    found = list(allowlist_bounded._judge("admin", "urn", nets, Context()))
    assert [f.message for f in found if "in union" in f.message], prefix


def test_labels_and_traefik_v2_spelling_are_judged(harness):
    labelled = container(name="erp-grafana", labels=[
        {"label": "rampart.service", "value": "grafana"},
        {"label": "traefik.http.middlewares.grafana-allow.ipwhitelist.sourcerange",
         "value": "10.0.0.0/8, 0.0.0.0/0"}])
    resources = [*stack_with(["10.0.0.0/8"]), (CONTAINER, "erp-grafana-container", labelled)]
    found = [v.message for v in harness.stack(RULE, resources)]
    assert found == ["IP allowlist grafana-allow admits 0.0.0.0/0 (a /0: 100% of all IPv4 "
                     "addresses; no prefix may be shorter than /8)",
                     "IP allowlist grafana-allow admits all of IPv4 in union "
                     "(10.0.0.0/8, 0.0.0.0/0)"], found


def test_missing_allowlist_is_not_this_rule_s_finding(harness):
    assert harness.stack(RULE, stack_with(None)) == []
    assert harness.stack(RULE, []) == []


def test_configuration_override():
    """A stack may tighten the floor and the union bound (Context, from stack settings)."""
    resources = [Resource(t, n, urn(t, n), Plain(p)) for t, n, p in stack_with(["10.0.0.0/8"])]
    assert list(allowlist_bounded.check(resources, Context())) == []
    strict = dataclasses.replace(Context(), allowlist_min_prefix=16)
    assert len(list(allowlist_bounded.check(resources, strict))) == 1
    tiny = dataclasses.replace(Context(), allowlist_max_share=1 / 1024)
    found = list(allowlist_bounded.check(resources, tiny))
    assert [f.message for f in found] == [
        "IP allowlist admin-allowlist admits 0.391% of IPv4 in union (10.0.0.0/8)"]


def test_waiver_override(harness):
    stack = stack_with(["0.0.0.0/0"])
    subject = "admin-allowlist/0.0.0.0/0"
    waived = stack_settings(waiver(RULE.name, "traefik", subject=subject),
                            waiver(RULE.name, "traefik", subject="admin-allowlist/sourceRange"))
    assert harness.stack(RULE, stack, waived) == []
    expired = stack_settings(
        waiver(RULE.name, "traefik", subject=subject, expires="2026-11-22"),
        waiver(RULE.name, "traefik", subject="admin-allowlist/sourceRange",
               expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 2


def test_context_defaults_are_the_documented_ones():
    fields = {f.name: f.default for f in dataclasses.fields(Context)}
    assert fields["allowlist_min_prefix"] == 8 and fields["allowlist_max_share"] == 1.0
