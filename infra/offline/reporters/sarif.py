"""SARIF 2.1.0 report: code-scanning annotations at the catalog or stack file line that
caused each finding; waived findings carry an accepted external suppression."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infra.offline.report import Item, Report
from policies import __version__, registry
from policies.core import Level

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL = "rampart-policy"
# SARIF `security-severity` (GitHub ranks code-scanning alerts by it).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _fingerprint(item: Item) -> str:
    raw = "\0".join((item.rule.name, item.urn or "", item.outcome.finding.message))
    return hashlib.sha256(raw.encode()).hexdigest()


def render(report: Report) -> str:
    rules = list(report.rules)
    index = {r.name: n for n, r in enumerate(rules)}
    descriptors = [{
        "id": r.name,
        "name": "".join(part.capitalize() for part in r.name.split("-")),
        "shortDescription": {"text": r.description},
        "fullDescription": {"text": r.description},
        "helpUri": r.url,
        "help": {"text": r.remediation, "markdown": f"**Remediation:** {r.remediation}"},
        "defaultConfiguration": {"level": "error" if r.level is Level.MANDATORY else "warning"},
        "properties": {"tags": ["security", *r.tags], "precision": "high",
                       "security-severity": SECURITY_SEVERITY[r.severity.value],
                       "enforcement": r.level.value},
    } for r in rules]
    results = []
    for item in report.items:
        result: dict[str, Any] = {
            "ruleId": item.rule.name,
            "ruleIndex": index[item.rule.name],
            "level": "error" if item.rule.level is Level.MANDATORY else "warning",
            "message": {"text": f"{item.resource}: {item.outcome.message}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": item.location.file, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": item.location.line,
                               "startColumn": item.location.column},
                },
                "logicalLocations": [{"name": item.resource, "kind": "resource",
                                      **({"fullyQualifiedName": item.urn} if item.urn else {})}],
            }],
            "partialFingerprints": {"rampartFinding/v1": _fingerprint(item)},
            "properties": {"status": item.outcome.status,
                           **({"service": item.service} if item.service else {})},
        }
        w = item.outcome.waiver
        # What a waiver for this finding must name, and the waiver that names it.
        if item.outcome.finding.subject:
            result["properties"]["subject"] = item.outcome.finding.subject
        if w is not None:
            result["properties"]["waiver"] = w.id
        if item.outcome.status == "waived" and w is not None:
            # A waiver is an accepted, external suppression: the result stays visible.
            result["suppressions"] = [{"kind": "external", "status": "accepted",
                                       "justification": f"waiver {w.id} until {w.expires}: "
                                                        f"{w.reason}"}]
        results.append(result)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": __version__,
                                "informationUri": registry.RULES[0].url.split("#")[0],
                                "rules": descriptors}},
            "automationDetails": {"id": f"rampart-policy/{report.stack}/"},
            "originalUriBaseIds": {"SRCROOT": {"description": {
                "text": "The repository root (the directory holding Pulumi.yaml)."}}},
            "invocations": [{"executionSuccessful": True,
                             "exitCode": report.exit_code}],
            "results": results,
            "properties": {"stack": report.stack, "waivers": report.waiver_rows()},
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
