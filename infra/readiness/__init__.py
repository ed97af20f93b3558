"""The production-readiness certificate: a requirements catalog (requirements.yaml), the
evidence the checks write into one directory (evidence.py, the pytest plugin, the adapters of
the other tools' outputs), the scoring of the catalog against that evidence (score.py) and
the reports (JSON, Markdown, self-contained HTML; reports.py, html.py). docs/readiness.md
describes the formats.

May import: the standard library, PyYAML and the literal-secret detector
(infra.secrets.literals, for redaction); never the model, the targets or the CLI (which
imports this package). Git is run as a subprocess (read-only: rev-parse, rev-list, diff).
"""
