"""alert-rules-have-runbook: compliant, non-compliant, property missing, waiver override."""

import pytest
import yaml
from policy_harness import CONTAINER, container, settings, waiver

from policies.core import K8S_PROMETHEUS_RULE
from policies.stack import alerts_have_runbooks

pytestmark = pytest.mark.unit
RULE = alerts_have_runbooks.RULE
RUNBOOK = "https://github.com/rampart/rampart/blob/main/runbooks/high-error-rate.md"


def rules_file(*alerts: dict) -> dict:
    return {"groups": [{"name": "services", "rules": [
        {"record": "service:http_requests:rate5m", "expr": "sum(rate(x[5m]))"}, *alerts]}]}


def alert(name: str, **annotations: str) -> dict:
    return {"alert": name, "expr": "up == 0", "labels": {"severity": "critical"},
            "annotations": {"summary": name, **annotations}}


def prometheus(doc: dict) -> tuple[str, str, dict]:
    props = container(name="erp-prometheus", uploads=[
        {"file": "/etc/prometheus/rules/services.rules.yml", "content": yaml.safe_dump(doc)}])
    return CONTAINER, "erp-prometheus-container", props


def test_alerts_with_runbooks_pass(harness):
    doc = rules_file(alert("HighErrorRate", runbook_url=RUNBOOK))
    assert harness.stack(RULE, [prometheus(doc)]) == []


def test_alert_without_runbook_fails_recording_rules_ignored(harness):
    doc = rules_file(alert("HighErrorRate", runbook_url=RUNBOOK), alert("BackupTooOld"))
    found = harness.stack(RULE, [prometheus(doc)])
    assert [v.message for v in found] == [
        "alert BackupTooOld in /etc/prometheus/rules/services.rules.yml has no runbook_url "
        "annotation"]


def test_missing_or_empty_annotations_fail(harness):
    bare = {"alert": "Down", "expr": "up == 0"}
    doc = rules_file(bare, alert("Empty", runbook_url=" "))
    assert len(harness.stack(RULE, [prometheus(doc)])) == 2


def test_prometheus_rule_crd(harness):
    props = {"spec": rules_file(alert("Down"))}
    found = harness.stack(RULE, [(K8S_PROMETHEUS_RULE, "erp-alerts", props)])
    assert len(found) == 1


def test_waiver_override(harness):
    stack = [prometheus(rules_file(alert("Down")))]
    assert harness.stack(RULE, stack, settings(waiver(RULE.name, "erp-prometheus-container",
                                                        subject="Down"))) == []
    expired = settings(waiver(RULE.name, "erp-prometheus-container", subject="Down",
                                expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1
