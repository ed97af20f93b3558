"""The one place rules become pulumi-policy policies.

`build_policies` wraps every rule of `policies.registry` in a `ResourceValidationPolicy` or
`StackValidationPolicy`. The wrapper converts the engine's property proxies to plain values,
normalises them (`policies.normalise`: one canonical spelling per setting, so a rule never
meets `privileged: "True"` or `NetworkMode: HOST`), applies the stack's waivers and reports
what is left. The same wrapped policies run under
`pulumi preview --policy-pack policies` and offline (`infra.offline.evaluate` builds
`ResourceValidationArgs`/`StackValidationArgs` itself); offline callers also pass an
`observer`, which receives every outcome, waived ones included, for the reports.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi_policy as pp
from pulumi_policy.proxy import _is_unknown

from policies import registry
from policies.core import (
    SECRET,
    UNKNOWN,
    Context,
    Finding,
    Level,
    Plain,
    Resource,
    Rule,
    service_name,
)
from policies.meta.waivers import never_waivable
from policies.normalise import normalise
from policies.settings import StackSettings, Waiver

# waiver-refused: a waiver names the finding, but the finding is never waivable
# (policies/meta/waivers.py), so it stays a violation.
Status = Literal["violation", "waived", "waiver-expired", "waiver-refused"]


@dataclass(frozen=True)
class Outcome:
    """One finding after waivers: what the reports are made of."""

    rule: Rule
    finding: Finding
    resource: Resource | None  # None for findings about the stack as a whole
    status: Status
    waiver: Waiver | None = None
    refusal: str | None = None  # why the waiver cannot waive this finding (waiver-refused)

    @property
    def blocking(self) -> bool:
        return self.status != "waived" and self.rule.level is Level.MANDATORY

    @property
    def message(self) -> str:
        text = self.finding.message
        if self.status == "waiver-expired" and self.waiver is not None:
            text += f" (waiver {self.waiver.id} expired on {self.waiver.expires})"
        elif self.status == "waiver-refused" and self.waiver is not None:
            text += f" (waiver {self.waiver.id} does not apply: {self.refusal})"
        return text


Observer = Callable[[Outcome], None]
SettingsProvider = Callable[[], StackSettings]


def plain(value: Any) -> Any:
    """Engine proxies → plain dicts/lists; unknowns → UNKNOWN; secrets → the SECRET marker."""
    if isinstance(value, Plain):
        return value
    target = _proxy_target(value)
    if target is not None:
        value = target
    if isinstance(value, pp.Secret):
        return SECRET
    if isinstance(value, str):
        return UNKNOWN if _is_unknown(value) else value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value


def _proxy_target(value: Any) -> Any:
    # pulumi-policy's proxies raise on unknown values when indexed normally; their raw data
    # sits behind the "__target" key, which every proxy class answers.
    cls = type(value).__name__
    if cls in {"_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"}:
        return value["__target"]
    return None


def _keys(resource: Resource | None, finding: Finding) -> list[str]:
    """What a waiver's `resource` may name: logical name, URN or catalog service. (The
    finding's subject narrows the waiver to one finding of that resource.)"""
    keys = [finding.service or ""]
    if resource is not None:
        keys += [resource.name, resource.urn, service_name(resource.type, resource.props)]
    elif finding.urn:
        keys.append(finding.urn)
    return [k for k in keys if k]


def _judge(
    rule: Rule,
    resource: Resource | None,
    finding: Finding,
    settings: StackSettings,
    observer: Observer | None,
) -> Outcome:
    waiver = settings.waiver_for(rule.name, _keys(resource, finding), finding.subject)
    refusal = never_waivable(rule.name, finding.subject, resource) if waiver else None
    if waiver is None:
        outcome = Outcome(rule, finding, resource, "violation")
    elif refusal is not None:
        outcome = Outcome(rule, finding, resource, "waiver-refused", waiver, refusal)
    elif waiver.expired(settings.today):
        outcome = Outcome(rule, finding, resource, "waiver-expired", waiver)
    else:
        outcome = Outcome(rule, finding, resource, "waived", waiver)
    if observer is not None:
        observer(outcome)
    return outcome


def _resource_policy(
    rule: Rule, settings_for: SettingsProvider, observer: Observer | None
) -> pp.ResourceValidationPolicy:
    check = rule.check_resource
    assert check is not None

    def validate(args: pp.ResourceValidationArgs, report: pp.ReportViolation) -> None:
        settings = settings_for()
        props = normalise(args.resource_type, plain(args.props))
        resource = Resource(args.resource_type, args.name, args.urn, props)
        for finding in check(args.resource_type, props, _context(settings)):
            outcome = _judge(rule, resource, finding, settings, observer)
            if outcome.status != "waived":
                report(outcome.message, None)

    return pp.ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_level(rule),
        severity=pp.Severity(rule.severity.value),
        remediation_steps=rule.remediation,
        url=rule.url,
        tags=list(rule.tags) or None,
    )


def _stack_policy(
    rule: Rule, settings_for: SettingsProvider, observer: Observer | None
) -> pp.StackValidationPolicy:
    check = rule.check_stack
    assert check is not None

    def validate(args: pp.StackValidationArgs, report: pp.ReportViolation) -> None:
        settings = settings_for()
        resources = [
            Resource(r.resource_type, r.name, r.urn, normalise(r.resource_type, plain(r.props)))
            for r in args.resources
        ]
        by_urn = {r.urn: r for r in resources}
        for finding in check(resources, _context(settings)):
            resource = by_urn.get(finding.urn or "")
            outcome = _judge(rule, resource, finding, settings, observer)
            if outcome.status != "waived":
                report(outcome.message, finding.urn)

    return pp.StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=_level(rule),
        severity=pp.Severity(rule.severity.value),
        remediation_steps=rule.remediation,
        url=rule.url,
        tags=list(rule.tags) or None,
    )


def _context(settings: StackSettings) -> Context:
    """What rules read: the stack's settings plus the registry's rule names (the waiver
    rules judge a waiver's rule against them; the registry imports those rules, so they
    cannot import it)."""
    return settings.context(_rule_names())


@functools.cache
def _rule_names() -> frozenset[str]:
    # Once per process: the registry is complete once this module is imported, and _context
    # runs for every resource under every rule.
    return registry.rule_names()


def _level(rule: Rule) -> pp.EnforcementLevel:
    return (
        pp.EnforcementLevel.MANDATORY
        if rule.level is Level.MANDATORY
        else pp.EnforcementLevel.ADVISORY
    )


def build_policies(
    settings: StackSettings | SettingsProvider,
    observer: Observer | None = None,
    rules: Sequence[Rule] | None = None,
) -> list[pp.Policy]:
    """Every rule as a pulumi-policy policy, judging with `settings` (or what the provider
    returns when a policy runs: under the engine, infra.stack.engine_policy_provider)."""
    if isinstance(settings, StackSettings):
        fixed = settings

        def provider() -> StackSettings:
            return fixed
    else:
        provider = settings
    policies: list[pp.Policy] = []
    for rule in rules if rules is not None else registry.RULES:
        if rule.is_stack_rule:
            policies.append(_stack_policy(rule, provider, observer))
        else:
            policies.append(_resource_policy(rule, provider, observer))
    return policies
