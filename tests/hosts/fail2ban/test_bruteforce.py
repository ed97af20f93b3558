"""Cross-host: an SSH brute force from one lab host gets that host banned on another, in
nftables, until unbanned. Attacker edge1 -> target db1 (a pair no other test needs open)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

ATTACKER, TARGET = "edge1", "db1"


def _address(host: Host) -> str:
    return str(host.ansible.get_variables()["ansible_host"])


def _ssh_reaches(attacker: Host, target_ip: str) -> bool:
    probe = attacker.run(f"timeout 5 bash -c 'exec 3<>/dev/tcp/{target_ip}/22' 2>/dev/null")
    return probe.rc == 0


def _why_unreachable(attacker: Host, target: Host, attacker_ip: str) -> str:
    """What the target and the attacker say about the path, for a failure message."""
    checks = [
        (target, "ss -Hltn 'sport = :22'"),
        (target, "fail2ban-client banned"),
        (target, "nft list table inet f2b-table"),
        (target, "nft list ruleset | grep -E 'ssh|policy'"),
        (target, f"journalctl -q --no-pager -n 500 | grep -F '{attacker_ip}' | tail -n 20"),
        (attacker, "ip -br addr; ip neigh"),
    ]
    lines = []
    for host, command in checks:
        out = host.run(command)
        lines.append(f"$ {command} (rc={out.rc})\n{(out.stdout + out.stderr).strip()}")
    return "\n".join(lines)


def _lift_ban(target: Host, ip: str) -> None:
    """Unban `ip` in every jail and wait until it stays unbanned: fail2ban reads the journal
    asynchronously, so failures logged before an unban (or recidive counting the ban itself)
    can ban the address again seconds later — which left db1 dropping all of edge1's packets,
    replies included, for the tests that followed."""
    clear = 0
    for _ in range(20):
        target.run(f"fail2ban-client unban {ip}")
        time.sleep(2)
        clear = clear + 1 if ip not in target.check_output("fail2ban-client banned") else 0
        if clear >= 3:
            return
    pytest.fail(f"{TARGET}: {ip} keeps being banned again after unban", pytrace=False)


@pytest.fixture
def pair(hardened: Callable[[str], Host]) -> Iterator[tuple[Host, Host, str]]:
    attacker, target = hardened(ATTACKER), hardened(TARGET)
    attacker_ip = _address(attacker)
    _lift_ban(target, attacker_ip)
    yield attacker, target, attacker_ip
    # Always lift the ban (also from recidive), so later runs and other tests start clean.
    _lift_ban(target, attacker_ip)


def test_brute_force_from_a_lab_host_is_banned(pair: tuple[Host, Host, str]) -> None:
    attacker, target, attacker_ip = pair
    target_ip = _address(target)
    assert _ssh_reaches(attacker, target_ip), (
        f"{ATTACKER} cannot reach {TARGET}:22 at all:\n"
        + _why_unreachable(attacker, target, attacker_ip)
    )
    maxretry = int(target.check_output("fail2ban-client get sshd maxretry"))
    for attempt in range(maxretry + 2):
        # Unknown users with no key: each attempt is one failed authentication in the journal.
        # `timeout`: the ban can land while an attempt's connection is open; its packets are
        # then dropped and ssh would wait for them forever (ConnectTimeout covers only connect).
        attacker.run(
            "timeout 20 ssh -o BatchMode=yes -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o ServerAliveInterval=2 -o ServerAliveCountMax=2 "
            f"-o ConnectTimeout=5 -o PreferredAuthentications=publickey "
            # `|| true`: testinfra takes ssh's own exit status 255 for a lost connection.
            f"bruteforce{attempt}@{target_ip} true || true"
        )
    banned = ""
    for _ in range(30):
        banned = target.check_output("fail2ban-client get sshd banip")
        if attacker_ip in banned.split():
            break
        time.sleep(1)
    assert attacker_ip in banned.split(), f"{TARGET}: {attacker_ip} not banned (banip: {banned!r})"
    ruleset = target.check_output("nft list table inet f2b-table")
    assert attacker_ip in ruleset, f"{TARGET}: ban of {attacker_ip} is not in nftables"
    assert not _ssh_reaches(attacker, target_ip), f"{ATTACKER} still reaches {TARGET}:22"

    target.check_output(f"fail2ban-client unban {attacker_ip}")
    assert _ssh_reaches(attacker, target_ip), f"{ATTACKER} is still blocked after unban"
