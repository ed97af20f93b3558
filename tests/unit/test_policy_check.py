"""`rampart policy check`: evaluation through the pack, report formats, exit codes, SARIF
schema validity, and the verdict on the real dev and prod stacks.

The SARIF 2.1.0 schema in tests/fixtures/sarif-schema-2.1.0.json is the OASIS TC's published
schema (errata01), vendored unchanged from github.com/oasis-tcs/sarif-spec,
Schemata/sarif-schema-2.1.0.json (112,768 characters, sha256 ddddcccb…fce7949).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra import stack as stack_config
from infra.offline import report as offline_report
from infra.offline.evaluate import evaluate, resources_of
from infra.offline.locate import FIELD_KEYS, Locator
from infra.offline.report import Item, Report, build_report, check_stack
from infra.offline.reporters import FORMATS
from infra.offline.reporters import render as render_report
from policies.core import CONTAINER, Plain, Resource

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit

SCHEMA_PATH = ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "ddddcccbf95c7c50c037b5b07eff4140556278ca574ff374db46786b5fce7949"
TODAY = dt.date(2026, 11, 23)

CATALOG = """\
platform: erp
versions: versions.yaml

services:
  auth:
    group: core
    image: auth
    port: 3001
  crm:
    group: business
    image: crm
    port: 3013
    security:
      read_only_root: false
  billing:
    group: business
    image: billing
    port: 3020
"""

VERSIONS = """\
images:
  auth:
    repository: docker.io/erp/auth
    tag: "1.4.2"
  crm:
    repository: docker.io/erp/crm
    tag: "2.0.1"
  billing:
    repository: docker.io/erp/billing
    tag: "latest"
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
    - id: billing-old
      rule: image-pinned
      resource: billing
      subject: image
      reason: vendor has no tags
      expires: 2026-10-31
