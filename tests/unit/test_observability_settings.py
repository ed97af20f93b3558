"""Thresholds and observability settings: owners' defaults, and impossible values refused
with an error naming the key."""

from __future__ import annotations

import pytest

from infra.model.errors import ValidationError
from infra.observability.settings import Thresholds, format_duration, load_settings, parse_duration

pytestmark = pytest.mark.unit

# DESIGN §1, typed by hand: if a default drifts from the owners' figure, this fails.
OWNERS = {
    "error_ratio_critical": 0.05,
    "latency_p99_warning_seconds": 1.0,
    "availability_min": 0.99,
    "availability_window": 3600,
    "db_pool_warning": 0.80,
    "db_pool_critical": 0.90,
    "memory_warning": 0.75,
    "memory_critical": 0.85,
    "cpu_warning": 0.80,
    "disk_warning": 0.75,
    "disk_critical": 0.85,
    "certificate_min_validity": 14 * 86400,
    "slo_objective": 0.999,
}


@pytest.mark.parametrize("field,expected", sorted(OWNERS.items()))
def test_default_is_the_owners_figure(field: str, expected: float) -> None:
    got = getattr(Thresholds.from_config(None), field)
    assert got == expected, f"default {field} = {got}, owners set {expected}"


def test_stack_values_override_defaults() -> None:
    t = Thresholds.from_config(
        {"errorRatioCritical": "0.02", "backupMaxAge": "90m", "walArchiveMaxLag": 300}
    )
    assert (t.error_ratio_critical, t.backup_max_age, t.wal_archive_max_lag) == (0.02, 5400, 300)


BAD_ALERTS = [
    ({"errorRatioCritical": 1.5}, "rampart:alerts.errorRatioCritical", "between 0 and 1"),
    ({"memoryWarning": -0.1}, "rampart:alerts.memoryWarning", "between 0 and 1"),
    ({"backupMaxAge": "-1h"}, "rampart:alerts.backupMaxAge", "positive"),
    ({"targetDownFor": 0}, "rampart:alerts.targetDownFor", "positive"),
    ({"walArchiveMaxLag": -30}, "rampart:alerts.walArchiveMaxLag", "positive"),
    ({"certificateMinValidity": "two weeks"}, "rampart:alerts.certificateMinValidity", "duration"),
    ({"latencyP99WarningSeconds": 0}, "rampart:alerts.latencyP99WarningSeconds", "positive"),
    ({"latencyP99WarningSeconds": True}, "rampart:alerts.latencyP99WarningSeconds", "number"),
    ({"errorRate": 0.05}, "rampart:alerts.errorRate", "unknown key"),
    ({"error_ratio_critical": 0.05}, "rampart:alerts.error_ratio_critical", "unknown key"),
    ({"diskWarning": 0.9}, "rampart:alerts.diskWarning", "must be below"),
    ({"dbPoolWarning": 0.9, "dbPoolCritical": 0.9}, "rampart:alerts.dbPoolWarning", "below"),
    ({"sloObjective": 1}, "rampart:alerts.sloObjective", "below 1"),
]


@pytest.mark.parametrize("raw,field,words", BAD_ALERTS, ids=[b[1] + ":" + b[2] for b in BAD_ALERTS])
def test_impossible_threshold_is_an_error_naming_the_key(raw: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as err:
        Thresholds.from_config(raw)
    assert err.value.field == field, f"{raw}: error names {err.value.field}, expected {field}"
    assert words in err.value.message, f"{raw}: message {err.value.message!r} lacks {words!r}"
    assert field in str(err.value)


SLACK = {"name": "chat", "slack": {"channel": "#erp", "secret": "SLACK_WEBHOOK_URL"}}
BAD_OBSERVABILITY = [
    ({"runbookUrl": "x"}, "rampart:observability.runbookUrl", "unknown key"),
    ({"nodeTargets": ["10.77.0.11"]}, "rampart:observability.nodeTargets[0]", "host:port"),
    ({"edgeTargets": ["10.77.0.11:8082", "edge"]}, "rampart:observability.edgeTargets[1]",
     "host:port"),
    ({"edgeTargets": "10.77.0.11:8082"}, "rampart:observability.edgeTargets", "list"),
    ({"scrapeInterval": "-30s"}, "rampart:observability.scrapeInterval", "positive"),
    ({"scrapeServices": "no"}, "rampart:observability.scrapeServices", "true or false"),
    ({"prometheusAddress": "10.77.0.14"}, "rampart:observability.prometheusAddress", "host:port"),
    (
        {"sloObjectives": {"api-gateway": 1.0}},
        "rampart:observability.sloObjectives.api-gateway",
        "between 0 and 1",
    ),
    (
        {"receivers": [{"name": "x", "webhook": {"url": "https://h/", "password": "p"}}]},
        "rampart:observability.receivers[0].webhook.password",
        "unknown key",
    ),
    (
        {"receivers": [{"name": "x", "slack": {"channel": "#c"}}]},
        "rampart:observability.receivers[0].slack.secret",
        "Vault",
    ),
    (
        {"receivers": [{"name": "x", "email": {"to": "a@b.c", "from": "m@b.c"}}]},
        "rampart:observability.receivers[0].email.smarthost",
        "required",
    ),
    (
        {"receivers": [{"name": "x", "webhook": {"url": "ftp://h"}}]},
        "rampart:observability.receivers[0].webhook.url",
        "http",
    ),
    (
        {"receivers": [{"name": "x", "webhook": {"url": "https://h"}, "slack": {}}]},
        "rampart:observability.receivers[0]",
        "exactly one",
    ),
    ({"receivers": [SLACK, SLACK]}, "rampart:observability.receivers", "used twice"),
    (
        {"receivers": [SLACK], "routes": {"critical": ["pager"]}},
        "rampart:observability.routes.critical",
        "no receiver named 'pager'",
    ),
    (
        {"receivers": [SLACK], "routes": {"info": ["chat"]}},
        "rampart:observability.routes.info",
        "critical",
    ),
]


@pytest.mark.parametrize(
    "raw,field,words", BAD_OBSERVABILITY, ids=[b[1] + ":" + b[2] for b in BAD_OBSERVABILITY]
)
def test_bad_observability_setting_names_the_key(raw: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_settings(None, raw)
    assert err.value.field == field, f"{raw}: error names {err.value.field}, expected {field}"
    assert words in err.value.message, f"{raw}: message {err.value.message!r} lacks {words!r}"


def test_receivers_and_routes_are_parsed() -> None:
    s = load_settings(
        None,
        {
            "receivers": [
                {
                    "name": "pager",
                    "webhook": {"url": "https://pager.example.com/hook", "secret": "PAGER_TOKEN"},
                },
                SLACK,
            ],
            "routes": {"critical": ["pager", "chat"], "warning": "chat"},
            "nodeTargets": ["db1:9100"],
            "sloObjectives": {"api-gateway": 0.995},
        },
    )
    assert [r.name for r in s.receivers] == ["pager", "chat"]
    assert s.route_critical == ("pager", "chat") and s.route_warning == ("chat",)
    assert s.node_targets == ("db1:9100",)
    assert s.slo_objective("api-gateway") == 0.995 and s.slo_objective("crm") == 0.999


@pytest.mark.parametrize(
    "text,seconds", [("90s", 90), ("15m", 900), ("7h", 25200), ("14d", 1209600), ("1h30m", 5400)]
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    assert parse_duration("k", text) == seconds
    assert parse_duration("k", format_duration(seconds)) == seconds
