"""policy-waivers-valid and policy-waivers-in-force, and what no waiver may ever waive.

A waiver names one finding: rule + resource + subject (policies/settings.py). One that is
incomplete, names a pattern instead of one resource or subject, expires beyond the stack's
limit, names a rule that does not exist, or covers a finding that is never waivable, waives
nothing and is itself a mandatory violation naming the waiver. Waivers in force are reported
as an advisory finding, so `pulumi preview` lists them too (the offline report has its own
waiver section).

Never waivable, whatever a stack file says (the finding stays mandatory):
- a privileged container: every device and capability, so root on the host;
- a read-write container runtime socket: the Docker API, so root on the host (a read-only
  socket for the edge proxy's provider remains waivable, with a reason and an expiry);
- the host PID namespace or the host network for an application service. Infrastructure
  (catalog groups `infra` and `platform`: data stores, exporters, the edge proxy) may be
  waived, because an agent such as node_exporter can need them;
- the waiver rules themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    CONTAINER,
    Context,
    Finding,
    Level,
    Resource,
    Rule,
    Severity,
    as_list,
    docker_labels,
    get,
    pod_labels,
    service_name,
)
from policies.isolation import no_host_mounts, no_host_namespaces, no_privileged
from policies.settings import MAX_DAYS_KEY, WAIVERS_KEY, normal_subject

VALID_NAME = "policy-waivers-valid"
IN_FORCE_NAME = "policy-waivers-in-force"

NEVER_WAIVABLE_RULES = {
    no_privileged.RULE.name: "a privileged container is root on the host",
    VALID_NAME: "the waiver rules judge waivers and are never waived",
    IN_FORCE_NAME: "the waiver rules judge waivers and are never waived",
}
# Subjects of no-host-namespaces that no application service is ever waived for.
HOST_NAMESPACES = {
    "pidMode": "the host PID namespace",
    "hostPID": "the host PID namespace",
    "networkMode": "the host network",
    "hostNetwork": "the host network",
}
INFRASTRUCTURE_GROUPS = frozenset({"infra", "platform"})
K8S_GROUP_LABEL = "app.kubernetes.io/component"
# Entries that stand for a stack setting about waivers rather than for a waiver.
SETTING_ENTRIES = frozenset({WAIVERS_KEY, MAX_DAYS_KEY})


def _labels(resource: Resource) -> Mapping[str, Any]:
    if resource.type == CONTAINER:
        return docker_labels(resource.props)
    merged: dict[str, Any] = {}
    labels = get(resource.props, "metadata", "labels", default={})
    if isinstance(labels, Mapping):
        merged.update(labels)
    merged.update(pod_labels(resource.type, resource.props))  # any kind's pod template
    return merged


def is_infrastructure(resource: Resource) -> bool:
    """Labelled by the model as a data store or a platform component; anything else,
    unlabelled resources included, is an application service. The Kubernetes target writes
    the catalog group as `app.kubernetes.io/component`."""
    labels = _labels(resource)
    group = labels.get("rampart.group") or labels.get("rampart.io/group") \
        or labels.get(K8S_GROUP_LABEL)
    return group in INFRASTRUCTURE_GROUPS


def socket_read_only(resource: Resource, path: str) -> bool:
    """True only when the container mounts `path` and every such mount is explicitly
    read-only. Kubernetes hostPath volumes count as read-write, as the rule judges them."""
    if resource.type != CONTAINER:
        return False
    sources: list[tuple[Any, Any]] = []
    for m in as_list(resource.props.get("mounts")):
        if isinstance(m, Mapping):
            sources.append((m.get("source"), m.get("readOnly")))
    for v in as_list(resource.props.get("volumes")):
        if isinstance(v, Mapping):
            sources.append((v.get("hostPath"), v.get("readOnly")))
    for d in as_list(resource.props.get("devices")):
        if isinstance(d, Mapping):
            sources.append((d.get("hostPath"), None))  # a device is never read-only here
    modes = [ro for src, ro in sources if isinstance(src, str) and normal_subject(src) == path]
    return bool(modes) and all(ro is True for ro in modes)


def never_waivable(rule: str, subject: str | None, resource: Resource | None) -> str | None:
    """Why a finding of `rule` about `subject` on `resource` can never be waived, or None.
    Without a resource to look at, the finding is judged as the worst case."""
    if rule in NEVER_WAIVABLE_RULES:
        return NEVER_WAIVABLE_RULES[rule]
    subj = normal_subject(subject or "")
    # The rule's own reading of "a runtime socket" (also a directory that holds one).
    if rule == no_host_mounts.RULE.name and no_host_mounts.is_socket(subj) and (
        resource is None or not socket_read_only(resource, subj)
    ):
        return "a read-write container runtime socket is root on the host"
    if rule == no_host_namespaces.RULE.name and subj in HOST_NAMESPACES and (
        resource is None or not is_infrastructure(resource)
    ):
        return f"{HOST_NAMESPACES[subj]} is never waived for an application service"
    return None


def _names(resource: Resource) -> set[str]:
    """What a waiver's `resource` may say: logical name, URN or catalog service."""
    return {n for n in (resource.name, resource.urn, service_name(resource.type, resource.props))
            if n}


