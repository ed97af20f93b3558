"""policy-waivers-valid and policy-waivers-in-force.

A waiver without a reason or an expiry, or for a rule that does not exist, waives nothing
and is itself a mandatory violation. Waivers in force are reported as an advisory finding,
so `pulumi preview` lists them too (the offline report has its own waiver section).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.core import Context, Finding, Level, Resource, Rule, Severity


def check_valid(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    from policies.registry import rule_names  # the registry imports this module

    known = rule_names()
    for waiver in ctx.waivers:
        problems = list(waiver.problems)
        if waiver.rule and waiver.rule not in known:
            problems.append(f"unknown rule {waiver.rule!r}")
        if problems:
            yield Finding(
                f"waiver {waiver.id} is invalid: {'; '.join(problems)}", field="waiver:" + waiver.id
            )


def check_in_force(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    for waiver in ctx.waivers:
        if waiver.valid and not waiver.expired(ctx.today):
            yield Finding(
                f"waiver {waiver.id}: {waiver.rule} on {waiver.resource} until "
                f"{waiver.expires}: {waiver.reason}",
                field="waiver:" + waiver.id,
            )


VALID_RULE = Rule(
    name="policy-waivers-valid",
    description="Every policy waiver names a known rule and a resource, gives a reason and "
    "an expiry date.",
    severity=Severity.MEDIUM,
    remediation="Fix the entry in the stack's `rampart:policyWaivers` (rule, resource, reason, "
    "expires: YYYY-MM-DD).",
    check_stack=check_valid,
    tags=("waivers",),
)

IN_FORCE_RULE = Rule(
    name="policy-waivers-in-force",
    description="Lists the waivers in force so every report shows them.",
    severity=Severity.LOW,
    remediation="Fix the waived finding before the waiver expires, then delete the waiver.",
    level=Level.ADVISORY,
    check_stack=check_in_force,
    tags=("waivers", "informational"),
)
