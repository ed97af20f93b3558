"""health-check-defined on the pod-carrying kinds the pack judges: Jobs and CronJobs exit by
design and need no probes; a ReplicaSet or a Deployment patch does."""

import pytest
from policy_harness import POD_CONTAINER

from policies.resources import health_checks

pytestmark = pytest.mark.unit
RULE = health_checks.RULE
BARE = {k: v for k, v in POD_CONTAINER.items() if not k.endswith("Probe")}


def _template(spec_path, container):
    props: dict = {"containers": [container]}
    for step in reversed(spec_path):
        props = {step: props}
    return props


@pytest.mark.parametrize("token, path", [
    ("kubernetes:batch/v1:Job", ("spec", "template", "spec")),
    ("kubernetes:batch/v1:CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
])
def test_batch_pods_need_no_probes(harness, token, path):
    assert harness.resource(RULE, _template(path, BARE), token, "migrate") == []


@pytest.mark.parametrize("token", ["kubernetes:apps/v1:ReplicaSet",
                                   "kubernetes:apps/v1:DeploymentPatch"])
def test_long_running_pods_need_probes(harness, token):
    found = harness.resource(RULE, _template(("spec", "template", "spec"), BARE), token, "auth")
    assert found == ["container auth has no readinessProbe", "container auth has no livenessProbe"]
