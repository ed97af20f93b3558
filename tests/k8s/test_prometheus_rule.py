"""The k8s stacks' PrometheusRule is the generated rule set promtool accepts, and its backup
alerts (read from CloudNativePG's exporter on this target) fire on the figures they should:
promtool's own rule unit tests over synthetic series."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import stack as stacks
from infra.offline.render import record

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: scripts/system-deps.sh installs package prometheus")
    return path


@cache
def _rule(name: str) -> dict[str, Any]:
    (rule,) = [r.inputs for r in record(stacks.load(name, ROOT))
               if r.type.endswith(":PrometheusRule")]
    return dict(rule)


def _write_rules(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": _rule(name)["spec"]["groups"]}), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["k8s-dev", "k8s-prod"])
def test_promtool_accepts_the_prometheus_rule(tmp_path: Path, name: str) -> None:
    result = subprocess.run([_promtool(), "check", "rules", str(_write_rules(tmp_path, name))],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = {r.get("alert") for g in _rule(name)["spec"]["groups"] for r in g["rules"]}
    assert {"BackupTooOld", "BackupFailed", "WalArchivingLagging", "TargetDown"} <= alerts


LABELS = '{job="postgres-cnpg", service="postgres", tier="infra", backup="postgres"}'
WAL_LABELS = '{value="ready", job="postgres-cnpg", service="postgres", tier="infra"}'
UNIT_TESTS = f"""
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # a base backup 8 h old (threshold 7 h), none failed: too old, not failed
  - interval: 1m
    input_series:
      - series: 'cnpg_collector_last_available_backup_timestamp{LABELS}'
        values: '0x600'
      - series: 'cnpg_collector_last_failed_backup_timestamp{LABELS}'
        values: '0x600'
    alert_rule_test:
      - eval_time: 8h
        alertname: BackupTooOld
        exp_alerts:
          - exp_labels: {{severity: critical, job: postgres-cnpg, service: postgres,
                         tier: infra, backup: postgres}}
            exp_annotations: ANNOTATIONS-BackupTooOld
      - eval_time: 8h
        alertname: BackupFailed
        exp_alerts: []
  # a fresh backup (at 5 h), then a failed one after it: failed, not too old
  - interval: 1m
    input_series:
      - series: 'cnpg_collector_last_available_backup_timestamp{LABELS}'
        values: '18000x400'
      - series: 'cnpg_collector_last_failed_backup_timestamp{LABELS}'
        values: '0x299 19000x100'
    alert_rule_test:
      - eval_time: 5h50m
        alertname: BackupFailed
        exp_alerts:
          - exp_labels: {{severity: critical, job: postgres-cnpg, service: postgres,
                         tier: infra, backup: postgres}}
            exp_annotations: ANNOTATIONS-BackupFailed
      - eval_time: 5h50m
        alertname: BackupTooOld
        exp_alerts: []
  # WAL segments ready but not archived: alert only after the lag allowed (15 m)
  - interval: 1m
    input_series:
      - series: 'cnpg_collector_pg_wal_archive_status{WAL_LABELS}'
        values: '0x10 3x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: WalArchivingLagging
        exp_alerts: []
      - eval_time: 40m
        alertname: WalArchivingLagging
        exp_alerts:
          - exp_labels: {{severity: critical, job: postgres-cnpg, service: postgres,
                         tier: infra, value: ready}}
            exp_annotations: ANNOTATIONS-WalArchivingLagging
"""


def _annotations(alert: str) -> str:
    """The alert's annotations as promtool renders them for the database `postgres` (their
    templates only name labels), in flow style for the expected alert."""
    (rule,) = [r for g in _rule("k8s-dev")["spec"]["groups"] for r in g["rules"]
               if r.get("alert") == alert]
    rendered = {k: v.replace("{{ $labels.backup }}", "postgres").replace(
        "{{ $labels.service }}", "postgres") for k, v in rule["annotations"].items()}
    assert not any("{{" in v for v in rendered.values()), rendered
    return yaml.safe_dump(rendered, default_flow_style=True, width=10_000).strip()


def test_backup_alerts_fire_on_cloudnativepg_figures(tmp_path: Path) -> None:
    _write_rules(tmp_path, "k8s-dev")
    tests = UNIT_TESTS
    for alert in ("BackupTooOld", "BackupFailed", "WalArchivingLagging"):
        tests = tests.replace(f"ANNOTATIONS-{alert}", _annotations(alert))
    (tmp_path / "backups.test.yml").write_text(tests, encoding="utf-8")
    result = subprocess.run([_promtool(), "test", "rules", "backups.test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
