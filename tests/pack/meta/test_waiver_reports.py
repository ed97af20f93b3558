"""The offline reports (text, JSON, SARIF, Markdown) list every waived finding with the waiver
that waived it, the subject a waiver must name, and refused or invalid waivers as such; and on
the shipped dev stack a read-write Docker socket added to node-exporter is not waived by the
waivers for its /proc, /sys and / mounts."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra import stack as stacks
from infra.offline.evaluate import evaluate, resources_of
from infra.offline.locate import Locator
from infra.offline.report import Report, build_report
from infra.offline.reporters import render as render_report
from policies.core import CONTAINER, Plain, Resource

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 11, 23)
SOCKET = "/var/run/docker.sock"

CATALOG = """\
platform: erp
versions: versions.yaml

services:
  auth:
    group: core
    image: auth
  crm:
    group: business
    image: crm
  node-exporter:
    group: platform
    image: node-exporter
"""

STACK = """\
config:
  rampart:target: docker
  rampart:catalog: catalog.yaml
  rampart:policyWaivers:
    - id: crm-writable-root
      rule: read-only-root-filesystem
      resource: crm
      subject: readOnly
      reason: vendor image writes under /opt at start
      expires: 2027-02-28
    - id: node-exporter-proc
      rule: no-host-mounts
      resource: node-exporter
      subject: /proc
      reason: host metrics, read-only
      expires: 2027-05-31
    - id: auth-privileged
      rule: no-privileged
      resource: auth
      subject: privileged
      reason: it asked nicely
      expires: 2027-01-31
    - id: everything
      rule: no-host-mounts
      resource: '*'
      subject: all
      reason: too broad
      expires: 9999-12-31
