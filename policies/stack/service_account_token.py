"""service-account-token-not-mounted (Kubernetes): pods do not carry an API token.

A pod that mounts its ServiceAccount token hands every process in it (and anyone who breaks
into one) a credential for the Kubernetes API. The kubelet mounts it unless the pod spec says
`automountServiceAccountToken: false`, or the pod leaves the field unset and its
ServiceAccount says `false`; the pod's own setting wins over the ServiceAccount's. So a
workload passes when its pod spec sets false, or sets nothing and names (in
`serviceAccountName`, else `default`) a ServiceAccount the stack declares, in the same
namespace, with `automountServiceAccountToken: false`. A ServiceAccount the stack does not
declare (the namespace's `default` one included) mounts the token by the API's default.

A token mounted by hand is the same credential: a projected `serviceAccountToken` volume
source, or a volume of a Secret of type `kubernetes.io/service-account-token`, is a finding
whatever `automountServiceAccountToken` says.

A workload that must talk to the API (the edge proxy watching IngressRoutes) is a finding to
waive, with a reason and an expiry, for the subject `automountServiceAccountToken`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    UNKNOWN,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    as_list,
    describe,
    get,
    k8s_kind,
    k8s_name,
    k8s_namespace,
    pod_spec,
    service_name,
)

SUBJECT = "automountServiceAccountToken"
TOKEN_SUBJECT = "serviceAccountToken"  # noqa: S105 - a field name, no secret
TOKEN_SECRET = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type, no secret


def _token_volumes(res: Resource, spec: Mapping[str, Any],
                   token_secrets: set[tuple[str, str]]) -> Iterator[Finding]:
    """Tokens mounted by hand, whatever automountServiceAccountToken says: a projected
    `serviceAccountToken` source, or a volume of a ServiceAccount token Secret."""
    ns = k8s_namespace(res.props)
    for vol in as_list(spec.get("volumes")):
        if not isinstance(vol, Mapping):
            continue
        name = vol.get("name")
        sources = as_list(get(vol, "projected", "sources"))
        secret = get(vol, "secret", "secretName")
        if any(isinstance(s, Mapping) and s.get("serviceAccountToken") is not None
               for s in sources):
            how = "a projected serviceAccountToken (spec.volumes[].projected.sources)"
        elif isinstance(secret, str) and (ns, secret) in token_secrets:
            how = f"the ServiceAccount token Secret {secret} (spec.volumes[].secret)"
        else:
            continue
        yield Finding(f"{describe(res)} mounts an API token through volume {name}: {how}",
                      urn=res.urn, service=service_name(res.type, res.props, res.name),
                      field="security", subject=f"{name}/{TOKEN_SUBJECT}")


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    accounts = {
        (k8s_namespace(r.props), k8s_name(r)): r.props.get(SUBJECT)
        for r in resources if k8s_kind(r.type) == "ServiceAccount"
    }
    token_secrets = {
        (k8s_namespace(r.props), k8s_name(r)) for r in resources
        if k8s_kind(r.type) == "Secret" and r.props.get("type") == TOKEN_SECRET}
    for res in resources:
        spec = pod_spec(res.type, res.props)
        if spec is None:
            continue
        yield from _token_volumes(res, spec, token_secrets)
        mount = spec.get(SUBJECT)
        if mount is UNKNOWN or mount is False:
            continue
        who = describe(res)
        if mount is True:
            problem = "mounts its ServiceAccount token (pod spec automountServiceAccountToken: " \
                "true)"
        else:
            account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            if account is UNKNOWN:
                continue
            ns = k8s_namespace(res.props)
            key = (ns, str(account))
            if key not in accounts:
                why = f"ServiceAccount {ns}/{account} is not declared by the stack, so it " \
                    "mounts the token by default"
            elif accounts[key] is UNKNOWN or accounts[key] is False:
                continue
            else:
                why = f"ServiceAccount {ns}/{account} does not set " \
                    "automountServiceAccountToken: false either"
            problem = f"mounts its ServiceAccount token: the pod spec does not set " \
                f"automountServiceAccountToken: false and its {why}"
        yield Finding(f"{who} {problem}", urn=res.urn,
                      service=service_name(res.type, res.props, res.name), field="security",
                      subject=SUBJECT)


RULE = Rule(
    name="service-account-token-not-mounted",
    description="Kubernetes pods do not mount a ServiceAccount token: "
    "automountServiceAccountToken is false on the pod spec, or on the ServiceAccount it uses "
    "when the pod leaves it unset.",
    severity=Severity.HIGH,
    remediation="The Kubernetes target sets `automountServiceAccountToken: false` on every "
    "pod and ServiceAccount; a workload that needs the API (the edge proxy) keeps its token "
    "through a waiver (rampart:policyWaivers, subject automountServiceAccountToken).",
    check_stack=check,
    tags=("isolation", "kubernetes", "stack"),
)
