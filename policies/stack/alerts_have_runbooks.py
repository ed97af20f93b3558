"""alert-rules-have-runbook: every alerting rule links its runbook (annotations.runbook_url)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.core import (
    CONTAINER,
    K8S_CONFIGMAP,
    K8S_PROMETHEUS_RULE,
    SECRET,
    Context,
    Finding,
    Resource,
    Rule,
    Severity,
    as_list,
    get,
    parse_yaml,
)


def _documents(res: Resource) -> Iterator[tuple[str, Any]]:
    """(where, parsed rule document) for every rule file a resource carries."""
    if res.type == CONTAINER:
        for up in as_list(res.props.get("uploads")):
            if isinstance(up, Mapping):
                yield str(up.get("file", "")), up.get("content")
    elif res.type == K8S_CONFIGMAP:
        data = get(res.props, "data", default={})
        if isinstance(data, Mapping):
            yield from ((str(k), v) for k, v in data.items())
    elif res.type == K8S_PROMETHEUS_RULE:
        yield res.name, {"groups": get(res.props, "spec", "groups", default=[])}


def alert_rules(resources: Sequence[Resource]) -> Iterator[tuple[Resource, str, Mapping[str, Any]]]:
    for res in resources:
        for where, doc in _documents(res):
            if isinstance(doc, str):
                if doc == SECRET or "groups" not in doc:
                    continue
                doc = parse_yaml(doc)
            if not isinstance(doc, Mapping):
                continue
            for group in as_list(doc.get("groups")):
                for rule in as_list(get(group, "rules")):
                    if isinstance(rule, Mapping) and rule.get("alert"):
                        yield res, where, rule


def check(resources: Sequence[Resource], ctx: Context) -> Iterator[Finding]:
    for res, where, rule in alert_rules(resources):
        url = get(rule, "annotations", "runbook_url")
        if not isinstance(url, str) or not url.strip():
            yield Finding(
                f"alert {rule['alert']} in {where} has no runbook_url annotation",
                urn=res.urn,
                field="alerts",
                subject=str(rule["alert"]),
            )


RULE = Rule(
    name="alert-rules-have-runbook",
    description="Every Prometheus alerting rule has an annotations.runbook_url.",
    severity=Severity.MEDIUM,
    remediation="Alerts get their runbook_url from one pattern in infra/observability/rules.py; "
    "add the runbook page under runbooks/.",
    check_stack=check,
    tags=("observability", "docker", "kubernetes", "stack"),
)