def problems(waiver: Any, resources: Sequence[Resource], known: frozenset[str]) -> list[str]:
    """Everything wrong with one (judged) waiver, given the stack's resources."""
    found = list(waiver.problems)
    if waiver.rule and waiver.rule not in known:
        found.append(f"unknown rule {waiver.rule!r}")
    if found:
        return found
    reason = NEVER_WAIVABLE_RULES.get(waiver.rule)
    if reason is None:
        for res in resources:
            if waiver.resource in _names(res):
                reason = never_waivable(waiver.rule, waiver.subject, res)
                if reason:
                    break
    if reason:
        found.append(f"{waiver.rule} on {waiver.resource} about {waiver.subject} is never "
                     f"waivable: {reason}")
    return found


def check_valid(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    known = ctx.rule_names
    for waiver in ctx.waivers:
        found = problems(waiver, resources, known)
        if not found:
            continue
        if waiver.id in SETTING_ENTRIES and not waiver.rule:
            message = "; ".join(found)
        else:
            message = f"waiver {waiver.id} is invalid: {'; '.join(found)}"
        yield Finding(message, field="waiver:" + waiver.id, subject=waiver.id)


def check_in_force(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    known = ctx.rule_names
    for waiver in ctx.waivers:
        if not problems(waiver, resources, known) and not waiver.expired(ctx.today):
            yield Finding(
                f"waiver {waiver.id}: {waiver.rule} on {waiver.resource} about "
                f"{waiver.subject} until {waiver.expires}: {waiver.reason}",
                field="waiver:" + waiver.id,
                subject=waiver.id,
            )


VALID_RULE = Rule(
    name=VALID_NAME,
    description="Every policy waiver names a known rule, one resource and the one finding "
    "subject it waives, gives a reason and an expiry within the stack's limit, and covers a "
    "finding that may be waived.",
    severity=Severity.MEDIUM,
    remediation="Fix the entry in the stack's `rampart:policyWaivers` (rule, resource, subject "
    "as the report shows it, reason, expires: YYYY-MM-DD at most a year away); fix a finding "
    "that is never waivable instead of waiving it.",
    check_stack=check_valid,
    tags=("waivers",),
)

IN_FORCE_RULE = Rule(
    name=IN_FORCE_NAME,
    description="Lists the waivers in force so every report shows them.",
    severity=Severity.LOW,
    remediation="Fix the waived finding before the waiver expires, then delete the waiver.",
    level=Level.ADVISORY,
    check_stack=check_in_force,
    tags=("waivers", "informational"),
)
