"""An SSH brute force gets its source banned on the target, in nftables, until unbanned.

Lab hosts cannot reach each other's SSH at all (the admin networks hold no host), so the
attacker is an address inside the admin range that is not the controller's: a second address
on the lab bridge (the gateway's neighbour), added for this test and removed after it. The
controller's own address is never used to attack, so it can never be banned."""

from __future__ import annotations

import ipaddress
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from testinfra.host import Host

from infra.lab import LabConfig, reachability
from infra.lab.reachability import Outcome

TARGET = "db1"


def _address(host: Host) -> str:
    return str(host.ansible.get_variables()["ansible_host"])


def _ssh_reaches(source_ip: str, target_ip: str) -> bool:
    return reachability.probe_local(target_ip, 22, 5, source=source_ip)[0] is Outcome.OPEN


def _why_unreachable(target: Host, attacker_ip: str) -> str:
    """What the target says about the path, for a failure message."""
    checks = [
        "ss -Hltn 'sport = :22'",
        "fail2ban-client banned",
        "nft list table inet f2b-table",
        "nft list ruleset | grep -E 'ssh|policy'",
        f"journalctl -q --no-pager -n 500 | grep -F '{attacker_ip}' | tail -n 20",
    ]
    lines = []
    for command in checks:
        out = target.run(command)
        lines.append(f"$ {command} (rc={out.rc})\n{(out.stdout + out.stderr).strip()}")
    return "\n".join(lines)


def _lift_ban(target: Host, ip: str) -> None:
    """Unban `ip` in every jail and wait until it stays unbanned: fail2ban reads the journal
    asynchronously, so failures logged before an unban (or recidive counting the ban itself)
    can ban the address again seconds later."""
    clear = 0
    for _ in range(20):
        target.run(f"fail2ban-client unban {ip}")
        time.sleep(2)
        clear = clear + 1 if ip not in target.check_output("fail2ban-client banned") else 0
        if clear >= 3:
            return
    pytest.fail(f"{TARGET}: {ip} keeps being banned again after unban", pytrace=False)


@pytest.fixture
def attacker_ip(lab: LabConfig, hardened: Callable[[str], Host]) -> Iterator[str]:
    """A second address on the lab bridge, inside the admin networks, not the controller's."""
    address = str(lab.gateway + 1)
    admin = hardened(TARGET).ansible.get_variables()["firewall_ssh_admin_cidrs"]
    assert any(ipaddress.ip_address(address) in ipaddress.ip_network(c) for c in admin), (
        f"{address} is not inside the lab's firewall_ssh_admin_cidrs {admin}: the brute-force "
        "source must be an admin address that is not the controller's"
    )
    cidr = f"{address}/32"
    added = subprocess.run(["ip", "addr", "add", cidr, "dev", lab.bridge], check=False,
                           capture_output=True, text=True)
    assert added.returncode == 0 or "exists" in added.stderr, added.stderr
    target = hardened(TARGET)
    _lift_ban(target, address)
    try:
        yield address
    finally:
        # Always lift the ban (also from recidive), so later runs and other tests start clean.
        _lift_ban(target, address)
        subprocess.run(["ip", "addr", "del", cidr, "dev", lab.bridge], check=False)


def test_brute_force_from_an_admin_address_is_banned(
    hardened: Callable[[str], Host], attacker_ip: str
) -> None:
    target = hardened(TARGET)
    target_ip = _address(target)
    assert _ssh_reaches(attacker_ip, target_ip), (
        f"{attacker_ip} cannot reach {TARGET}:22 at all:\n" + _why_unreachable(target, attacker_ip)
    )
    maxretry = int(target.check_output("fail2ban-client get sshd maxretry"))
    for attempt in range(maxretry + 2):
        # Unknown users with no key: each attempt is one failed authentication in the journal.
        # `timeout`: the ban can land while an attempt's connection is open; its packets are
        # then dropped and ssh would wait for them forever (ConnectTimeout covers only connect).
        subprocess.run(
            ["timeout", "20", "ssh", "-b", attacker_ip, "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=2",
             "-o", "ConnectTimeout=5", "-o", "PreferredAuthentications=publickey",
             "-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
             f"bruteforce{attempt}@{target_ip}", "true"],
            capture_output=True, check=False,
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
    assert not _ssh_reaches(attacker_ip, target_ip), f"{attacker_ip} still reaches {TARGET}:22"
    lab_gateway = str(ipaddress.ip_address(attacker_ip) - 1)
    assert _ssh_reaches(lab_gateway, target_ip), (
        f"the controller ({lab_gateway}) lost SSH to {TARGET} while {attacker_ip} was banned"
    )

    # Unbanned until it stays so (an attempt still being read from the journal can ban it
    # again seconds after a single unban: a fresh-check failed on that), then it reaches.
    _lift_ban(target, attacker_ip)
    assert _ssh_reaches(attacker_ip, target_ip), (
        f"{attacker_ip} is still blocked after unban:\n" + _why_unreachable(target, attacker_ip))