"""


def _container(service: str, group: str, **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": f"erp-{service}", "image": f"docker.io/erp/{service}:1.0.0",
        "capabilities": {"drops": ["ALL"], "adds": []}, "privileged": False, "readOnly": True,
        "securityOpts": ["no-new-privileges:true"], "memory": 1024, "cpus": "1",
        "user": "1000:1000",
        "healthcheck": {"tests": ["CMD", "true"]}, "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"}, "restart": "unless-stopped",
        "labels": [{"label": "rampart.service", "value": service},
                   {"label": "rampart.group", "value": group}],
    }
    props.update(changes)
    return props


def _resources() -> list[Resource]:
    bind = {"type": "bind", "source": "/proc", "target": "/host/proc", "readOnly": True}
    sock = {"type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": False}
    specs = {
        "auth": _container("auth", "core", privileged=True),
        "crm": _container("crm", "business", readOnly=False),
        "node-exporter": _container("node-exporter", "platform", mounts=[bind, sock]),
        "prometheus": _container("prometheus", "platform", uploads=[{
            "file": "/etc/prometheus/prometheus.yml",
            "content": "scrape_configs:\n" + "".join(
                f"  - job_name: {s}\n    static_configs: [{{targets: ['{s}:9000']}}]\n"
                for s in ("auth", "crm", "node-exporter", "prometheus"))}]),
    }
    return [Resource(CONTAINER, f"erp-{name}-container",
                     f"urn:pulumi:test::rampart::{CONTAINER}::erp-{name}-container", Plain(p))
            for name, p in specs.items()]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    project = tmp_path_factory.mktemp("project")
    (project / "catalog.yaml").write_text(CATALOG)
    (project / "versions.yaml").write_text("images: {}\n")
    (project / "Pulumi.test.yaml").write_text(STACK)
    stack = stacks.load("test", project, today=TODAY)
    settings = stack.policy
    resources = _resources()
    locator = Locator(stack)
    return build_report(evaluate(resources, settings), settings, locator=locator,
                           resources=len(resources), seconds=0.1,
                           stack_file="Pulumi.test.yaml", catalog="catalog.yaml")


def _statuses(report: Report) -> dict[tuple[str, str, str | None], str]:
    return {(i.rule.name, i.resource, i.outcome.finding.subject): i.outcome.status
            for i in report.items}


def test_each_waiver_acts_on_its_one_finding(report):
    got = _statuses(report)
    assert got[("read-only-root-filesystem", "erp-crm-container", "readOnly")] == "waived"
    assert got[("no-host-mounts", "erp-node-exporter-container", "/proc")] == "waived"
    assert got[("no-host-mounts", "erp-node-exporter-container", SOCKET)] == "violation"
    assert got[("no-privileged", "erp-auth-container", "privileged")] == "waiver-refused"
    assert {(i.rule.name, i.resource) for i in report.mandatory} == {
        ("no-host-mounts", "erp-node-exporter-container"),
        ("no-privileged", "erp-auth-container"),
        ("policy-waivers-valid", "stack"),
    }
    invalid = sorted(i.outcome.message for i in report.mandatory
                     if i.rule.name == "policy-waivers-valid")
    assert invalid == [
        "waiver auth-privileged is invalid: no-privileged on auth about privileged is never "
        "waivable: a privileged container is root on the host",
        "waiver everything is invalid: resource '*' is a pattern; name exactly one resource; "
        "subject 'all' names everything, not one subject; expiry 9999-12-31 is more than one "
        "year away (latest allowed: 2027-11-23)",
    ]
    for item in report.mandatory:
        if item.rule.name == "policy-waivers-valid":  # located at the waiver's own line
            line = STACK.splitlines()[item.location.line - 1].strip()
            assert item.location.file == "Pulumi.test.yaml" and line.startswith("- id: ")


def test_waiver_rows_show_subject_status_and_problems(report):
    rows = {r["id"]: r for r in report.waiver_rows()}
    assert rows["crm-writable-root"]["subject"] == "readOnly"
    assert rows["crm-writable-root"]["status"] == "active" and rows["crm-writable-root"]["matched"]
    assert rows["node-exporter-proc"]["status"] == "active"
    assert rows["auth-privileged"]["status"] == "invalid"
    assert any("never waivable" in p for p in rows["auth-privileged"]["problems"])
    assert rows["everything"]["status"] == "invalid" and not rows["everything"]["matched"]


def test_json_lists_waived_findings_with_waiver_and_subject(report):
    doc = json.loads(render_report(report, "json"))
    waived = {(w["rule"], w["subject"]): w["waiver"] for w in doc["waived"]}
    assert waived == {("read-only-root-filesystem", "readOnly"): "crm-writable-root",
                      ("no-host-mounts", "/proc"): "node-exporter-proc"}
    by_subject = {v["subject"]: v for v in doc["violations"]}
    assert by_subject[SOCKET]["waiver"] is None and by_subject[SOCKET]["status"] == "violation"
    assert by_subject["privileged"]["status"] == "waiver-refused"
    assert by_subject["privileged"]["waiver"] == "auth-privileged"
    assert {w["id"]: w["status"] for w in doc["waivers"]} == {
        "crm-writable-root": "active", "node-exporter-proc": "active",
        "auth-privileged": "invalid", "everything": "invalid"}


def test_sarif_suppresses_only_waived_results_naming_the_waiver(report):
    doc = json.loads(render_report(report, "sarif"))
    schema = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
    assert not errors, errors[:3]
    results = doc["runs"][0]["results"]
    suppressed = {r["properties"]["subject"]: r["suppressions"][0]["justification"]
                  for r in results if "suppressions" in r}
    assert set(suppressed) == {"readOnly", "/proc"}
    assert suppressed["/proc"].startswith("waiver node-exporter-proc until 2027-05-31")
    waived_ids = {r["properties"]["waiver"] for r in results if "suppressions" in r}
    assert waived_ids == {"crm-writable-root", "node-exporter-proc"}
    socket = [r for r in results if r["properties"].get("subject") == SOCKET]
    assert len(socket) == 1 and "suppressions" not in socket[0]
    assert socket[0]["level"] == "error"


def test_markdown_names_the_waiver_of_each_waived_finding(report):
    md = render_report(report, "markdown")
    waived = md.split("<summary>Waived (2)</summary>", 1)[1].split("</details>", 1)[0]
    assert "(waiver `crm-writable-root`)" in waived and "(waiver `node-exporter-proc`)" in waived
    assert "| Waiver | Rule | Resource | Subject | Expires | Status | Reason |" in md
    assert "| `node-exporter-proc` | `no-host-mounts` | `node-exporter` | `/proc` |" in md
    for line in md.splitlines():
        if line.startswith("| [`"):
            assert line.count(" | ") == 3, line  # a finding row keeps the header's columns


def test_text_names_the_waiver_and_the_subject(report):
    text = render_report(report, "text")
    assert ("WAIVED    no-host-mounts  erp-node-exporter-container: mounts host path /proc at "
            "/host/proc  [waiver node-exporter-proc until 2027-05-31]") in text
    assert "MANDATORY no-host-mounts  erp-node-exporter-container: mounts the container " \
           "runtime socket" in text
    assert "  node-exporter-proc: no-host-mounts on node-exporter about /proc until " \
           "2027-05-31 (active)" in text
    assert "(waiver auth-privileged does not apply: a privileged container is root on the " \
           "host)" in text


# --- the shipped dev stack ----------------------------------------------------------------------


def test_dev_stack_a_read_write_socket_on_node_exporter_is_not_waived(dev_recording):
    """The issue's case on the real program: the shipped waivers keep waiving /proc, /sys and
    /, and the socket added next to them blocks."""
    settings = stacks.load("dev", ROOT, today=TODAY).policy
    target = "erp-node-exporter-container"
    resources = []
    for r in resources_of(dev_recording):
        if r.name == target:
            props = copy.deepcopy(dict(r.props))
            props["mounts"] = [*props.get("mounts", []), {
                "type": "bind", "source": SOCKET, "target": SOCKET, "readOnly": False}]
            r = Resource(r.type, r.name, r.urn, Plain(props))
        resources.append(r)
    assert any(r.name == target for r in resources)
    outcomes = evaluate(resources, settings)
    blocking = [(o.rule.name, o.finding.subject) for o in outcomes if o.blocking]
    assert blocking == [("no-host-mounts", SOCKET)], blocking
    waived = sorted((o.finding.subject, o.waiver.id) for o in outcomes
                    if o.status == "waived" and o.waiver is not None)
    assert waived == [("/", "node-exporter-host-root"), ("/proc", "node-exporter-host-proc"),
                      ("/sys", "node-exporter-host-sys")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_waivers_each_waive_one_finding(stack, request):
    recording = request.getfixturevalue(f"{stack}_recording")
    settings = stacks.load(stack, ROOT).policy
    assert all(w.valid for w in settings.judged), [w.problems for w in settings.judged]
    outcomes = evaluate(resources_of(recording), settings)
    used = [o.waiver.id for o in outcomes if o.waiver is not None]
    assert sorted(used) == sorted(w.id for w in settings.waivers), used
    assert not [o for o in outcomes if o.blocking]
