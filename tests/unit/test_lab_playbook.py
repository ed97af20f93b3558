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


def test_changed_tasks_name_the_task_and_host() -> None:
    output = (
        "TASK [drift : The drift baseline is the converged state] *****\n"
        "ok: [app1]\n"
        "changed: [mon1] => {\"changed\": true, \"cmd\": [\"rampart-drift\", \"record\"]}\n"
        "TASK [logship : Make the CA] *****\n"
        "changed: [db1 -> localhost]\n"
        "changed: [db1] => (item=a)\n"
        "changed: [db1] => (item=b)\n"
        "RUNNING HANDLER [logship : Restart rsyslog] *****\n"
        "changed: [app1]\n"
    )
    run = PlaybookRun("playbooks/site.yml", [], 0, output, "", 1.0, {})
    assert run.changed_tasks == [
        'mon1: drift : The drift baseline is the converged state => {"changed": true, '
        '"cmd": ["rampart-drift", "record"]}',
        "db1: logship : Make the CA",
        "app1: logship : Restart rsyslog",
    ]


def test_no_change_means_no_changed_tasks() -> None:
    run = PlaybookRun("playbooks/site.yml", [], 0, OUTPUT.replace("changed: [db1]", "ok: [db1]"),
                      "", 1.0, {})
    assert run.changed_tasks == []