"""


def _container(service: str, image: str, **changes: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": f"erp-{service}", "image": image,
        "capabilities": {"drops": ["ALL"], "adds": []}, "privileged": False, "readOnly": True,
        "securityOpts": ["no-new-privileges:true"], "user": "1000:1000", "memory": 1024,
        "cpus": "1",
        "healthcheck": {"tests": ["CMD", "true"]}, "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"}, "restart": "unless-stopped",
        "labels": [{"label": "rampart.service", "value": service}],
    }
    props.update(changes)
    return props


def _resources(**auth_changes: Any) -> list[Resource]:
    specs = {
        "auth": _container("auth", "docker.io/erp/auth:1.4.2", **auth_changes),
        "crm": _container("crm", "docker.io/erp/crm:2.0.1", readOnly=False),
        "billing": _container("billing", "docker.io/erp/billing:latest"),
        "prometheus": _container("prometheus", "docker.io/prom/prometheus:v3.4.1", uploads=[{
            "file": "/etc/prometheus/prometheus.yml",
            "content": "scrape_configs:\n" + "".join(
                f"  - job_name: {s}\n    static_configs: [{{targets: ['{s}:9000']}}]\n"
                for s in ("auth", "crm", "billing", "prometheus"))}]),
    }
    return [Resource(CONTAINER, f"erp-{name}-container",
                     f"urn:pulumi:test::rampart::{CONTAINER}::erp-{name}-container", Plain(p))
            for name, p in specs.items()]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "versions.yaml").write_text(VERSIONS)
    (tmp_path / "Pulumi.test.yaml").write_text(STACK)
    return tmp_path


def _report(project: Path, resources: list[Resource] | None = None) -> Report:
    stack = stack_config.load("test", project, today=TODAY)
    settings = stack.policy
    resources = resources if resources is not None else _resources()
    outcomes = evaluate(resources, settings)
    locator = Locator(stack)
    return build_report(outcomes, settings, locator=locator, resources=len(resources),
                           seconds=0.1, stack_file="Pulumi.test.yaml", catalog="catalog.yaml")


def _by_rule(report: Report, rule: str) -> list[Item]:
    return [i for i in report.items if i.rule.name == rule]


# --- evaluation and waivers -------------------------------------------------------------------


def test_expired_waiver_brings_the_violation_back_and_blocks(project):
    report = _report(project)
    (item,) = _by_rule(report, "image-pinned")
    assert item.outcome.status == "waiver-expired"
    assert "expired on 2026-10-31" in item.outcome.message
    assert report.exit_code == 1 and item in report.mandatory


def test_active_waiver_is_listed_not_counted(project):
    report = _report(project)
    (item,) = _by_rule(report, "read-only-root-filesystem")
    assert item.outcome.status == "waived" and item not in report.violations
    rows = {r["id"]: r for r in report.waiver_rows()}
    assert rows["crm-writable-root"]["status"] == "active" and rows["crm-writable-root"]["matched"]
    assert rows["billing-old"]["status"] == "expired"


def test_exit_code_zero_when_only_advisory_or_waived(project):
    resources = [r for r in _resources() if not r.name.startswith("erp-billing")]
    report = _report(project, resources)
    assert report.mandatory == [] and report.exit_code == 0, [i.outcome.message
                                                              for i in report.mandatory]


def test_a_new_mandatory_violation_fails_the_check(project):
    report = _report(project, _resources(privileged=True))
    assert [i.resource for i in _by_rule(report, "no-privileged")] == ["erp-auth-container"]
    assert report.exit_code == 1


# --- locations --------------------------------------------------------------------------------


def test_locations_point_at_the_line_that_caused_the_finding(project):
    report = _report(project, _resources(privileged=True))
    catalog = CATALOG.splitlines()
    (priv,) = _by_rule(report, "no-privileged")
    assert priv.location.file == "catalog.yaml"
    assert catalog[priv.location.line - 1].strip() == "auth:"
    (pinned,) = _by_rule(report, "image-pinned")  # expired waiver: the stack file changed
    assert pinned.location.file == "Pulumi.test.yaml"
    assert STACK.splitlines()[pinned.location.line - 1].strip() == "- id: billing-old"
    (ro,) = _by_rule(report, "read-only-root-filesystem")
    assert catalog[ro.location.line - 1].strip() == "security:"


def test_image_findings_point_at_the_pin_in_the_versions_file(project):
    stack_without_waivers = "config:\n  rampart:target: docker\n  rampart:catalog: catalog.yaml\n"
    (project / "Pulumi.test.yaml").write_text(stack_without_waivers)
    stack = stack_config.load("test", project, today=TODAY)
    settings = stack.policy
    outcomes = evaluate(_resources(), settings)
    locator = Locator(stack)
    report = build_report(outcomes, settings, locator=locator, resources=4, seconds=0.1,
                             stack_file="Pulumi.test.yaml", catalog="catalog.yaml")
    (pinned,) = _by_rule(report, "image-pinned")
    assert pinned.location.file == "versions.yaml"
    assert VERSIONS.splitlines()[pinned.location.line - 1].strip() == "billing:"


# --- formats ----------------------------------------------------------------------------------


def test_vendored_schema_is_the_published_file():
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert hashlib.sha256(text.encode()).hexdigest() == SCHEMA_SHA256, SCHEMA_PATH
    jsonschema.Draft4Validator.check_schema(json.loads(text))


def _validate_sarif(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    return doc


def test_sarif_is_valid_2_1_0_with_locations_and_suppressions(project):
    report = _report(project, _resources(privileged=True))
    doc = _validate_sarif(render_report(report, "sarif"))
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["no-privileged"]["level"] == "error"
    assert rule_ids[results["no-privileged"]["ruleIndex"]] == "no-privileged"
    loc = results["no-privileged"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "catalog.yaml" and loc["region"]["startLine"] == 5
    assert results["no-privileged"]["locations"][0]["logicalLocations"][0]["name"] == \
        "erp-auth-container"
    waived = results["read-only-root-filesystem"]
    assert waived["suppressions"][0]["kind"] == "external"
    assert "crm-writable-root" in waived["suppressions"][0]["justification"]
    assert {w["id"] for w in run["properties"]["waivers"]} == {"crm-writable-root", "billing-old"}
    assert run["invocations"][0]["exitCode"] == 1


def test_sarif_without_results_is_valid(project):
    clean = [r for r in _resources() if r.name.startswith(("erp-auth", "erp-prometheus"))]
    doc = _validate_sarif(render_report(_report(project, clean), "sarif"))
    assert doc["runs"][0]["results"] == []


def test_json_report(project):
    doc = json.loads(render_report(_report(project, _resources(privileged=True)), "json"))
    assert doc["passed"] is False and doc["summary"]["mandatory"] == 2
    first = doc["violations"][0]
    assert {"rule", "level", "message", "resource", "urn", "location", "remediation",
            "doc"} <= first.keys()
    assert [w["id"] for w in doc["waivers"]] == ["crm-writable-root", "billing-old"]
    assert doc["waived"][0]["waiver"] == "crm-writable-root"


def test_markdown_is_a_pr_comment_listing_waivers(project):
    md = render_report(_report(project, _resources(privileged=True)), "markdown")
    assert md.startswith("### ❌ Rampart policy check — stack `test`")
    assert "#### Mandatory (blocks the merge)" in md
    assert "| [`no-privileged`](" in md and "`catalog.yaml:5:3`" in md
    assert "#### Waivers" in md and "`crm-writable-root`" in md and "| expired |" in md
    assert "<summary>Waived (1)</summary>" in md
    # Every table row has the header's column count (a `|` in a message must be escaped).
    for line in md.splitlines():
        if line.startswith("| [`"):
            assert line.count(" | ") == 3, line


def test_text_report(project):
    text = render_report(_report(project), "text")
    assert "MANDATORY image-pinned  erp-billing-container" in text
    assert "WAIVED    read-only-root-filesystem  erp-crm-container" in text
    assert text.rstrip().endswith("FAILED: 1 mandatory, 0 advisory, 1 waived")


def test_unknown_format_is_refused(project):
    with pytest.raises(ValueError, match="unknown format"):
        render_report(_report(project), "html")


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("privileged, code", [(True, 1), (False, 0)])
def test_cli_exit_code_follows_mandatory_violations(project, monkeypatch, tmp_path, privileged,
                                                    code):
    from typer.testing import CliRunner

    from infra.cli.policy import app

    clean = [r for r in _resources(privileged=privileged)
             if r.name.startswith(("erp-auth", "erp-prometheus"))]
    monkeypatch.setattr(offline_report, "check_stack", lambda stack: _report(project, clean))
    out = tmp_path / "out" / "policy.sarif"
    result = CliRunner().invoke(app, ["check", "--stack", "dev", "--format", "sarif",
                                      "--out", str(out)])
    assert result.exit_code == code, result.output
    _validate_sarif(out.read_text())


def test_cli_refuses_unknown_format_and_unrenderable_stack(monkeypatch):
    from typer.testing import CliRunner

    from infra.cli.policy import app
    from infra.model.errors import ValidationError

    runner = CliRunner()
    assert runner.invoke(app, ["check", "--stack", "dev", "--format", "html"]).exit_code == 2

    def broken(stack: str) -> Report:
        raise ValidationError("Pulumi.dev.yaml", "no such stack file (stack 'dev')")

    monkeypatch.setattr(offline_report, "check_stack", broken)
    result = runner.invoke(app, ["check", "--stack", "dev"])
    assert result.exit_code == 2 and "Pulumi.dev.yaml" in result.output


# --- the real stacks --------------------------------------------------------------------------
#
# The committed stacks must pass as shipped: no mandatory violation, judged on today's date, so
# a waiver that has expired fails this test until someone re-reads its reason and renews or
# removes it. Exceptions live in the stack files (rampart:policyWaivers), never here.

# One waiver per finding: node-exporter's three read-only host mounts.
WAIVER_IDS = {"node-exporter-host-proc", "node-exporter-host-sys", "node-exporter-host-root"}


def _sarif_points_into_the_repo(report: Report) -> None:
    doc = _validate_sarif(render_report(report, "sarif"))
    markdown = render_report(report, "markdown")
    for result in doc["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        uri, region = physical["artifactLocation"]["uri"], physical["region"]
        assert (ROOT / uri).is_file(), f"{result['ruleId']}: {uri} is not a repository file"
        # The parser's position: the column where a key (or a list item) starts on that line.
        line = (ROOT / uri).read_text().splitlines()[region["startLine"] - 1]
        at = line[region["startColumn"] - 1:]
        assert region["startLine"] == 1 or at[:1] not in ("", " ", "#"), (uri, region, line)
        service = result["properties"].get("service")
        if service and uri.endswith("erp.yaml") and region["startLine"] > 1:
            assert at.startswith((f"{service}:", *(f"{k}:" for keys in FIELD_KEYS.values()
                                                    for k in keys))), (service, line)
        if result["properties"]["status"] != "waived" and region["startLine"] > 1:
            assert f"`{uri}:{region['startLine']}:{region['startColumn']}`" in markdown


@pytest.fixture(scope="module")
def dev_report(dev_recording) -> Report:
    """The shipped dev stack, rendered once per session by the shared recording fixture."""
    return check_stack("dev", ROOT, record=lambda stack: dev_recording)


@pytest.fixture(scope="module")
def prod_report(prod_recording) -> Report:
    return check_stack("prod", ROOT, record=lambda stack: prod_recording)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stack_has_no_mandatory_violation(request, stack):
    report: Report = request.getfixturevalue(f"{stack}_report")
    assert report.resources > 100
    found = [f"{i.rule.name} {i.resource}: {i.outcome.message} [{i.location.file}:"
             f"{i.location.line}]" for i in report.mandatory]
    assert not found, f"Pulumi.{stack}.yaml: mandatory violations:\n" + "\n".join(found)
    assert report.exit_code == 0


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stack_waivers_are_in_force_and_used(request, stack):
    report: Report = request.getfixturevalue(f"{stack}_report")
    rows = {r["id"]: r for r in report.waiver_rows()}
    assert set(rows) == WAIVER_IDS, f"Pulumi.{stack}.yaml: waivers {sorted(rows)}"
    for row in rows.values():
        assert row["status"] == "active" and row["matched"], row
        assert row["reason"] and row["line"], row
    waived = {(i.rule.name, i.service) for i in report.waived}
    assert waived == {("no-host-mounts", "node-exporter")}, waived


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_report_format_lists_the_waivers(dev_report, fmt):
    text = render_report(dev_report, fmt)
    for waiver_id in WAIVER_IDS:
        assert waiver_id in text, f"{fmt}: waiver {waiver_id} not listed"
    assert "2027-05-31" in text, f"{fmt}: expiry not shown"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stack_sarif_is_valid_and_points_into_the_repo(request, stack):
    _sarif_points_into_the_repo(request.getfixturevalue(f"{stack}_report"))


def test_pack_evaluates_the_dev_stack_quickly(dev_recording):
    # The issue budgets 5 s for the whole offline check; rendering takes most of it, so the
    # evaluation itself must stay far below.
    resources = resources_of(dev_recording)
    settings = stack_config.from_values({}, name="dev", today=TODAY).policy
    started = time.perf_counter()
    outcomes = evaluate(resources, settings)
    elapsed = time.perf_counter() - started
    assert len(resources) > 100 and outcomes is not None
    assert elapsed < 3.0, f"evaluating {len(resources)} resources took {elapsed:.2f} s"


# --- mutations of the real dev stack ----------------------------------------------------------
#
# Each case changes one thing in the rendered dev stack, the way a catalog or target change
# would show up in the resources, and expects exactly one rule to add findings, naming the
# resource and pointing into a repository file. Many of these changes cannot be made through
# the catalog at all (the model refuses them first); the pack is the second line of defence.


def _edit_upload(props: dict, suffix: str, edit) -> None:
    import yaml

    for upload in props["uploads"]:
        if upload["file"].endswith(suffix):
            doc = yaml.safe_load(upload["content"])
            edit(doc)
            upload["content"] = yaml.safe_dump(doc)
            return
    raise AssertionError(f"no upload ending in {suffix}")


def _first_public_router(doc: dict) -> dict:
    return doc["http"]["routers"]["api-gateway"]


def _drop_scrape_job(doc: dict, job: str) -> None:
    before = len(doc["scrape_configs"])
    doc["scrape_configs"] = [j for j in doc["scrape_configs"] if j["job_name"] != job]
    assert len(doc["scrape_configs"]) == before - 1, f"no scrape job {job}"


def _drop_first_runbook(doc: dict) -> None:
    alert = next(r for g in doc["groups"] for r in g["rules"] if "alert" in r)
    del alert["annotations"]["runbook_url"]


MUTATIONS: dict[str, tuple[str, Any]] = {
    # rule: (resource whose props change, change)
    "image-pinned": ("erp-auth-image",
                     lambda p: p.update(name="registry.erp.example/erp/auth:latest")),
    "container-limits-set": ("erp-auth-container", lambda p: p.pop("memory")),
    "health-check-defined": ("erp-auth-container", lambda p: p.pop("healthcheck")),
    "no-privileged": ("erp-auth-container", lambda p: p.update(privileged=True)),
    "no-host-namespaces": ("erp-auth-container", lambda p: p.update(pidMode="host")),
    "no-host-mounts": ("erp-auth-container", lambda p: p.update(mounts=[
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock",
         "readOnly": True}])),
    "capabilities-dropped": ("erp-auth-container",
                             lambda p: p.update(capabilities={"drops": [], "adds": []})),
    "no-new-privileges": ("erp-auth-container", lambda p: p.update(securityOpts=[])),
    "seccomp-profile-required": ("erp-auth-container",
                                 lambda p: p["securityOpts"].append("seccomp=unconfined")),
    "read-only-root-filesystem": ("erp-auth-container",
                                  lambda p: (p.update(readOnly=False), p.pop("tmpfs"))),
    "read-only-root-with-writable-paths": ("erp-auth-container",
                                           lambda p: p.update(readOnly=False)),
    "no-literal-secret-env": ("erp-auth-container",
                              lambda p: p["envs"].append("JWT_SECRET=not-from-vault")),
    "no-literal-secret-args": ("erp-redis-container", lambda p: p.update(
        command=[*(p.get("command") or []), "--requirepass", "not-from-vault-Zq7"])),
    "container-runs-as-non-root": ("erp-auth-container", lambda p: p.update(user="00:00")),
    "only-edge-publishes-ports": ("erp-auth-container",
                                  lambda p: p.update(ports=[{"internal": 3001,
                                                             "external": 3001}])),
    "docker-log-limits": ("erp-auth-container", lambda p: p.update(logOpts={})),
    "docker-restart-policy": ("erp-auth-container", lambda p: p.update(restart="no")),
    "stateful-backup-declared": ("erp-postgres-container", lambda p: p.update(labels=[
        lbl for lbl in p["labels"] if lbl["label"] != "rampart.backup"])),
    "traefik-no-insecure-api": ("erp-traefik-container", lambda p: _edit_upload(
        p, "traefik.yml", lambda d: d["api"].update(insecure=True))),
    "traefik-routers-hardened": ("erp-traefik-container", lambda p: _edit_upload(
        p, "edge.yml", lambda d: _first_public_router(d).update(
            middlewares=["security-headers", "cors"]))),
    "traefik-http-redirects": ("erp-traefik-container", lambda p: _edit_upload(
        p, "traefik.yml", lambda d: d["entryPoints"]["web"].pop("http"))),
    "traefik-tls-minimum": ("erp-traefik-container", lambda p: _edit_upload(
        p, "edge.yml", lambda d: d["tls"]["options"]["default"].update(
            minVersion="VersionTLS11"))),
    "traefik-cors-not-wildcard": ("erp-traefik-container", lambda p: _edit_upload(
        p, "edge.yml", lambda d: d["http"]["middlewares"]["cors"]["headers"].update(
            accessControlAllowOriginList=["*"]))),
    "traefik-cors-origins-https": ("erp-traefik-container", lambda p: _edit_upload(
        p, "edge.yml", lambda d: d["http"]["middlewares"]["cors"]["headers"].update(
            accessControlAllowOriginList=["http://app.erp.localhost"]))),
    "traefik-allowlist-bounded": ("erp-traefik-container", lambda p: _edit_upload(
        p, "edge.yml", lambda d: d["http"]["middlewares"]["admin-allowlist"]["ipAllowList"]
        .update(sourceRange=["0.0.0.0/1", "128.0.0.0/1"]))),
    "prometheus-scrapes-every-service": ("erp-prometheus-container", lambda p: _edit_upload(
        p, "prometheus.yml", lambda d: _drop_scrape_job(d, "kafka-exporter"))),
    "alert-rules-have-runbook": ("erp-prometheus-container", lambda p: _edit_upload(
        p, "data.rules.yml", _drop_first_runbook)),
}


def _findings(report: Report) -> set[tuple[str, str, str]]:
    return {(i.rule.name, i.resource, i.outcome.message) for i in report.violations}


@pytest.fixture(scope="module")
def dev_baseline(dev_recording) -> tuple[list[Resource], Report]:
    resources = resources_of(dev_recording)
    return resources, _dev_report(resources, dev_recording)


def _dev_report(resources: list[Resource], recording, values: dict | None = None,
                catalog: Path | None = None, **settings: Any) -> Report:
    import dataclasses

    stack = stack_config.load("dev", ROOT, today=TODAY)
    if values is not None:
        stack = stack_config.from_values(values, name="dev", source=stack.source, root=ROOT,
                                         positions=stack.positions, today=TODAY)
    if catalog is not None:
        stack = dataclasses.replace(stack, model=dataclasses.replace(stack.model,
                                                                     catalog=str(catalog)))
    catalog = stack.catalog
    stack_settings = stack.policy
    if settings:
        stack_settings = dataclasses.replace(stack_settings, **settings)
    locator = Locator(dataclasses.replace(stack, policy=stack_settings))
    return build_report(evaluate(resources, stack_settings), stack_settings,
                           locator=locator, resources=len(resources), seconds=0.0,
                           stack_file="Pulumi.dev.yaml", catalog=str(catalog),
                           recording=recording)


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_a_targeted_change_fires_exactly_that_rule(dev_recording, dev_baseline, rule):
    import copy

    baseline_resources, baseline = dev_baseline
    target, change = MUTATIONS[rule]
    resources = []
    for r in baseline_resources:
        if r.name == target:
            props = copy.deepcopy(dict(r.props))
            change(props)
            r = Resource(r.type, r.name, r.urn, Plain(props))
        resources.append(r)
    assert any(r.name == target for r in resources), f"{target} is not in the dev stack"
    report = _dev_report(resources, dev_recording)
    new = _findings(report) - _findings(baseline)
    assert {name for name, _, _ in new} == {rule}, sorted(new)
    items = [i for i in report.violations if i.rule.name == rule and
             (i.rule.name, i.resource, i.outcome.message) in new]
    for item in items:
        assert item.resource == target or item.rule.is_stack_rule, item.resource
        assert target in (item.resource, item.urn or "") or item.service, item
        assert (ROOT / item.location.file).is_file(), item.location
        assert item.location.file.startswith(("infra/catalog/", "Pulumi.dev.yaml")), \
            item.location


def test_require_digests_fires_only_image_digest_required(dev_recording, dev_baseline):
    """Config (requireDigests) plus a pin without its digest: what prod refuses to build."""
    import copy

    resources, baseline = dev_baseline
    assert _findings(_dev_report(resources, dev_recording, require_digests=True)) == \
        _findings(baseline), "every dev pin carries a digest"
    target = "erp-auth-image"
    mutated = []
    for r in resources:
        if r.name == target:
            props = copy.deepcopy(dict(r.props))
            props["name"] = props["name"].split("@", 1)[0]
            r = Resource(r.type, r.name, r.urn, Plain(props))
        mutated.append(r)
    report = _dev_report(mutated, dev_recording, require_digests=True)
    new = _findings(report) - _findings(baseline)
    assert {(rule, res) for rule, res, _ in new} == {("image-digest-required", target)}, new
    (item,) = [i for i in report.violations if i.rule.name == "image-digest-required"]
    assert item.location.file == "infra/catalog/versions.yaml", item.location
    versions = (ROOT / item.location.file).read_text().splitlines()
    assert versions[item.location.line - 1].strip() == "erp-auth:", item.location


# --- mutations of the dev stack's config (Pulumi.dev.yaml) ------------------------------------
#
# Waivers and their expiry change the verdict without changing a single resource.


def _with_waivers(values: dict, *extra: dict) -> dict:
    waivers = list(values["policyWaivers"]) + list(extra)
    return {**values, "policyWaivers": waivers}


def test_config_invalid_waiver_fires_policy_waivers_valid(dev_recording, dev_baseline):
    resources, baseline = dev_baseline
    values = _with_waivers(dict(stack_config.load("dev", ROOT).values), {
        "id": "typo", "rule": "no-host-mount", "resource": "node-exporter",
        "subject": "/etc", "reason": "misspelt rule", "expires": "2027-01-31"})
    report = _dev_report(resources, dev_recording, values=values)
    new = _findings(report) - _findings(baseline)
    assert {rule for rule, _, _ in new} == {"policy-waivers-valid"}, sorted(new)
    (item,) = [i for i in report.mandatory if i.rule.name == "policy-waivers-valid"]
    assert "no-host-mount" in item.outcome.message
    assert item.location.file == "Pulumi.dev.yaml", item.location


def test_config_expired_waiver_brings_its_rule_back_at_the_waiver_line(dev_recording,
                                                                      dev_baseline):
    resources, baseline = dev_baseline
    report = _dev_report(resources, dev_recording, today=dt.date(2027, 6, 1))
    new = _findings(report) - _findings(baseline)
    assert {rule for rule, _, _ in new} == {"no-host-mounts"}, sorted(new)
    items = [i for i in report.mandatory if i.rule.name == "no-host-mounts"]
    assert {i.resource for i in items} == {"erp-node-exporter-container"}
    stack_lines = (ROOT / "Pulumi.dev.yaml").read_text().splitlines()
    for item in items:  # each at the line of its own waiver
        assert item.outcome.status == "waiver-expired"
        assert item.location.file == "Pulumi.dev.yaml"
        assert item.outcome.waiver is not None
        assert stack_lines[item.location.line - 1].strip() == f"- id: {item.outcome.waiver.id}"
    assert {i.outcome.waiver.id for i in items if i.outcome.waiver} == WAIVER_IDS
    assert report.exit_code == 1


# --- mutations of the dev catalog (infra/catalog/erp.yaml), rendered again --------------------
#
# One edit to a copy of the catalog, the real program rendered with it, the pack run over the
# result: exactly the matching rule fires, on the edited service, at a line inside that
# service's entry of the edited catalog. These are the changes the model accepts (it refuses
# most others first: a literal secret, `latest`, `*` CORS, ...).

CATALOG_MUTATIONS: dict[str, tuple[str, str, str, str]] = {
    # rule: (service, text after which to insert (or to remove when insert is ""), insert,
    #        resource expected to be named)
    "no-host-mounts": (
        "auth", "    group: core\n    image: erp-auth\n",
        "    volumes:\n      docker-sock: {path: /var/run/docker.sock,"
        " host_path: /var/run/docker.sock}\n", "erp-auth-container"),
    "capabilities-dropped": (
        "auth", "    group: core\n    image: erp-auth\n", "    cap_add: [NET_RAW]\n",
        "erp-auth-container"),
    "read-only-root-with-writable-paths": (
        "auth", "    group: core\n    image: erp-auth\n",
        "    writable_root: the image compiles templates under /app at start\n",
        "erp-auth-container"),
    "health-check-defined": (
        "kafka-exporter", "    health:\n      ready: /  # the landing page; the exporter "
        "exits at start when Kafka is unreachable\n", "", "erp-kafka-exporter-container"),
    "prometheus-scrapes-every-service": (
        "kafka-exporter", "    command: [--kafka.server=kafka:9093]\n    metrics: {path: "
        "/metrics}\n", "    command: [--kafka.server=kafka:9093]\n",
        "erp-kafka-exporter-container"),
}


def _mutated_catalog(tmp_path: Path, anchor: str, insert: str) -> Path:
    import shutil

    source = ROOT / "infra" / "catalog"
    text = (source / "erp.yaml").read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"erp.yaml: anchor not unique: {anchor!r}"
    if insert and anchor.startswith("    command:"):
        text = text.replace(anchor, insert)  # a replacement: the anchor minus a key
    elif insert:
        text = text.replace(anchor, anchor + insert)
    else:
        text = text.replace(anchor, "")
    shutil.copy(source / "versions.yaml", tmp_path / "versions.yaml")
    (tmp_path / "erp.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "erp.yaml"


@pytest.mark.parametrize("rule", sorted(CATALOG_MUTATIONS))
def test_a_catalog_change_fires_exactly_that_rule(dev_baseline, tmp_path, rule):
    from infra.offline.render import record_stack

    service, anchor, insert, resource = CATALOG_MUTATIONS[rule]
    catalog = _mutated_catalog(tmp_path, anchor, insert)
    recording = record_stack("dev", ROOT, overrides={"catalog": str(catalog)})
    report = _dev_report(resources_of(recording), recording, catalog=catalog)
    new = _findings(report) - _findings(dev_baseline[1])
    assert {name for name, _, _ in new} == {rule}, sorted(new)
    items = [i for i in report.violations if (i.rule.name, i.resource, i.outcome.message) in new]
    assert resource in {i.resource for i in items}, sorted(new)
    assert service in {i.service for i in items}
    lines = catalog.read_text(encoding="utf-8").splitlines()
    for item in items:
        # each finding points into the entry of the service it names
        assert Path(item.location.file) == catalog, item.location
        assert item.service, item
        start = lines.index(f"  {item.service}:")
        end = next((n for n in range(start + 1, len(lines))
                    if lines[n].startswith("  ") and not lines[n].startswith("   ")
                    and not lines[n].lstrip().startswith("#")), len(lines))
        assert start < item.location.line <= end, (item.location, item.service)


# Rules no change to the dev stack can fire, and where each is tested instead.
NOT_ON_THE_DEV_STACK = {
    "run-as-non-root": "Kubernetes only; tests/pack/isolation/test_run_as_non_root.py",
    "root-init-confined": "advisory, already listing the shipped volume-init containers; "
                          "tests/pack/isolation/test_container_non_root.py",
    "namespace-default-deny": "Kubernetes only; tests/pack/stack/test_default_deny.py",
    "replicated-workloads-have-pdb": "Kubernetes only; tests/pack/stack/test_pdb.py",
    "namespace-pod-security-restricted": "Kubernetes only; "
                                         "tests/pack/stack/test_pod_security_namespace.py",
    "service-account-token-not-mounted": "Kubernetes only; "
                                         "tests/pack/stack/test_service_account_token.py",
    "policy-waivers-in-force": "informational (lists waivers under `pulumi preview`); offline "
                               "reports list waivers instead, see "
                               "test_every_report_format_lists_the_waivers",
}


def test_every_rule_has_a_dev_stack_mutation_or_a_reason():
    from policies import registry

    mutated = {*MUTATIONS, *CATALOG_MUTATIONS, "image-digest-required", "policy-waivers-valid"}
    assert registry.rule_names() - mutated == set(NOT_ON_THE_DEV_STACK)
    assert not mutated - registry.rule_names(), "mutation for a rule the pack does not have"


def test_each_uploaded_file_is_parsed_once_per_evaluation_at_scale(dev_recording):
    """At 5,000 resources (about 350 distinct YAML files) every file is parsed at most once,
    however many rules read it, so evaluation cost grows with the files, not files x rules."""
    import copy

    from policies.core import parse_yaml

    base = resources_of(dev_recording)
    resources = []
    for i in range(5000):
        r = base[i % len(base)]
        props = copy.deepcopy(dict(r.props))
        for upload in props.get("uploads") or []:
            if isinstance(upload.get("content"), str) and upload["content"] != "[secret]":
                upload["content"] += f"\n# copy {i}\n"
        resources.append(Resource(r.type, f"{r.name}-c{i}", f"{r.urn}-c{i}", Plain(props)))
    yaml_uploads = {u["content"] for r in resources for u in r.props.get("uploads") or []
                    if str(u.get("file", "")).endswith((".yml", ".yaml"))
                    and u["content"] != "[secret]"}
    assert len(yaml_uploads) > 300
    parse_yaml.cache_clear()
    evaluate(resources, stack_config.from_values({}, name="dev", today=TODAY).policy)
    info = parse_yaml.cache_info()
    assert info.misses <= len(yaml_uploads), \
        f"{info.misses} parses for {len(yaml_uploads)} distinct files: the cache thrashes"
