"""The common role skips work the host already has (rampart_apt asks dpkg before apt runs;
rampart_managed_files compares content, owner and mode before it writes), so these tests
prove the skip is never wrong: whatever drifted by hand since the last run is put back by the
next one, and the run after that changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

HOST = "app1"
BANNER = "/etc/issue.net"
PWQUALITY = "/etc/security/pwquality.conf"


def test_a_run_after_hand_edits_restores_every_managed_file_and_package(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun]
) -> None:
    host = hardened(HOST)
    banner = host.file(BANNER).content_string
    pwquality = host.file(PWQUALITY).content_string
    host.check_output(
        f"set -e; echo 'hello from a hand edit' > {BANNER}; "   # content of a copied file
        f"chmod 0666 {PWQUALITY}; "                              # mode of a templated file
        "chmod 0755 /etc/cron.d; "                               # mode in a permissions loop
        "echo someone > /etc/cron.deny; "                        # a file that must stay absent
        "sed -i 's/^UMASK\\t.*/UMASK\\t022/' /etc/login.defs; "  # one login.defs key
        "DEBIAN_FRONTEND=noninteractive apt-get -y -q remove debsums"  # a base package
    )
    run = run_playbook("playbooks/harden.yml", "--limit", HOST, "--tags", "common")
    assert run.returncode == 0, run.failure_summary()
    # Six hand edits, five tasks: cron.d's mode and cron.deny are one managed-files task.
    assert run.changed_hosts.get(HOST, 0) >= 5, (
        f"{HOST}: expected the six hand edits to be undone: {run.changed_hosts}"
    )
    assert host.file(BANNER).content_string == banner
    assert host.file(PWQUALITY).mode == 0o644 and host.file(PWQUALITY).content_string == pwquality
    assert host.file("/etc/cron.d").mode == 0o700
    assert not host.file("/etc/cron.deny").exists
    umask = host.run("grep -P '^UMASK\\t027$' /etc/login.defs")
    assert umask.rc == 0, "login.defs UMASK not restored"
    assert host.package("debsums").is_installed
    again = run_playbook("playbooks/harden.yml", "--limit", HOST, "--tags", "common")
    assert again.returncode == 0 and not again.changed_hosts, (
        f"{HOST}: the run after the repair changed something: {again.changed_tasks}"
    )
