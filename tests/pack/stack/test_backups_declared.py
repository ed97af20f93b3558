"""stateful-backup-declared: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import CONTAINER, container, settings, waiver

from policies.core import K8S_STATEFULSET
from policies.stack import backups_declared

pytestmark = pytest.mark.unit
RULE = backups_declared.RULE


def svc(name: str, **labels: str) -> tuple[str, str, dict]:
    items = [{"label": "rampart.service", "value": name}]
    items += [{"label": f"rampart.{k.replace('_', '-')}", "value": v} for k, v in labels.items()]
    return CONTAINER, f"erp-{name}-container", container(name=f"erp-{name}", labels=items)


def test_stateful_service_with_deployed_backup_job_passes(harness):
    stack = [svc("postgres", stateful="true", backup="pgbackrest"), svc("pgbackrest"),
             svc("auth", stateful="false")]
    assert harness.stack(RULE, stack) == []


def test_backup_exempt_label_passes(harness):
    stack = [svc("redis", stateful="true", backup_exempt="cache, rebuilt from postgres")]
    assert harness.stack(RULE, stack) == []


def test_stateful_without_backup_fails_and_names_the_service(harness):
    found = harness.stack(RULE, [svc("postgres", stateful="true")])
    assert [v.message for v in found] == ["stateful service postgres declares no backup job"]
    assert found[0].urn.endswith("::erp-postgres-container")


def test_backup_job_not_deployed_fails(harness):
    found = harness.stack(RULE, [svc("postgres", stateful="true", backup="pgbackrest")])
    assert [v.message for v in found] == [
        "stateful service postgres names backup job pgbackrest, which the stack does not deploy"]


def test_missing_stateful_label_is_not_stateful_but_statefulsets_are(harness):
    assert harness.stack(RULE, [svc("auth")]) == []
    sts = {"metadata": {"name": "postgres", "labels": {"app.kubernetes.io/name": "postgres"}},
           "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": []}}}}
    found = harness.stack(RULE, [(K8S_STATEFULSET, "postgres", sts)])
    assert [v.message for v in found] == ["stateful service postgres declares no backup job"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "postgres", subject="backup")
    stack = [svc("postgres", stateful="true")]
    assert harness.stack(RULE, stack, settings(w)) == []
    expired = settings(dict(w, expires="2026-11-22"))
    assert len(harness.stack(RULE, stack, expired)) == 1


def test_one_shot_init_carrying_service_labels_is_not_a_service(harness):
    kind, name, props = svc("traefik", stateful="true", backup_exempt="certificates re-issued")
    init = dict(props, name="erp-traefik-acme-init", attach=True, restart="no",
                labels=[lbl for lbl in props["labels"] if lbl["label"] != "rampart.backup-exempt"])
    assert harness.stack(RULE, [(kind, name, props), (CONTAINER, "erp-traefik-acme-init",
                                                       init)]) == []
