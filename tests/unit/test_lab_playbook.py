"""Reading ansible-playbook's PLAY RECAP (the converge and idempotence checks rely on it)."""

from __future__ import annotations

import pytest

from infra.lab.playbook import PlaybookRun, parse_recap

pytestmark = pytest.mark.unit

OUTPUT = """PLAY [all] *********************************************************************

TASK [common : Base packages are installed] ************************************
ok: [edge1]
changed: [db1]

PLAY RECAP *********************************************************************
app1                       : ok=41   changed=0    unreachable=0    failed=0    skipped=7    rescued=0    ignored=0
db1                        : ok=41   changed=3    unreachable=0    failed=0    skipped=7    rescued=0    ignored=0
edge1                      : ok=12   changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
mon1                       : ok=40   changed=0    unreachable=0    failed=1    skipped=7    rescued=0    ignored=0
"""  # noqa: E501


def test_recap_counts_per_host() -> None:
    recap = parse_recap(OUTPUT)
    assert sorted(recap) == ["app1", "db1", "edge1", "mon1"]
    assert recap["db1"] == {
        "ok": 41, "changed": 3, "unreachable": 0, "failed": 0,
        "skipped": 7, "rescued": 0, "ignored": 0,
    }  # fmt: skip


def test_task_lines_before_the_recap_are_not_hosts() -> None:
    assert "ok" not in parse_recap(OUTPUT) and "changed" not in parse_recap(OUTPUT)


def test_changed_and_failed_hosts() -> None:
    run = PlaybookRun("playbooks/site.yml", [], 2, OUTPUT, "", 1.0, parse_recap(OUTPUT))
    assert run.changed_hosts == {"db1": 3}
    assert sorted(run.failed_hosts) == ["edge1", "mon1"]
    assert "playbooks/site.yml  exited 2" in run.failure_summary()


def test_no_recap_means_no_hosts() -> None:
    assert parse_recap("ERROR! the playbook: x.yml could not be found\n") == {}
