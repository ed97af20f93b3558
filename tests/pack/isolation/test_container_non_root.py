"""container-runs-as-non-root (Docker) and root-init-confined: compliant, non-compliant,
property missing, waiver override."""

import pytest
from policy_harness import container, settings, waiver

from policies.core import K8S_DEPLOYMENT, SECRET, UNKNOWN
from policies.isolation import container_non_root

pytestmark = pytest.mark.unit
RULE = container_non_root.RULE
ADVISORY = container_non_root.ADVISORY_RULE


def volume_init(**changes):
    """The Docker target's volume-ownership init (infra/targets/docker/__init__.py), as recorded."""
    props = container(
        name="erp-postgres-run-init", user="0:0", entrypoints=["/bin/sh", "-c"],
        command=["chown 999:999 /var/run/postgresql && chmod 0700 /var/run/postgresql"],
        capabilities={"drops": ["ALL"], "adds": ["CHOWN", "FOWNER"]},
        networkMode="none", networksAdvanced=[], restart="no", attach=True, mustRun=False,
        labels=[{"label": "rampart.service", "value": "postgres"},
                {"label": "rampart.role", "value": "volume-init"}],
        volumes=[{"volumeName": "erp-postgres-run", "containerPath": "/var/run/postgresql"}])
    props.pop("healthcheck")
    props.update(changes)
    return props


@pytest.mark.parametrize("user", ["1000:1000", "1000", "65534:65534", "999:0", "472:0",
                                  "nobody", "node:node", " 1000 ", "+1000:+1000", "0001"])
def test_non_root_users_pass(harness, user):
    assert harness.resource(RULE, container(user=user)) == [], user


@pytest.mark.parametrize("user", ["0", "00", "0000", "0:0", "00:00", "root", "root:root",
                                  "+0", " 0", "-0", "0:1000", "ROOT", 0, "root:0"])
def test_uid_zero_in_any_spelling_fails(harness, user):
    found = harness.resource(RULE, container(user=user))
    assert len(found) == 1 and found[0].startswith("container runs as root (user 0"), found


def test_key_case_and_a_second_spelling_do_not_hide_root(harness):
    assert harness.resource(RULE, container(user=None, User="00:00")) != []
    assert harness.resource(RULE, container(user="1000:1000", USER="root")) != []


@pytest.mark.parametrize("user", [None, "", "   "])
def test_missing_user_fails_as_the_image_default(harness, user):
    assert harness.resource(RULE, container(user=user)) == [
        "container sets no user, so it runs as its image's default user (root in most images)"]


@pytest.mark.parametrize("user", ["4294967296", "-1", "99999999999:0"])
def test_out_of_range_uids_fail(harness, user):
    found = harness.resource(RULE, container(user=user))
    assert len(found) == 1 and "not a valid user or uid" in found[0], found


def test_secret_user_fails_and_unknown_waits(harness):
    assert "hidden behind a secret" in harness.resource(RULE, container(user=SECRET))[0]
    assert harness.resource(RULE, container(user=UNKNOWN)) == []


def test_kubernetes_is_run_as_non_root_s_job(harness):
    from policy_harness import deployment

    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []


def test_confined_volume_init_is_advisory_not_mandatory(harness):
    props = volume_init()
    assert harness.resource(RULE, props, name="erp-postgres-run-init") == []
    found = harness.resource(ADVISORY, props, name="erp-postgres-run-init")
    assert len(found) == 1 and "confined" in found[0]
    assert harness.resource(ADVISORY, container()) == []


@pytest.mark.parametrize("changes, lacking", [
    ({"networkMode": "bridge"}, "no network"),
    ({"networkMode": None, "networksAdvanced": [{"name": "erp-backend"}]}, "no network"),
    ({"capabilities": {"drops": ["ALL"], "adds": ["CHOWN", "SYS_ADMIN"]}}, "capabilities"),
    ({"capabilities": {"drops": [], "adds": ["CHOWN"]}}, "capabilities"),
    ({"readOnly": False}, "read-only root"),
    ({"securityOpts": []}, "no-new-privileges"),
    ({"attach": False}, "runs once"),
    ({"restart": "unless-stopped"}, "runs once"),
    ({"privileged": "true"}, "not privileged"),
    ({"mounts": [{"type": "bind", "source": "/etc", "target": "/e"}]}, "no host paths"),
    ({"devices": ["/dev/sda"]}, "no host paths"),
    ({"ports": [{"internal": 80, "external": 80}]}, "no published ports"),
])
def test_root_init_that_is_not_confined_is_mandatory(harness, changes, lacking):
    props = volume_init()
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    found = harness.resource(RULE, props, name="erp-postgres-run-init")
    assert len(found) == 1 and "without being confined" in found[0] and lacking in found[0], \
        found
    assert harness.resource(ADVISORY, props, name="erp-postgres-run-init") == []


def test_a_root_container_that_only_looks_like_an_init_is_mandatory(harness):
    props = volume_init(labels=[{"label": "rampart.service", "value": "auth"}])
    assert harness.resource(RULE, props) == ["container runs as root (user 0:0)"]


def test_waiver_override(harness):
    props = container(user="0:0")
    waived = settings(waiver(RULE.name, "auth", subject="user"))
    assert harness.resource(RULE, props, stack=waived) == []
    assert harness.outcomes[-1].status == "waived"
    expired = settings(waiver(RULE.name, "auth", subject="user", expires="2026-11-22"))
    found = harness.resource(RULE, props, stack=expired)
    assert found and "expired on 2026-11-22" in found[0]


def test_root_init_confined_four_ways(harness):
    """The advisory companion: listed when confined, silent for non-root or a missing user
    (the mandatory rule's finding), and waivable like any finding."""
    assert harness.resource(ADVISORY, volume_init(user="1000:1000")) == []
    assert harness.resource(ADVISORY, volume_init(user=None)) == []
    props = volume_init()
    assert len(harness.resource(ADVISORY, props, name="erp-postgres-run-init")) == 1
    waived = settings(waiver(ADVISORY.name, "erp-postgres-run-init", subject="user"))
    assert harness.resource(ADVISORY, props, name="erp-postgres-run-init", stack=waived) == []
