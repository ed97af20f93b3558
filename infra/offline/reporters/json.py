"""JSON report: the summary, every violation and waived finding, and the waiver list."""

from __future__ import annotations

import json
from typing import Any

from infra.offline.report import Item, Report


def _item_json(item: Item) -> dict[str, Any]:
    w = item.outcome.waiver
    return {
        "rule": item.rule.name, "level": item.level, "severity": item.rule.severity.value,
        "status": item.outcome.status, "message": item.outcome.message,
        "resource": item.resource, "urn": item.urn, "service": item.service,
        "subject": item.outcome.finding.subject,
        "location": {"file": item.location.file, "line": item.location.line,
                     "column": item.location.column},
        "remediation": item.rule.remediation, "doc": item.rule.url,
        "waiver": w.id if w else None,
    }


def render(report: Report) -> str:
    doc = {
        "stack": report.stack,
        "passed": report.passed,
        "summary": {"mandatory": len(report.mandatory), "advisory": len(report.advisory),
                    "waived": len(report.waived), "resources": report.resources,
                    "rules": len(report.rules), "seconds": round(report.seconds, 3)},
        "violations": [_item_json(i) for i in report.violations],
        "waived": [_item_json(i) for i in report.waived],
        "waivers": report.waiver_rows(),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
