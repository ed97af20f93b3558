"""Across hosts: who can open a TCP connection to whom, probed from inside the lab.

Each probe runs on the source host (bash's /dev/tcp under `timeout`, over the lab's SSH), so
it crosses the lab bridge and both hosts' firewalls exactly like real traffic; the controller
(this machine, the bridge address) probes with a plain socket. The firewall role drops what it
does not admit (policy drop, never reject), so one probe tells three outcomes apart without
starting a listener: `open` (connected), `closed` (refused: the firewall admitted it, nothing
listens) and `filtered` (no answer: dropped).

What is expected is stated once, in RULES, against the inventory's groups (membership,
addresses and moved ports come from the inventory the playbooks use); tests/hosts/
test_reachability.py checks the same rules with temporary listeners.

    python -m infra.lab.reachability [--inventory inventories/lab/hosts.yml] [--json FILE]

prints the matrix, expected against observed, and exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.table import Table

from infra.lab.config import LabConfig
from infra.lab.errors import LabError

DEFAULT_INVENTORY = Path("inventories/lab/hosts.yml")
PROBE_SECONDS = 3
CONTROLLER = "controller"  # this machine: Ansible, the tests and `rampart demo` run here
ANY = "any"


class Outcome(StrEnum):
    OPEN = "open"  # connected: admitted, and something listens
    CLOSED = "closed"  # refused: admitted, nothing listens
    FILTERED = "filtered"  # no answer within the timeout: dropped by a firewall
    ERROR = "error"  # the probe itself could not run (SSH down, no route, …)


class Expect(StrEnum):
    OPEN = "open"  # admitted, and the group's service listens there after site.yml
    ADMITTED = "admitted"  # admitted; nothing needs to listen (closed is fine)
    BLOCKED = "blocked"


def satisfied(expect: Expect, outcome: Outcome) -> bool:
    if expect is Expect.OPEN:
        return outcome is Outcome.OPEN
    if expect is Expect.ADMITTED:
        return outcome in (Outcome.OPEN, Outcome.CLOSED)
    return outcome is Outcome.FILTERED


@dataclass(frozen=True)
class Rule:
    """A port hosts of group `on` expose, and who may reach it. Every port is probed on every
    host: a host outside `on` must drop it."""

    service: str
    port: int
    on: str  # a group ("all" = every host)
    allowed_from: tuple[str, ...]  # groups, ANY or CONTROLLER
    listens: bool = True  # a service of `on` listens on the host's address after site.yml
    port_var: str | None = None  # the inventory variable that moves the port


# The lab's firewall data (inventories/lab/group_vars/*/firewall.yml, role: firewall) encodes
# these rules; they are restated here, independently, as what the lab must show.
RULES: tuple[Rule, ...] = (
    # SSH only from the admin network (the controller; firewall_ssh_admin_cidrs holds no lab
    # host): a foothold on one host must not reach another's sshd. Dropped probes never reach
    # sshd, so they never count as failed logins for fail2ban; the controller is on its
    # ignore list.
    Rule("ssh", 22, "all", (CONTROLLER,), port_var="ssh_hardening_port"),
    Rule("postgresql", 5432, "db", ("app",), port_var="postgresql_port"),
    Rule("node-exporter", 9100, "all", ("monitoring",), port_var="node_exporter_port"),
    # Traefik on the edge hosts (role: traefik) serves the platform's routes to everyone ...
    Rule("http", 80, "edge", (ANY,)),
    Rule("https", 443, "edge", (ANY,)),
    # Its internal entry point (metrics, ping) only to the monitoring host's Prometheus.
    Rule("traefik-metrics", 8082, "edge", ("monitoring",)),
    # ... and reaches what it routes to: the admin UIs on the monitoring hosts (beside the
    # controller, the admin workstation) and the lab's stand-ins on the app hosts.
    Rule("prometheus", 9090, "monitoring", (CONTROLLER, "edge"), port_var="prometheus_port"),
    Rule("alertmanager", 9093, "monitoring", (CONTROLLER, "edge"),
         port_var="prometheus_alertmanager_port"),
    Rule("gateway-standin", 4000, "app", ("edge",)),
    Rule("grafana-standin", 3000, "app", ("edge",)),
    Rule("openbao", 8200, "secrets", (CONTROLLER, "app"), port_var="openbao_port"),
    # The log host's receiver (role: logship) takes the journal and audit log of every other host.
    Rule("logship-relp", 2514, "monitoring", ("edge", "app", "db"), port_var="logship_port"),
)


# --- The inventory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inventory:
    hosts: tuple[str, ...]
    addresses: Mapping[str, str]
    groups: Mapping[str, frozenset[str]]
    hostvars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def members(self, group: str) -> frozenset[str]:
        if group == "all":
            return frozenset(self.hosts)
        return self.groups.get(group, frozenset())

    def port(self, rule: Rule, host: str) -> int:
        """The rule's port on `host`, moved by the inventory when it sets a literal value."""
        value = self.hostvars.get(host, {}).get(rule.port_var) if rule.port_var else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return rule.port


