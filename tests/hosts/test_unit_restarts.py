"""Restarting oneshot/RemainAfterExit units on the lab hosts never fails with 219/CGROUP.

Hosts that shared one cgroup tree (nspawn without machined, all in the machine's root cgroup)
managed the same `payload/system.slice/<unit>` directories: a unit finishing on one host pruned
the cgroup a restart of the same unit on another host was being placed in ("Failed to attach
... to compat systemd cgroup", status=219/CGROUP) — seen on the firewall reload and on db1's
sysstat restart. Each host now boots in cgroups of its own (infra/lab/hosts.py); these tests
restart units on all hosts at once, the way a converge does, and require no failure."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab_support import HOSTS
from testinfra.host import Host

from infra.lab import LabConfig, hosts, lifecycle

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 5
CGROUP_ERRORS = re.compile(r"219/CGROUP|compat systemd cgroup|Failed to kill control group")
PROBE_UNIT = """[Unit]
Description=rampart test: a oneshot RemainAfterExit unit restarted on every host at once
StartLimitIntervalSec=0
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sleep 0.05
ExecReload=/bin/true
"""


def _handler_units() -> set[str]:
    """Units the roles' handlers restart or reload ("Restart sysstat", "Reload nftables")."""
    names = set()
    for handlers in REPO.glob("roles/*/handlers/main.yml"):
        names |= set(re.findall(r"^- name: (?:Restart|Reload) (\S+)", handlers.read_text(), re.M))
    return names


def _oneshot_units(host: Host, candidates: set[str]) -> list[str]:
    units = []
    for name in sorted(candidates):
        show = host.run(f"systemctl show -p Type -p RemainAfterExit -p ActiveState {name}.service")
        props = dict(line.split("=", 1) for line in show.stdout.splitlines() if "=" in line)
        if props.get("Type") == "oneshot" and props.get("RemainAfterExit") == "yes" and (
            props.get("ActiveState") == "active"
        ):
            units.append(f"{name}.service")
    return units


def _hammer(host: Host, units: list[str], rounds: int) -> list[str]:
    """Restart and reload each unit `rounds` times; return every failure, named."""
    failures = []
    for _ in range(rounds):
        for unit in units:
            for verb in ("restart", "reload-or-restart"):
                # reset-failed clears systemd's start rate limit (5 starts in 10 s), which a
                # loop like this hits by design; a converge restarts a unit once.
                done = host.run(f"systemctl reset-failed {unit}; systemctl {verb} {unit}")
                if done.rc != 0:
                    failures.append(f"systemctl {verb} {unit}: rc {done.rc} {done.stderr.strip()}")
    return failures


def _cgroup_errors(host: Host, since: str) -> list[str]:
    journal = host.run(f"journalctl -q --no-pager --since '{since}' -o cat")
    return [line for line in journal.stdout.splitlines() if CGROUP_ERRORS.search(line)]


def _run_everywhere(
    lab_host: Callable[[str], Host], units: dict[str, list[str]], rounds: int
) -> None:
    since = {name: lab_host(name).check_output("date '+%Y-%m-%d %H:%M:%S'") for name in HOSTS}
    with ThreadPoolExecutor(max_workers=len(HOSTS)) as pool:
        results = dict(zip(HOSTS, pool.map(
            lambda n: _hammer(lab_host(n), units[n], rounds), HOSTS), strict=True))
    problems = {n: f for n, f in results.items() if f}
    logged = {n: e for n in HOSTS if (e := _cgroup_errors(lab_host(n), since[n]))}
    assert not problems, f"restarts failed: {problems}"
    assert not logged, f"cgroup errors in the journal: {logged}"


def test_each_host_boots_in_cgroups_of_its_own(lab: LabConfig) -> None:
    st = lifecycle.status(lab)
    seen: dict[str, str] = {}
    for hs in st.hosts:
        assert hs.nspawn_pid, f"{hs.name}: not running"
        init = Path(f"/proc/{hs.nspawn_pid}/task/{hs.nspawn_pid}/children").read_text().split()
        cgroup = Path(f"/proc/{init[0]}/cgroup").read_text()
        systemd = re.search(r"^\d+:name=systemd:(\S+)$|^0::(\S+)$", cgroup, re.M)
        assert systemd, f"{hs.name}: no systemd cgroup in {cgroup!r}"
        path = systemd.group(1) or systemd.group(2)
        root = path.split("/payload")[0]
        owner = next((n for n, p in seen.items() if p.split("/payload")[0] == root), None)
        assert owner is None, f"{hs.name} shares the cgroup {path} with {owner}"
        seen[hs.name] = path
        if not hosts.machined_available():
            assert f"/{hosts.CGROUP_PARENT}/{lab.machine(lab.host(hs.name))}/" in path, path


def test_the_same_unit_restarted_on_every_host_at_once(
    converged: object, lab_host: Callable[[str], Host]
) -> None:
    # The reproducer: before the fix, 11-14 of 80 restarts per host failed this way.
    for name in HOSTS:
        lab_host(name).check_output(
            f"printf '%s' '{PROBE_UNIT}' > /etc/systemd/system/rampart-probe.service "
            "&& systemctl daemon-reload && systemctl start rampart-probe.service"
        )
    try:
        _run_everywhere(lab_host, {n: ["rampart-probe.service"] for n in HOSTS}, rounds=20)
    finally:
        for name in HOSTS:
            lab_host(name).run(
                "systemctl stop rampart-probe.service; rm -f /etc/systemd/system/"
                "rampart-probe.service; systemctl daemon-reload"
            )


def test_the_roles_oneshot_units_restart_repeatedly(
    converged: object, lab_host: Callable[[str], Host]
) -> None:
    candidates = _handler_units()
    units = {n: _oneshot_units(lab_host(n), candidates) for n in HOSTS}
    assert any(units.values()), f"no oneshot/RemainAfterExit unit of {sorted(candidates)} found"
    _run_everywhere(lab_host, units, rounds=ROUNDS)
