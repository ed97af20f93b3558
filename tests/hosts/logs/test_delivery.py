"""A line logged on a shipping host reaches the log host within seconds, filed under that
host's name; and a restart of the log host's receiver loses nothing logged meanwhile."""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable

from lab_support import wait
from testinfra.host import Host

from .support import LOG_HOST, STORE, stored_count

SENDER = "app1"
LATENCY_LIMIT = 5.0  # seconds: "within seconds"
LINES_WHILE_DOWN = 50


def test_a_line_logged_on_app1_reaches_the_log_host_within_seconds(
    hardened: Callable[[str], Host]
) -> None:
    sender, log_host = hardened(SENDER), hardened(LOG_HOST)
    token = f"rampart-test-{uuid.uuid4()}"
    start = time.monotonic()
    sender.check_output(f"logger -t rampart-test {token}")
    seen = wait(lambda: stored_count(log_host, SENDER, f"rampart-test: {token}") >= 1,
                LATENCY_LIMIT, step=0.2)
    assert seen is not None, (
        f"'{token}' logged on {SENDER} is not in {LOG_HOST}:{STORE}/{SENDER}/ after "
        f"{LATENCY_LIMIT:.0f} s")
    print(f"log line {SENDER} -> {LOG_HOST} in {time.monotonic() - start:.2f} s")
    line = log_host.check_output(f"grep -rhF 'rampart-test: {token}' {STORE}/{SENDER}/")
    assert f" {SENDER} rampart-test: {token}" in line, line  # the sender's name, the tag


def test_a_receiver_restart_loses_no_line(hardened: Callable[[str], Host]) -> None:
    sender, log_host = hardened(SENDER), hardened(LOG_HOST)
    token = f"rampart-restart-{uuid.uuid4()}"
    try:
        # syslog.socket too: journald's forwarding would start rsyslog again at once.
        log_host.check_output("systemctl stop syslog.socket rsyslog.service")
        sender.check_output(
            f"for i in $(seq 1 {LINES_WHILE_DOWN}); do logger -t rampart-test {token}-$i; done")
        time.sleep(3)  # the sender tries, fails and queues while the receiver is down
        assert stored_count(log_host, SENDER, f"rampart-test: {token}-") == 0, (
            "stored while the receiver was down?")
    finally:
        log_host.run("systemctl start syslog.socket rsyslog.service")
    start = time.monotonic()

    def distinct() -> int:
        out = log_host.run(f"cat {STORE}/{SENDER}/*.log | grep -oE 'rampart-test: {token}-[0-9]+'"
                           " | sort -u | wc -l")
        return int(out.stdout.strip() or 0)

    arrived = wait(lambda: distinct() == LINES_WHILE_DOWN, 60, step=1)
    assert arrived is not None, (
        f"{distinct()} of {LINES_WHILE_DOWN} lines logged on {SENDER} while {LOG_HOST}'s "
        "receiver was stopped arrived after it started again")
    total = stored_count(log_host, SENDER, f"rampart-test: {token}-")
    print(f"{LINES_WHILE_DOWN} lines queued during the receiver's stop arrived "
          f"{time.monotonic() - start:.1f} s after its start ({total} stored, "
          f"{total - LINES_WHILE_DOWN} delivered twice: RELP resends what was not acknowledged)")


AUDIT_LOG = "/var/log/audit/audit.log"  # logship_audit_log's default, where auditd writes


def test_an_audit_record_reaches_the_log_host_tagged_auditd(
    hardened: Callable[[str], Host]
) -> None:
    """The lab's containers cannot run auditd (the kernel gives them no audit), so the test
    writes one record in auditd's format where auditd would: the file rsyslog reads is the
    same on a bare host, where auditd is what appends to it."""
    sender, log_host = hardened(SENDER), hardened(LOG_HOST)
    record = (f"type=USER_CMD msg=audit({time.time():.3f}:{uuid.uuid4().int % 10**6}): "
              f"pid=1 uid=0 msg='rampart-audit-{uuid.uuid4()}'")
    created = not sender.file(AUDIT_LOG).exists
    try:
        if created:  # as auditd would have: the file exists before rsyslog starts reading
            sender.check_output(f"install -d -m 0700 /var/log/audit && install -m 0600 "
                                f"/dev/null {AUDIT_LOG} && systemctl restart rsyslog")
        start = time.monotonic()
        sender.check_output(f"printf '%s\\n' {shlex.quote(record)} >> {AUDIT_LOG}")
        seen = wait(lambda: stored_count(log_host, SENDER, f"auditd: {record}") == 1,
                    LATENCY_LIMIT, step=0.2)
        assert seen is not None, (
            f"an audit record appended to {SENDER}:{AUDIT_LOG} is not in "
            f"{LOG_HOST}:{STORE}/{SENDER}/ (tag auditd) after {LATENCY_LIMIT:.0f} s")
        print(f"audit record {SENDER} -> {LOG_HOST} in {time.monotonic() - start:.2f} s")
    finally:
        if created:
            sender.run(f"rm -f {AUDIT_LOG} && rmdir /var/log/audit")
