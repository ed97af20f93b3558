"""The pack wiring: what the Pulumi CLI loads (`policies/__main__.py`), and validation under
the engine's own property form (proxies, unknowns, secrets) and stack config."""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path

import pulumi.runtime.config as runtime_config
import pulumi_policy as pp
import pytest
from policy_harness import CONTAINER, container, engine_args, urn
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.stack import engine_policy_provider
from policies import registry
from policies.credentials import no_literal_secret_env
from policies.images import image_digest, image_pinned
from policies.pack import build_policies
from policies.settings import StackSettings

pytestmark = pytest.mark.unit
PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
# Under the engine the pack judges waivers on today's date: at most a year ahead.
SOON = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def test_main_builds_the_rampart_pack_with_every_rule(monkeypatch):
    captured = {}

    def fake_pack(name, policies, enforcement_level=None, **kw):
        # The real PolicyPack starts the analyzer gRPC server and never returns.
        captured.update(name=name, policies=policies, level=enforcement_level)

    monkeypatch.setattr(pp, "PolicyPack", fake_pack)
    runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="__main__")
    assert captured["name"] == "rampart"
    names = [p.name for p in captured["policies"]]
    assert names == [r.name for r in registry.RULES] and len(set(names)) == len(names)
    for policy, rule in zip(captured["policies"], registry.RULES, strict=True):
        assert policy.enforcement_level.value == rule.level.value, rule.name
        assert policy.remediation_steps and policy.url.endswith(f"#{rule.name}"), rule.name
        assert isinstance(policy, pp.StackValidationPolicy) == rule.is_stack_rule, rule.name


def test_pulumi_policy_yaml_uses_the_repository_virtualenv():
    import yaml

    doc = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python"
    venv = (PACK_DIR / doc["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == PACK_DIR.parent / ".venv", venv


def _run(rule, args) -> list[str]:
    (policy,) = build_policies(StackSettings(), rules=[rule])
    found: list[str] = []
    policy.validate(args, lambda m, u=None: found.append(m))
    return found


def test_unknown_values_during_preview_are_not_judged_and_do_not_raise():
    props = container(image=UNKNOWN_STRING_VALUE)
    assert _run(image_pinned.RULE, engine_args(props)) == []
    assert _run(image_pinned.RULE, engine_args(container(image="postgres:latest"))) != []


def test_secret_wrapped_inputs_are_read_through():
    sig = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
    props = container(envs={**sig, "value": ["NODE_ENV=production", "JWT_SECRET=literal"]})
    # The analyzer unwraps secrets: a literal under a secret wrapper is still a literal.
    assert _run(no_literal_secret_env.RULE, engine_args(props)) == [
        "environment variable JWT_SECRET has a literal value"]


def test_stack_config_reaches_the_pack_under_the_engine():
    """`pulumi preview` passes the stack's config to the analyzer; the pack reads
    rampart:requireDigests and rampart:policyWaivers from it."""
    saved = dict(runtime_config.CONFIG.get())
    try:
        runtime_config.set_all_config({
            "rampart:requireDigests": "true",
            "rampart:policyWaivers": '[{"rule": "image-digest-required", "resource": "c", '
                                     '"subject": "image", "reason": "r", '
                                     f'"expires": "{SOON}"}}]',
        }, [])
        (policy,) = build_policies(engine_policy_provider(), rules=[image_digest.RULE])
        found: list[str] = []
        policy.validate(engine_args(container(image="postgres:15.8")),
                        lambda m, u=None: found.append(m))
        assert found == []  # waived through the stack config
        runtime_config.set_all_config({"rampart:requireDigests": "true"}, [])
        (policy,) = build_policies(engine_policy_provider(), rules=[image_digest.RULE])
        policy.validate(engine_args(container(image="postgres:15.8")),
                        lambda m, u=None: found.append(m))
        assert found == ["image 'postgres:15.8' is not pinned by digest (stack sets "
                         "requireDigests)"]
    finally:
        runtime_config.set_all_config(saved, [])


# --- through pulumi-policy's own analyzer, as `pulumi preview --policy-pack` drives it ------


def _analyzer():
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    return _PolicyAnalyzerServicer("rampart", "0.1.0", build_policies(StackSettings()),
                                   pp.EnforcementLevel.MANDATORY)


def _struct(props: dict):
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(props)
    return message


def test_analyzer_reports_mandatory_diagnostics_for_a_bad_container():
    from pulumi.runtime import proto

    request = proto.AnalyzeRequest(
        type=CONTAINER, name="erp-auth-container", urn=urn(CONTAINER, "erp-auth-container"),
        properties=_struct(container(privileged=True, image="postgres:latest")),
    )
    response = _analyzer().Analyze(request, None)
    found = {(d.policyName, d.enforcementLevel) for d in response.diagnostics}
    assert found == {("no-privileged", proto.MANDATORY), ("image-pinned", proto.MANDATORY)}, found
    assert not response.not_applicable


def test_analyzer_passes_a_hardened_container_and_skips_unknowns():
    from pulumi.runtime import proto

    props = container(image=UNKNOWN_STRING_VALUE)
    request = proto.AnalyzeRequest(type=CONTAINER, name="c", urn=urn(CONTAINER, "c"),
                                   properties=_struct(props))
    assert list(_analyzer().Analyze(request, None).diagnostics) == []


def test_analyzer_stack_policies_attribute_findings_to_resources():
    from pulumi.runtime import proto

    sts = {"metadata": {"name": "postgres"},
           "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": []}}}}
    request = proto.AnalyzeStackRequest(resources=[proto.AnalyzerResource(
        type="kubernetes:apps/v1:StatefulSet", name="postgres",
        urn=urn("kubernetes:apps/v1:StatefulSet", "postgres"), properties=_struct(sts))])
    response = _analyzer().AnalyzeStack(request, None)
    by_policy = {d.policyName: d for d in response.diagnostics}
    assert by_policy["stateful-backup-declared"].urn.endswith("::postgres")
    assert by_policy["namespace-default-deny"].enforcementLevel == proto.MANDATORY


def test_analyzer_reads_the_stack_config_the_cli_passes(monkeypatch):
    """The CLI hands the stack's config to the analyzer as PULUMI_CONFIG; pulumi-policy loads
    it before each analysis and the pack's settings come from it."""
    import json

    from pulumi.runtime import proto
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    saved = dict(runtime_config.CONFIG.get())
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({
        "rampart:requireDigests": "true",
        "rampart:policyWaivers": json.dumps([{"rule": "image-pinned", "resource": "c",
                                              "subject": "image", "reason": "r",
                                              "expires": SOON}]),
    }))
    try:
        analyzer = _PolicyAnalyzerServicer("rampart", "0.1.0",
                                           build_policies(engine_policy_provider()),
                                           pp.EnforcementLevel.MANDATORY)
        request = proto.AnalyzeRequest(type=CONTAINER, name="c", urn=urn(CONTAINER, "c"),
                                       properties=_struct(container(image="postgres:latest")))
        names = sorted(d.policyName for d in analyzer.Analyze(request, None).diagnostics)
    finally:
        runtime_config.set_all_config(saved, [])
    # requireDigests is on; image-pinned is waived by the stack's waiver.
    assert names == ["image-digest-required"], names
