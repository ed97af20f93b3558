"""namespace-default-deny (Kubernetes): every namespace denies traffic unless a policy allows it.

Judged for every namespace the stack declares and every namespace its pods run in (a
workload without `metadata.namespace` runs in `default`). Each needs default-deny for both
directions: a NetworkPolicy selecting every pod (`podSelector: {}`) with `Ingress` in
`policyTypes` and no ingress rules, and one (the same or another) with `Egress` in
`policyTypes` and no egress rules. `policyTypes` is read as the API reads it: left out, it
means Ingress only (plus Egress when egress rules are given), so a policy without it never
denies egress. Policies are additive, so a rule that admits everything undoes the deny for
the pods it selects: an ingress rule with no `from` peers (or a peer that is every namespace
or 0.0.0.0/0) and no `ports`, and the same for egress `to`, is a finding of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

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
    k8s_name,
    k8s_namespace,
    pod_spec,
)

DIRECTIONS = {"Ingress": ("ingress", "from"), "Egress": ("egress", "to")}
EVERYWHERE = ("0.0.0.0/0", "::/0")


def _ns(res: Resource) -> str:
    return k8s_namespace(res.props)


def policy_types(policy: Resource) -> list[str]:
    """The directions a NetworkPolicy governs, defaults applied as the API applies them."""
    spec = get(policy.props, "spec", default={})
    if not isinstance(spec, Mapping):
        return []
    given = spec.get("policyTypes")
    if given is not None:
        return [t for t in as_list(given) if t in DIRECTIONS]
    return ["Ingress", *(["Egress"] if as_list(spec.get("egress")) else [])]


def _selects_every_pod(policy: Resource) -> bool:
    return _empty(get(policy.props, "spec", "podSelector", default=None))


def denied(policy: Resource) -> set[str]:
    """The directions this policy denies by default for its whole namespace."""
    if not _selects_every_pod(policy):
        return set()
    return {d for d in policy_types(policy)
            if not as_list(get(policy.props, "spec", DIRECTIONS[d][0]))}


def is_default_deny(policy: Resource) -> bool:
    return denied(policy) == set(DIRECTIONS)


def _wide(peer: Any) -> bool:
    """A peer that admits every pod of every namespace, or every address."""
    if not isinstance(peer, Mapping):
        return False
    block = peer.get("ipBlock")
    if isinstance(block, Mapping):
        return block.get("cidr") in EVERYWHERE and not as_list(block.get("except"))
    pods = peer.get("podSelector")
    return _empty(peer.get("namespaceSelector")) and (pods is None or _empty(pods))


def _empty(selector: Any) -> bool:
    """A label selector that selects everything (`{}`)."""
    return isinstance(selector, Mapping) and not selector.get("matchLabels") \
        and not selector.get("matchExpressions")


def open_rules(policy: Resource) -> Iterator[str]:
    """Directions in which a rule of this policy admits everything on every port."""
    for direction in policy_types(policy):
        key, peers_key = DIRECTIONS[direction]
        for rule in as_list(get(policy.props, "spec", key)):
            if not isinstance(rule, Mapping):
                continue
            peers = as_list(rule.get(peers_key))
            if (not peers or any(_wide(p) for p in peers)) and not as_list(rule.get("ports")):
                yield direction
                break


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    namespaces: dict[str, str | None] = {}
    for res in resources:
        if res.type == K8S_NAMESPACE:
            namespaces[k8s_name(res)] = res.urn
    for res in resources:
        if pod_spec(res.type, res.props) is not None:
            namespaces.setdefault(_ns(res), None)
    if not namespaces:
        return
    policies = [r for r in resources if r.type == K8S_NETWORK_POLICY]
    covered: dict[str, set[str]] = {}
    for policy in policies:
        covered.setdefault(_ns(policy), set()).update(denied(policy))
    for ns, urn in sorted(namespaces.items()):
        missing = [d for d in DIRECTIONS if d not in covered.get(ns, set())]
        if missing:
            yield Finding(
                f"namespace {ns} has no default-deny NetworkPolicy for "
                f"{' and '.join(missing)} (podSelector: {{}}, policyTypes: [Ingress, Egress], "
                "no rules)",
                urn=urn,
                field="network",
                subject=ns,
            )
    for policy in policies:
        for direction in open_rules(policy):
            key, peers_key = DIRECTIONS[direction]
            yield Finding(
                f"NetworkPolicy {_ns(policy)}/{k8s_name(policy)} admits all {key} (a rule "
                f"with no `{peers_key}` restriction and no `ports`), which undoes the "
                "namespace's default deny for the pods it selects",
                urn=policy.urn,
                field="network",
                subject=f"{k8s_name(policy)}/{key}",
            )


RULE = Rule(
    name="namespace-default-deny",
    description="Every Kubernetes namespace with pods (or declared by the stack) has a "
    "default-deny NetworkPolicy for Ingress and Egress, and no policy rule admits all "
    "traffic.",
    severity=Severity.HIGH,
    remediation="The Kubernetes target creates one `default-deny` NetworkPolicy per namespace "
    "(podSelector: {}, policyTypes: [Ingress, Egress]); allow traffic with narrower policies "
    "(named peers and ports), never a rule without both.",
    check_stack=check,
    tags=("network", "kubernetes", "stack"),
)