def parse_inventory(data: Mapping[str, Any]) -> Inventory:
    """An Inventory from `ansible-inventory --list` output (children resolved)."""
    hostvars: Mapping[str, Mapping[str, Any]] = data.get("_meta", {}).get("hostvars", {})

    def members(group: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        entry = data.get(group) or {}
        found = set(entry.get("hosts", []))
        for child in entry.get("children", []):
            if child not in seen:
                found |= members(child, seen | {group})
        return frozenset(found)

    groups = {name: members(name) for name in data if name != "_meta"}
    hosts = tuple(sorted(set(hostvars) | groups.get("all", frozenset())))
    addresses = {h: str(hostvars.get(h, {}).get("ansible_host", h)) for h in hosts}
    return Inventory(hosts, addresses, groups, hostvars)


def load_inventory(inventory: Path = DEFAULT_INVENTORY) -> Inventory:
    binary = Path(sys.executable).parent / "ansible-inventory"
    done = subprocess.run(
        [str(binary) if binary.exists() else "ansible-inventory", "-i", str(inventory), "--list"],
        capture_output=True, text=True, check=False, timeout=120,
    )
    if done.returncode != 0:
        raise LabError(f"ansible-inventory -i {inventory} failed: {done.stderr.strip()[-300:]}")
    return parse_inventory(json.loads(done.stdout))


# --- What is expected ------------------------------------------------------------------------


def expectation(rule: Rule, inventory: Inventory, source: str, target: str) -> Expect:
    """What `source` must see on `target`'s rule port. Pure: tests and the demo share it."""
    if target not in inventory.members(rule.on):
        return Expect.BLOCKED
    admitted = any(
        allowed == ANY
        or allowed == source == CONTROLLER
        or (allowed != CONTROLLER and source in inventory.members(allowed))
        for allowed in rule.allowed_from
    )
    if not admitted:
        return Expect.BLOCKED
    return Expect.OPEN if rule.listens else Expect.ADMITTED


@dataclass(frozen=True)
class Probe:
    service: str
    port: int
    source: str
    target: str
    address: str
    expect: Expect


def plan(inventory: Inventory, sources: Iterable[str], targets: Iterable[str] | None = None,
         rules: Iterable[Rule] = RULES) -> list[Probe]:
    """Every (rule, source, target) worth probing: a host never probes itself."""
    probes = []
    target_list = list(targets) if targets is not None else list(inventory.hosts)
    for rule in rules:
        for source in sources:
            for target in target_list:
                if source == target:
                    continue
                probes.append(Probe(rule.service, inventory.port(rule, target), source, target,
                                    inventory.addresses[target],
                                    expectation(rule, inventory, source, target)))
    return probes


# --- Probing ---------------------------------------------------------------------------------

_SAFE_ADDRESS = re.compile(r"^[A-Za-z0-9.:_-]+$")


# Seconds for the SSH rate limit (15/minute) to give a source a new connection.
RATE_LIMIT_REFILL_SECONDS = 5.0


def probe_command(address: str, port: int, seconds: float = PROBE_SECONDS) -> str:
    """Shell line run on a source host: exit 0 when a TCP connection to address:port opens,
    124 when nothing answers within `seconds` (dropped), 1 otherwise (refused, no route)."""
    if not _SAFE_ADDRESS.match(address):
        raise LabError(f"not an address to probe: {address!r}")
    return f"timeout {seconds:g} bash -c {shlex.quote(f'exec 3<>/dev/tcp/{address}/{int(port)}')}"


def probe_script(targets: Iterable[tuple[str, int]], seconds: float = PROBE_SECONDS) -> str:
    """One shell script probing every (address, port) at once; prints `address port outcome`
    per probe (outcome: open, closed, filtered or error:<message>)."""
    lines = []
    for address, port in targets:
        lines.append(
            f"( out=$({probe_command(address, port, seconds)} 2>&1); rc=$?; "
            'case "$rc:$out" in 0:*) r=open;; 124:*) r=filtered;; *refused*) r=closed;; '
            '*) r="error:$rc $(printf %s "$out" | tail -n 1)";; esac; '
            f'echo "{address} {int(port)} $r" ) &'
        )
    lines.append("wait")
    return "\n".join(lines) + "\n"


def parse_probe_output(stdout: str) -> dict[tuple[str, int], tuple[Outcome, str]]:
    found: dict[tuple[str, int], tuple[Outcome, str]] = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        address, port, result = parts[0], int(parts[1]), parts[2]
        if result in (Outcome.OPEN.value, Outcome.CLOSED.value, Outcome.FILTERED.value):
            found[(address, port)] = (Outcome(result), "")
        else:
            found[(address, port)] = (Outcome.ERROR, result.removeprefix("error:"))
    return found


def probe_local(address: str, port: int, seconds: float = PROBE_SECONDS,
                source: str | None = None) -> tuple[Outcome, str]:
    """The controller's own probe (from one of its addresses when `source` is given)."""
    bind = (source, 0) if source else None
    try:
        with socket.create_connection((address, port), timeout=seconds, source_address=bind):
            return Outcome.OPEN, ""
    except ConnectionRefusedError:
        return Outcome.CLOSED, ""
    except TimeoutError:
        return Outcome.FILTERED, ""
    except OSError as exc:
        return Outcome.ERROR, str(exc)


# run_on(host, script) -> (exit code, stdout): runs a shell script on a lab host.
RunOn = Callable[[str, str], tuple[int, str]]
LocalProbe = Callable[[str, int, float], tuple[Outcome, str]]


def lab_runner(lab: LabConfig, timeout: float = 60) -> RunOn:
    """Scripts run on lab hosts over the lab's SSH (lab key, pinned host keys)."""
    from infra.lab import ssh

    def run_on(host: str, script: str) -> tuple[int, str]:
        try:
            done = ssh.ssh_run(lab, lab.host(host), ["bash", "-c", script], timeout)
        except subprocess.TimeoutExpired:
            return 124, ""
        return done.returncode, done.stdout + (f"\n{done.stderr}" if done.returncode else "")

    return run_on


@dataclass(frozen=True)
class Result:
    probe: Probe
    outcome: Outcome
    detail: str = ""

    @property
    def ok(self) -> bool:
        return satisfied(self.probe.expect, self.outcome)

    def describe(self) -> str:
        p = self.probe
        seen = self.outcome.value + (f" ({self.detail})" if self.detail else "")
        return f"{p.source} -> {p.target}:{p.port} ({p.service}): {seen}, expected {p.expect.value}"


@dataclass
class Matrix:
    results: list[Result]
    inventory: str = str(DEFAULT_INVENTORY)

    @property
    def mismatches(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "inventory": self.inventory,
            "probes": len(self.results),
            "mismatches": len(self.mismatches),
            "results": [{**asdict(r.probe), "expect": r.probe.expect.value,
                         "outcome": r.outcome.value, "detail": r.detail, "ok": r.ok}
                        for r in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Matrix:
        results = [
            Result(Probe(r["service"], int(r["port"]), r["source"], r["target"], r["address"],
                         Expect(r["expect"])), Outcome(r["outcome"]), r.get("detail", ""))
            for r in data["results"]
        ]
        return cls(results, str(data.get("inventory", DEFAULT_INVENTORY)))


def probe(probes: list[Probe], run_on: RunOn, local: LocalProbe = probe_local,
          seconds: float = PROBE_SECONDS) -> Matrix:
    """Run every probe: one script per source host (all its probes at once), the controller's
    with sockets; sources in parallel, so the whole matrix takes about one timeout."""
    by_source: dict[str, list[Probe]] = {}
    for p in probes:
        by_source.setdefault(p.source, []).append(p)

    def from_host(source: str, mine: list[Probe]) -> list[Result]:
        pairs = list(dict.fromkeys((p.address, p.port) for p in mine))
        code, stdout = run_on(source, probe_script(pairs, seconds))
        seen = parse_probe_output(stdout)
        missing = f"no answer from {source} (exit {code}): {stdout.strip()[-120:]}"
        return [Result(p, *seen.get((p.address, p.port), (Outcome.ERROR, missing)))
                for p in mine]

    def from_controller(p: Probe) -> Result:
        outcome, detail = local(p.address, p.port, seconds)
        if outcome is Outcome.FILTERED and p.expect is not Expect.BLOCKED:
            # The firewall drops new SSH connections over a per-source rate (firewall_ssh_rate,
            # one token every few seconds): right after a burst (ssh-audit, a converge) the
            # admin's own probe can land in it. Once more after a refill, then it counts.
            time.sleep(RATE_LIMIT_REFILL_SECONDS)
            outcome, detail = local(p.address, p.port, seconds)
        return Result(p, outcome, detail)

    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = [pool.submit(from_host, s, mine) for s, mine in by_source.items()
                   if s != CONTROLLER]
        local_results = list(pool.map(from_controller, by_source.get(CONTROLLER, [])))
        results = local_results + [r for f in futures for r in f.result()]
    order = {p: i for i, p in enumerate(probes)}
    return Matrix(sorted(results, key=lambda r: order[r.probe]))


def check(inventory: Path = DEFAULT_INVENTORY, lab: LabConfig | None = None) -> Matrix:
    """The matrix of the lab described by `inventory`: every inventory host that is a lab host
    probes, and so does the controller."""
    from infra.lab import default_lab

    lab = lab or default_lab()
    inv = load_inventory(inventory)
    lab_names = {h.name for h in lab.hosts}
    strangers = [h for h in inv.hosts if h not in lab_names]
    if strangers:
        raise LabError(f"{inventory}: hosts not in lab {lab.name}: {', '.join(strangers)}")
    matrix = probe(plan(inv, [CONTROLLER, *inv.hosts]), lab_runner(lab))
    matrix.inventory = str(inventory)
    return matrix


# --- Showing it ------------------------------------------------------------------------------


def _names(sources: list[str], everyone: list[str]) -> str:
    if not sources:
        return "none"
    if len(everyone) > 1 and sources == everyone:
        return "everyone"
    return ", ".join(sources)


def matrix_table(matrix: Matrix) -> Table:
    """Rows: service and port; columns: target hosts; a cell names who got through. A cell
    whose observation differs from the expectation is red, marked ✗, with what was expected."""
    targets = list(dict.fromkeys(r.probe.target for r in matrix.results))
    addresses = {r.probe.target: r.probe.address for r in matrix.results}
    services = list(dict.fromkeys(r.probe.service for r in matrix.results))
    bad = len(matrix.mismatches)
    table = Table(title=f"Cross-host reachability ({len(matrix.results)} probes, "
                        f"{bad or 'no'} mismatch{'es' if bad != 1 else ''})")
    table.add_column("service")
    table.add_column("port", justify="right")
    for target in targets:
        table.add_column(f"→ {target}\n{addresses[target]}")
    for service in services:
        mine = [r for r in matrix.results if r.probe.service == service]
        ports = sorted({r.probe.port for r in mine})
        row = [service, ",".join(map(str, ports))]
        for target in targets:
            cell = [r for r in mine if r.probe.target == target]
            if not cell:
                row.append("[dim]-[/]")
                continue
            probed = [r.probe.source for r in cell]
            reached = [r.probe.source for r in cell if r.outcome in (Outcome.OPEN, Outcome.CLOSED)]
            expected = [r.probe.source for r in cell if r.probe.expect is not Expect.BLOCKED]
            text = _names(reached, probed)
            if all(r.ok for r in cell):
                quiet = reached and all(r.outcome is Outcome.CLOSED for r in cell
                                        if r.probe.source in reached)
                row.append(f"[green]{text}[/]" + (" [dim](nothing listens)[/]" if quiet else ""))
                continue
            notes = sorted({f"{r.probe.source}: {r.outcome.value}" for r in cell
                            if not r.ok and r.outcome in (Outcome.CLOSED, Outcome.ERROR)})
            row.append(f"[bold red]✗ {text}[/]\n[red]expected {_names(expected, probed)}[/]"
                       + "".join(f"\n[red]{n}[/]" for n in notes))
        table.add_row(*row)
    table.caption = (f"who opens a TCP connection to whom ({CONTROLLER} = this machine, the "
                     "admin workstation); every other source is dropped")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", type=Path, default=DEFAULT_INVENTORY)
    parser.add_argument("--json", type=Path, help="also write the matrix here")
    args = parser.parse_args(argv)
    from rich.console import Console

    console = Console()
    try:
        matrix = check(args.inventory)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(matrix.to_json(), indent=2) + "\n", encoding="utf-8")
    console.print(matrix_table(matrix))
    for result in matrix.mismatches:
        console.print(f"✗ {result.describe()}", markup=False, highlight=False)
    return 1 if matrix.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
