"""namespace-pod-security-restricted (Kubernetes): namespaces enforce Pod Security "restricted".

The pack judges pods before they exist; Pod Security admission refuses them in the cluster,
including pods the pack never sees (a `kubectl run`, a chart installed later, a controller's
own pods). That second line only holds where the namespace says so: every Namespace the stack
declares carries the label `pod-security.kubernetes.io/enforce` with the value `restricted`,
exactly (label keys and values are case-sensitive; `baseline`, `privileged`, `Restricted` or
no label admit what restricted refuses), and a pinned `enforce-version`, when set, is `latest`
or v1.23 or later (older versions of the standard did not check `runAsUser: 0`). A workload
in a namespace the stack does not declare (`default` when it names none) runs under whatever
that namespace enforces, which the stack cannot show: a finding on the workload.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from policies.core import (
    K8S_NAMESPACE,
    UNKNOWN,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    describe,
    k8s_label,
    k8s_name,
    k8s_namespace,
    pod_spec,
    service_name,
)

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
RESTRICTED = "restricted"
# Pod Security "restricted" as of v1.23 refuses `runAsUser: 0` too; an older pinned version
# checks less than this pack assumes admission checks.
MIN_VERSION = (1, 23)
_VERSION = re.compile(r"v(\d+)\.(\d+)")


def _version_problem(version: Any) -> str | None:
    if version is None or version is UNKNOWN or version == "latest":
        return None
    m = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if m is None:
        return f"{ENFORCE_VERSION}: {version!r} is not a Kubernetes minor version (vX.Y)"
    if (int(m.group(1)), int(m.group(2))) < MIN_VERSION:
        return f"{ENFORCE_VERSION}: {version} pins restricted as it was before " \
            f"v{MIN_VERSION[0]}.{MIN_VERSION[1]} (no runAsUser check)"
    return None


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    declared: set[str] = set()
    for res in resources:
        if res.type != K8S_NAMESPACE:
            continue
        name = k8s_name(res)
        declared.add(name)
        level = k8s_label(res.props, ENFORCE)
        version = _version_problem(k8s_label(res.props, ENFORCE_VERSION))
        if version is not None and level == RESTRICTED:
            yield Finding(f"namespace {name} enforces restricted, but {version} "
                          "(metadata.labels)", urn=res.urn, field="namespace",
                          subject=ENFORCE_VERSION)
        if level is UNKNOWN or level == RESTRICTED:
            continue
        what = f"has no {ENFORCE} label" if level is None else \
            f"enforces Pod Security {level!r}, not {RESTRICTED!r}"
        yield Finding(
            f"namespace {name} {what} (metadata.labels), so admission lets in pods that "
            "restricted refuses", urn=res.urn, field="namespace", subject=ENFORCE)
    for res in resources:
        if pod_spec(res.type, res.props) is None:
            continue
        ns = k8s_namespace(res.props)
        if ns in declared:
            continue
        yield Finding(
            f"{describe(res)} runs in namespace {ns}, which the stack does not declare "
            "(metadata.namespace), so nothing shows it enforces Pod Security restricted",
            urn=res.urn, service=service_name(res.type, res.props, res.name),
            field="namespace", subject="namespace")


RULE = Rule(
    name="namespace-pod-security-restricted",
    description="Every Kubernetes namespace the stack declares enforces Pod Security "
    "`restricted` (label pod-security.kubernetes.io/enforce: restricted), and every workload "
    "runs in such a namespace.",
    severity=Severity.HIGH,
    remediation="Let the Kubernetes target create the namespaces (it labels them enforce, "
    "audit and warn `restricted` with a pinned version) and place every workload in one of "
    "them.",
    check_stack=check,
    tags=("isolation", "kubernetes", "stack"),
)
