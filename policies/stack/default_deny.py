"""namespace-default-deny (Kubernetes): every namespace has a default-deny NetworkPolicy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from policies.core import (
    K8S_NAMESPACE,
    K8S_NETWORK_POLICY,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    as_list,
    get,
)


def _ns(res: Resource) -> str:
    ns = get(res.props, "metadata", "namespace", default="default")
    return ns if isinstance(ns, str) else "default"


def is_default_deny(policy: Resource) -> bool:
    selector = get(policy.props, "spec", "podSelector", default=None)
    if selector is None or (
        isinstance(selector, Mapping)
        and (selector.get("matchLabels") or selector.get("matchExpressions"))
    ):
        return False  # must select every pod of the namespace
    types = as_list(get(policy.props, "spec", "policyTypes"))
    return "Ingress" in types and not as_list(get(policy.props, "spec", "ingress"))


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    k8s = [r for r in resources if r.type.startswith("kubernetes:")]
    if not k8s:
        return
    namespaces: dict[str, str | None] = {}
    for res in k8s:
        if res.type == K8S_NAMESPACE:
            name = get(res.props, "metadata", "name", default=res.name)
            namespaces[str(name)] = res.urn
        elif res.type != "pulumi:providers:kubernetes":
            namespaces.setdefault(_ns(res), None)
    denied = {_ns(p) for p in k8s if p.type == K8S_NETWORK_POLICY and is_default_deny(p)}
    for ns, urn in sorted(namespaces.items()):
        if ns not in denied:
            yield Finding(
                f"namespace {ns} has no default-deny ingress NetworkPolicy",
                urn=urn,
                field="network",
                subject=ns,
            )


RULE = Rule(
    name="namespace-default-deny",
    description="Every Kubernetes namespace has a default-deny (ingress) NetworkPolicy.",
    severity=Severity.HIGH,
    remediation="The Kubernetes target creates one `default-deny` NetworkPolicy per namespace "
    "(podSelector: {}, policyTypes: [Ingress, Egress]); allow traffic with narrower policies.",
    check_stack=check,
    tags=("network", "kubernetes", "stack"),
)
