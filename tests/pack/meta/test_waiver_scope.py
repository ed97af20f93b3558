"""A waiver waives one finding: rule + resource + subject, never a pattern, never for long.

The issue's case first: node-exporter's waiver for its read-only /proc mount must not waive
a read-write Docker socket mounted into the same container later. Then the shapes a waiver
may not take (generated with hypothesis: wildcard spellings, dates around the limit) and the
per-stack expiry limit (`rampart:policyWaiverMaxDays`, bounded by a hard cap).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from policy_harness import TODAY, Harness, container, settings
from policy_harness import stack_policy as from_config_values

from infra.model.errors import ValidationError
from policies.isolation import no_host_mounts
from policies.meta import waivers
from policies.settings import (
    MAX_DAYS_CAP,
    PATTERN_CHARS,
    StackSettings,
    parse_waivers,
)

pytestmark = pytest.mark.unit
MOUNTS = no_host_mounts.RULE
VALID = waivers.VALID_RULE
NODE_EXPORTER = "erp-node-exporter-container"


def entry(rule: str = MOUNTS.name, resource: str = "node-exporter", subject: Any = "/proc",
          expires: str = "2027-05-31", **kw: Any) -> dict[str, Any]:
    return {"rule": rule, "resource": resource, "subject": subject,
            "reason": "node_exporter reads it read-only", "expires": expires, **kw}


def bind(source: str, read_only: bool = True) -> dict[str, Any]:
    return {"type": "bind", "source": source, "target": f"/host{source}", "readOnly": read_only}


def node_exporter(*extra: dict[str, Any]) -> dict[str, Any]:
    """node-exporter as the catalog renders it: /proc, /sys and / bound read-only."""
    return container(
        name="erp-node-exporter", user="65534:65534",
        labels=[{"label": "rampart.service", "value": "node-exporter"},
                {"label": "rampart.group", "value": "platform"}],
        mounts=[bind("/proc"), bind("/sys"), bind("/"), *extra])


SHIPPED = (entry(id="node-exporter-host-proc", subject="/proc"),
           entry(id="node-exporter-host-sys", subject="/sys"),
           entry(id="node-exporter-host-root", subject="/"))


# --- one waiver, one finding ------------------------------------------------------------------


def test_the_shipped_waivers_waive_exactly_their_three_mounts(harness):
    assert harness.resource(MOUNTS, node_exporter(), name=NODE_EXPORTER,
                            stack=settings(*SHIPPED)) == []
    assert sorted((o.finding.subject, o.waiver.id if o.waiver else None)
                  for o in harness.outcomes) == [
        ("/", "node-exporter-host-root"), ("/proc", "node-exporter-host-proc"),
        ("/sys", "node-exporter-host-sys")]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_proc_waiver_does_not_waive_a_new_docker_socket_on_the_same_service(harness,
                                                                              read_only):
    socket = bind("/var/run/docker.sock", read_only)
    found = harness.resource(MOUNTS, node_exporter(socket), name=NODE_EXPORTER,
                             stack=settings(*SHIPPED))
    mode = "read-only" if read_only else "read-write"
    assert found == [f"mounts the container runtime socket /var/run/docker.sock ({mode}) at "
                     "/host/var/run/docker.sock: root on the host"]


def test_a_proc_waiver_does_not_waive_another_host_path(harness):
    found = harness.resource(MOUNTS, node_exporter(bind("/etc")), name=NODE_EXPORTER,
                             stack=settings(*SHIPPED))
    assert found == ["mounts host path /etc at /host/etc"]


def test_without_the_subject_the_same_rule_and_service_waive_nothing(harness):
    no_subject = {k: v for k, v in entry().items() if k != "subject"}
    found = harness.resource(MOUNTS, node_exporter(), name=NODE_EXPORTER,
                             stack=settings(no_subject))
    assert len(found) == 3
    (invalid,) = harness.stack(VALID, [], settings(dict(no_subject, id="old-style")))
    assert invalid.message == "waiver old-style is invalid: no subject"


@pytest.mark.parametrize("resource", [
    "node-exporter",  # catalog service
    NODE_EXPORTER,  # logical name
    f"urn:pulumi:test::rampart::docker:index/container:Container::{NODE_EXPORTER}",
    "urn:pulumi:test::rampart::rampart:docker:Service$docker:index/container:Container::x",
])
def test_resource_is_one_exact_name(harness, resource):
    waived = settings(entry(resource=resource), entry(resource=resource, subject="/sys"),
                      entry(resource=resource, subject="/"))
    found = harness.resource(MOUNTS, node_exporter(), name=NODE_EXPORTER, stack=waived)
    assert harness.stack(VALID, [], waived) == []  # a `$` inside a URN is not an anchor
    assert len(found) == (3 if resource.endswith("::x") else 0)


@pytest.mark.parametrize("subject, waives", [
    ("/proc", True), ("/proc/", True), ("//proc", True), ("/proc/.", True),
    ("/proc/self", False), ("/pro", False), ("proc", False),
])
def test_paths_compare_normalised_and_otherwise_exactly(harness, subject, waives):
    found = harness.resource(MOUNTS, container(mounts=[bind("/proc")]),
                             stack=settings(entry(resource="auth", subject=subject)))
    assert found == ([] if waives else ["mounts host path /proc at /host/proc"])


def test_ids_and_targets_are_unique():
    first, same_id, same_target = parse_waivers([
        entry(id="w1"), entry(id="w1", subject="/sys"), entry(id="w2", subject="/proc/")])
    assert first.valid
    assert same_id.problems == ("id 'w1' is used by an earlier waiver",)
    assert same_target.problems == ("waives the same finding as waiver w1",)


# --- no patterns ------------------------------------------------------------------------------

# Each example runs the pack; on a loaded machine that can take longer than hypothesis'
# default 200 ms deadline, which would make the tests flaky without making them stricter.
RELAXED = hypothesis_settings(deadline=None)
NAME = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)


def _any_case(word: str) -> st.SearchStrategy[str]:
    flips = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return flips.map(lambda fs: "".join(c.upper() if f else c for c, f in zip(word, fs,
                                                                              strict=True)))


_PAD = st.sampled_from(["", " ", "\t", "  "])
EVERYTHING = st.tuples(
    _PAD, st.sampled_from(["all", "any", "every", "everything"]).flatmap(_any_case), _PAD,
).map("".join)
WITH_PATTERN_CHAR = st.tuples(NAME, st.sampled_from(sorted(PATTERN_CHARS)), NAME | st.just(""),
                              ).map("".join)
REGEX = st.sampled_from([".*", ".+", "^node-exporter$", "node-exporter$", "^node",
                         "node-exporter|auth", "(node-exporter)", "[a-z]+", "node-?",
                         "node-*", "*", "**", "{node-exporter,auth}", "%", "/proc/*",
                         "/pr[o]c", "/(proc|sys)", r"\/proc"])
EMPTY = st.sampled_from(["", " ", "\t", " \n "])
WILDCARD = st.one_of(EVERYTHING, WITH_PATTERN_CHAR, REGEX, EMPTY)


@RELAXED
@given(spelling=WILDCARD, where=st.sampled_from(["resource", "subject"]))
def test_wildcard_resource_or_subject_is_refused_and_waives_nothing(spelling, where):
    harness = Harness()
    bad = dict(entry(id="too-broad"), **{where: spelling})
    (w,) = parse_waivers([bad])
    assert not w.valid, (where, spelling)
    (invalid,) = harness.stack(VALID, [], settings(bad))
    assert invalid.message.startswith("waiver too-broad is invalid: "), invalid.message
    # A pattern that would have matched as a glob or regex matches nothing at all.
    found = harness.resource(MOUNTS, node_exporter(), name=NODE_EXPORTER,
                             stack=settings(bad, entry(subject="/sys"), entry(subject="/")))
    assert found == ["mounts host path /proc at /host/proc"]


@RELAXED
@given(name=NAME | st.from_regex(r"(/[a-z0-9._-]{1,8}){1,4}", fullmatch=True)
       | st.integers(1, 65535))
def test_plain_names_paths_and_ports_are_accepted(name):
    (w,) = parse_waivers([entry(resource="auth", subject=name)])
    assert w.valid, w.problems


@pytest.mark.parametrize("value", [["/proc", "/sys"], {"path": "/proc"}, True, 1.5])
def test_a_subject_is_one_value(value):
    (w,) = parse_waivers([entry(subject=value)])
    assert w.problems == (f"subject must be one name, not {type(value).__name__} {value!r}",)


# --- expiry limit -----------------------------------------------------------------------------


def _a_year_after(day: dt.date) -> dt.date:
    """The same date next year; 29 February becomes the 28th."""
    if (day.month, day.day) == (2, 29):
        return dt.date(day.year + 1, 2, 28)
    return dt.date(day.year + 1, day.month, day.day)


def test_an_expiry_of_9999_12_31_is_refused_and_waives_nothing(harness):
    forever = entry(id="forever", expires="9999-12-31")
    (invalid,) = harness.stack(VALID, [], settings(forever))
    assert invalid.message == ("waiver forever is invalid: expiry 9999-12-31 is more than one "
                               "year away (latest allowed: 2027-11-23)")
    found = harness.resource(MOUNTS, container(mounts=[bind("/proc")]),
                             stack=settings(dict(forever, resource="auth")))
    assert found == ["mounts host path /proc at /host/proc"]
    assert harness.stack(waivers.IN_FORCE_RULE, [], settings(forever)) == []


@RELAXED
@given(today=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)), offset=st.integers(-3, 3))
def test_default_limit_is_one_year_from_today(today, offset):
    expires = _a_year_after(today) + dt.timedelta(days=offset)
    stack = StackSettings(waivers=parse_waivers([entry(expires=expires.isoformat())]),
                          today=today)
    (w,) = stack.judged
    assert w.valid == (offset <= 0), (today, expires, w.problems)


@pytest.mark.parametrize("today, latest", [
    (dt.date(2026, 12, 4), dt.date(2027, 12, 4)),
    (dt.date(2028, 2, 29), dt.date(2029, 2, 28)),
    (dt.date(2027, 3, 1), dt.date(2028, 3, 1)),  # 366 days: across 29 February 2028
])
def test_one_year_is_a_calendar_year(today, latest):
    assert StackSettings(today=today).latest_expiry == latest


def _configured(days: Any, today: dt.date, *entries: dict[str, Any]) -> StackSettings:
    return from_config_values({"rampart:policyWaiverMaxDays": days,
                               "rampart:policyWaivers": list(entries)}, today=today)


@RELAXED
@given(days=st.integers(1, MAX_DAYS_CAP), offset=st.integers(-2, 2),
       today=st.dates(dt.date(2020, 1, 1), dt.date(2040, 12, 31)))
def test_a_stack_may_set_its_limit_within_the_cap(days, offset, today):
    expires = today + dt.timedelta(days=days + offset)
    stack = _configured(days, today, entry(expires=expires.isoformat()))
    assert stack.waiver_max_days == days
    (w,) = stack.judged  # no entry for a settings problem
    assert w.valid == (offset <= 0), (days, offset, w.problems)


def test_the_limit_arrives_as_text_from_the_engine():
    stack = _configured("30", TODAY, entry(expires=(TODAY + dt.timedelta(days=31)).isoformat()))
    assert stack.waiver_max_days == 30
    (w,) = stack.judged
    assert w.problems == ("expiry 2026-12-24 is more than 30 days away (latest allowed: "
                          "2026-12-23)",)


@RELAXED
@given(days=st.integers(MAX_DAYS_CAP + 1, 100_000) | st.integers(-1000, 0)
       | st.sampled_from(["400", "forever", "", "3.5", True, 30.5, [30]]))
def test_a_limit_beyond_the_cap_is_itself_an_error(days):
    harness = Harness()
    if not isinstance(days, int | str) or isinstance(days, bool) or days in ("forever", "3.5"):
        # Not a whole number at all: the stack is refused when it is read (infra/stack), as
        # the stack file reader refuses it, before anything is judged.
        with pytest.raises(ValidationError, match="policyWaiverMaxDays"):
            _configured(days, TODAY, entry(expires="2027-05-31"))
        return
    stack = _configured(days, TODAY, entry(expires="2027-05-31"))
    if days == "":
        assert stack.waiver_max_days is None and harness.stack(VALID, [], stack) == []
        return
    assert stack.waiver_max_days is None  # the default year applies meanwhile
    (invalid,) = harness.stack(VALID, [], stack)
    assert invalid.message.startswith("rampart:policyWaiverMaxDays "), invalid.message
    assert stack.judged[0].valid  # 2027-05-31 is within the default year


def test_a_shorter_limit_invalidates_a_waiver_the_default_allows(harness):
    stack = _configured(90, TODAY, entry(id="node-proc", resource="auth"))
    (invalid,) = harness.stack(VALID, [], stack)
    assert invalid.message == ("waiver node-proc is invalid: expiry 2027-05-31 is more than 90 "
                               "days away (latest allowed: 2027-02-21)")
    found = harness.resource(MOUNTS, container(mounts=[bind("/proc")]), stack=stack)
    assert found == ["mounts host path /proc at /host/proc"]
