"""infra/demo.py without a lab or a Vault: the runner stops at the first failed step (real
subprocesses, fake commands), shows its log tail and hint, marks the rest "not run", still
stops the Vault dev server; the slow-parts notice reads the cache directory; and the
reachability matrix (infra/lab/reachability.py) judges and shows mismatches."""

from __future__ import annotations

import io
import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.console import Console

from infra import demo
from infra.demo import Runner, Status, StepSpec, execute
from infra.lab import proxy, reachability, rootfs
from infra.lab.config import DEFAULT_HOSTS, LabConfig, make_lab
from infra.lab.reachability import (
    CONTROLLER,
    Expect,
    Inventory,
    Matrix,
    Outcome,
    Probe,
    Result,
)

pytestmark = pytest.mark.unit

OK = ("sh", "-c", "echo fine")
BOOM = ("sh", "-c", "echo boom; exit 3")


def _console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


def _output(runner: Runner) -> str:
    file = runner.console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    logs = tmp_path / "logs"
    logs.mkdir()
    return Runner(_console(), logs, cwd=tmp_path)


def _touch(path: Path) -> tuple[str, ...]:
    return ("sh", "-c", f"touch '{path}'")


def _statuses(runner: Runner) -> list[tuple[str, Status]]:
    return [(s.name, s.status) for s in runner.steps]


class FakeVault:
    """Stands in for the OpenBao dev server: records start and stop."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[str] = []
        self.fail = fail

    @contextmanager
    def __call__(self, log: Path) -> Iterator[dict[str, str]]:
        if self.fail:
            log.write_text("Error initializing listener: address already in use\n")
            raise RuntimeError(f"OpenBao dev server did not start; see {log}")
        self.events.append("start")
        try:
            yield {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "fake"}
        finally:
            self.events.append("stop")


# --- The runner ------------------------------------------------------------------------------


def test_the_first_failure_stops_the_run_and_later_steps_do_not_run(
    runner: Runner, tmp_path: Path
) -> None:
    later = tmp_path / "later-ran"
    execute(runner, [
        StepSpec("first", OK, hint=""),
        StepSpec("breaks", BOOM, hint="look at the boom"),
        StepSpec("later", _touch(later), hint=""),
        StepSpec("last", _touch(later), hint=""),
    ], vault=FakeVault())
    assert not later.exists(), "a step after the failure ran"
    assert _statuses(runner) == [("first", Status.OK), ("breaks", Status.FAILED),
                                 ("later", Status.NOT_RUN), ("last", Status.NOT_RUN)]
    assert runner.exit_code == 1
    assert runner.failed is not None and runner.failed.name == "breaks"
    assert "exit 3" in runner.failed.detail


def test_a_failure_prints_the_log_tail_and_the_steps_hint(runner: Runner) -> None:
    many = ("sh", "-c", "for i in $(seq -w 1 30); do echo line-$i; done; "
            "echo 'fatal: [db1]: FAILED!'; exit 2")
    execute(runner, [StepSpec("noisy", many, hint="rerun `thing --verbose`")],
            vault=FakeVault())
    printed = _output(runner)
    assert "line-30" in printed and "line-12" in printed
    assert "line-11" not in printed, "more than the last 20 lines were printed"
    assert "fatal: [db1]: FAILED!" in printed  # log lines are shown as they are, not as markup
    assert "hint: rerun `thing --verbose`" in printed
    assert "FAILED" in printed
    log = runner.steps[0].log
    assert log is not None and log.read_text().count("line-") == 30


def test_the_summary_names_the_broken_step_and_what_did_not_run(
    runner: Runner, tmp_path: Path
) -> None:
    execute(runner, [StepSpec("site.yml", BOOM, hint=""), StepSpec("audit", OK, hint=""),
                     StepSpec("policy check", OK, hint="")], vault=FakeVault())
    console = _console()
    console.print(demo.summary_table(runner.steps))
    console.print(demo.verdict_line(runner.steps, tmp_path))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in text.splitlines() if line.count("│") >= 4}
    assert rows["site.yml"] == "FAILED"
    assert rows["audit"] == rows["policy check"] == "not run"
    assert "demo failed at step 'site.yml'" in text
    assert "not run: audit, policy check" in text


def test_a_run_without_failures_exits_0(runner: Runner) -> None:
    shown: list[str] = []
    execute(runner, [StepSpec("a", OK, hint="", show=lambda: shown.append("a")),
                     StepSpec("b", OK, hint="")], vault=FakeVault())
    assert runner.exit_code == 0
    assert _statuses(runner) == [("a", Status.OK), ("b", Status.OK)]
    assert shown == ["a"]
    assert "fine" in runner.steps[0].detail  # the step's last line


def test_a_failed_step_shows_nothing(runner: Runner) -> None:
    shown: list[str] = []
    execute(runner, [StepSpec("a", BOOM, hint="", show=lambda: shown.append("a"))],
            vault=FakeVault())
    assert shown == []


def test_a_missing_program_is_a_failed_step_not_a_crash(runner: Runner) -> None:
    execute(runner, [StepSpec("gone", ("/nonexistent/rampart-tool",), hint="install it"),
                     StepSpec("after", OK, hint="")], vault=FakeVault())
    assert _statuses(runner) == [("gone", Status.FAILED), ("after", Status.NOT_RUN)]
    assert "/nonexistent/rampart-tool" in _output(runner)


def test_each_step_writes_its_own_numbered_log(runner: Runner) -> None:
    execute(runner, [StepSpec("lab up", OK, hint="", needs_lab=True),
                     StepSpec("secrets check", OK, hint=""),
                     StepSpec("render dev stack", OK, hint="")],
            vault=FakeVault(), with_hosts=False)
    # Skipped steps write no log: the first numbered log is the first step that ran.
    assert sorted(p.name for p in runner.logs.glob("[0-9][0-9]-*.log")) == [
        "01-secrets-check.log", "02-render-dev-stack.log"]


# --- The Vault dev server is cleanup ---------------------------------------------------------


def test_the_vault_dev_server_stops_when_a_step_inside_it_fails(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    vault = FakeVault()
    later = tmp_path / "later-ran"
    execute(runner, [
        StepSpec("lab up", OK, hint=""),
        StepSpec("secrets bootstrap", ("sh", "-c", 'test "$VAULT_TOKEN" = fake'), hint="",
                 needs_vault=True),
        StepSpec("secrets check", BOOM, hint="", needs_vault=True),
        StepSpec("render with Vault secrets", _touch(later), hint="", needs_vault=True),
        StepSpec("site.yml", _touch(later), hint=""),
    ], vault=vault)
    assert vault.events == ["start", "stop"]
    assert not later.exists()
    assert _statuses(runner) == [
        ("lab up", Status.OK), (demo.VAULT_STEP, Status.OK), ("secrets bootstrap", Status.OK),
        ("secrets check", Status.FAILED), ("render with Vault secrets", Status.NOT_RUN),
        ("site.yml", Status.NOT_RUN)]
    assert "Vault dev server stopped" in _output(runner)


def test_the_vault_dev_server_stops_after_its_last_step(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    vault = FakeVault()
    seen_by_next: list[list[str]] = []
    execute(runner, [
        StepSpec("secrets check", ("sh", "-c", 'test -n "$VAULT_ADDR"'), hint="",
                 needs_vault=True, show=lambda: seen_by_next.append(list(vault.events))),
        # Steps after the group neither see the dev server's address nor find it running.
        StepSpec("site.yml", ("sh", "-c", 'test -z "$VAULT_ADDR"'), hint="",
                 show=lambda: seen_by_next.append(list(vault.events))),
    ], vault=vault)
    assert runner.exit_code == 0, _output(runner)
    assert seen_by_next == [["start"], ["start", "stop"]]


def test_a_vault_that_does_not_start_is_a_failed_step_with_its_log(runner: Runner) -> None:
    execute(runner, [
        StepSpec("secrets bootstrap", OK, hint="", needs_vault=True),
        StepSpec("render dev stack", OK, hint=""),
    ], vault=FakeVault(fail=True))
    assert _statuses(runner) == [(demo.VAULT_STEP, Status.FAILED),
                                 ("secrets bootstrap", Status.NOT_RUN),
                                 ("render dev stack", Status.NOT_RUN)]
    printed = _output(runner)
    assert "address already in use" in printed  # the server's log tail
    assert "openbao.log" in printed and "hint:" in printed
    assert runner.exit_code == 1


def test_no_vault_starts_after_an_earlier_failure(runner: Runner) -> None:
    vault = FakeVault()
    execute(runner, [StepSpec("lab up", BOOM, hint=""),
                     StepSpec("secrets bootstrap", OK, hint="", needs_vault=True)], vault=vault)
    assert vault.events == []
    assert _statuses(runner) == [("lab up", Status.FAILED), (demo.VAULT_STEP, Status.NOT_RUN),
                                 ("secrets bootstrap", Status.NOT_RUN)]


def test_no_hosts_skips_the_lab_steps(runner: Runner, tmp_path: Path) -> None:
    ran = tmp_path / "lab-step-ran"
    execute(runner, [StepSpec("lab up", _touch(ran), hint="", needs_lab=True),
                     StepSpec("render dev stack", OK, hint="")],
            vault=FakeVault(), with_hosts=False)
    assert not ran.exists()
    assert _statuses(runner) == [("lab up", Status.SKIPPED), ("render dev stack", Status.OK)]
    assert runner.exit_code == 0


def test_every_demo_step_has_a_hint_and_none_runs_the_host_tier(tmp_path: Path) -> None:
    lab = _lab(tmp_path)
    steps = demo.demo_steps(_console(), tmp_path / "out", tmp_path, lab)
    names = [s.name for s in steps]
    assert names[:5] == ["lab up", "secrets bootstrap", "secrets check",
                         "render with Vault secrets", "site.yml"]
    assert {"audit", "reachability", "backup", "restore drill", "policy check"} <= set(names)
    assert all(s.hint for s in steps), [s.name for s in steps if not s.hint]
    assert not [s.name for s in steps
                if Path(s.argv[0]).name == "pytest" or "tests/hosts" in s.argv]
    hints = {s.name: s.hint for s in steps}
    assert "rampart lab status" in hints["lab up"] and str(lab.run_dir) in hints["lab up"]
    assert "ansible-playbook playbooks/site.yml" in hints["site.yml"]
    assert str(tmp_path / "out" / "policy.md") in hints["policy check"]


# --- What is slow on a fresh machine ---------------------------------------------------------


def _lab(tmp_path: Path) -> LabConfig:
    return make_lab("demotest", "demot0", "10.77.0.0/24", DEFAULT_HOSTS, tmp_path / "state",
                    cache_dir=tmp_path / "cache", run_base=tmp_path / "run")


def _notice(lab: LabConfig) -> str:
    console = _console()
    demo.print_slow_parts(console, demo.slow_parts(lab))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_fresh_cache_says_both_slow_parts_happen_now(tmp_path: Path) -> None:
    lab = _lab(tmp_path)
    parts = demo.slow_parts(lab)
    assert [p.now for p in parts] == [True, True]
    text = _notice(lab)
    assert "building the lab's base rootfs (~2-4 min on a fresh machine): yes" in text
    assert "the first converge downloads packages (~5 min): yes" in text
    assert str(lab.proxy_cache_dir) in text


def test_a_warm_cache_says_neither_happens(tmp_path: Path) -> None:
    lab = _lab(tmp_path)
    recipe = rootfs.default_recipe(proxy.DEFAULT_MIRROR, proxy.DEFAULT_SECURITY)
    base = rootfs.rootfs_path(lab.cache_dir, recipe)
    base.mkdir(parents=True)
    (base / ".rampart-complete").write_text("{}")
    pool = lab.proxy_cache_dir / "debrep" / "pool" / "main" / "c" / "curl"
    pool.mkdir(parents=True)
    (pool / "curl_7.88.1-10+deb12u8_amd64.deb").write_bytes(b"!<arch>")
    assert [p.now for p in demo.slow_parts(lab)] == [False, False]
    text = _notice(lab)
    assert "base rootfs (~2-4 min on a fresh machine): no" in text and str(base) in text
    assert "downloads packages (~5 min): no" in text and "holds 1 packages" in text


def test_a_half_built_rootfs_and_an_empty_proxy_cache_still_count_as_slow(
    tmp_path: Path
) -> None:
    lab = _lab(tmp_path)
    recipe = rootfs.default_recipe(proxy.DEFAULT_MIRROR, proxy.DEFAULT_SECURITY)
    rootfs.rootfs_path(lab.cache_dir, recipe).mkdir(parents=True)  # no completion marker
    (lab.proxy_cache_dir / "_xstore").mkdir(parents=True)  # the daemon's dirs, no package
    assert [p.now for p in demo.slow_parts(lab)] == [True, True]


# --- Reachability ----------------------------------------------------------------------------

# `ansible-inventory --list` of a lab-shaped inventory (children unresolved, as Ansible gives).
INVENTORY_LIST = {
    "_meta": {"hostvars": {
        "edge1": {"ansible_host": "192.0.2.11"},
        "app1": {"ansible_host": "192.0.2.12"},
        "db1": {"ansible_host": "192.0.2.13", "postgresql_port": 15432},
        "mon1": {"ansible_host": "192.0.2.14", "node_exporter_port": "{{ templated }}"},
    }},
    "all": {"children": ["ungrouped", "edge", "app", "db", "monitoring", "docker_hosts",
                         "secrets"]},
    "edge": {"hosts": ["edge1"]},
    "app": {"hosts": ["app1"]},
    "db": {"hosts": ["db1"]},
    "monitoring": {"hosts": ["mon1"]},
    "docker_hosts": {"children": ["edge", "app"]},
    "secrets": {"children": ["monitoring"]},
}
HOSTS = ["edge1", "app1", "db1", "mon1"]


@pytest.fixture
def inventory() -> Inventory:
    return reachability.parse_inventory(INVENTORY_LIST)


def _rule(service: str) -> reachability.Rule:
    return next(r for r in reachability.RULES if r.service == service)


def test_the_inventory_groups_resolve_their_children(inventory: Inventory) -> None:
    assert inventory.members("docker_hosts") == {"edge1", "app1"}
    assert inventory.members("secrets") == {"mon1"}
    assert inventory.members("all") == set(HOSTS)
    assert inventory.addresses["db1"] == "192.0.2.13"


@pytest.mark.parametrize(("service", "allowed"), [
    # (the same expectations as tests/hosts/test_reachability.py, plus the controller)
    ("ssh", {(CONTROLLER, t) for t in HOSTS}),
    ("postgresql", {("app1", "db1")}),
    ("node-exporter", {("mon1", t) for t in HOSTS if t != "mon1"}),
    ("https", {(s, "edge1") for s in [CONTROLLER, *HOSTS] if s != "edge1"}),
    ("prometheus", {(CONTROLLER, "mon1"), ("edge1", "mon1")}),  # Traefik routes to it
    ("gateway-standin", {("edge1", "app1")}),
    ("openbao", {(CONTROLLER, "mon1"), ("app1", "mon1")}),
])
def test_expectations_follow_the_groups(
    inventory: Inventory, service: str, allowed: set[tuple[str, str]]
) -> None:
    rule = _rule(service)
    admitted = {(s, t) for s in [CONTROLLER, *HOSTS] for t in HOSTS
                if s != t and reachability.expectation(rule, inventory, s, t) is not
                Expect.BLOCKED}
    assert admitted == allowed


def test_the_plan_skips_self_probes_and_expects_ssh_from_the_controller_only(
    inventory: Inventory
) -> None:
    probes = reachability.plan(inventory, [CONTROLLER, *HOSTS])
    assert not [p for p in probes if p.source == p.target]
    ssh = {(p.source, p.target): p.expect for p in probes if p.service == "ssh"}
    assert {k for k, v in ssh.items() if v is Expect.OPEN} == {(CONTROLLER, h) for h in HOSTS}
    assert {v for k, v in ssh.items() if k[0] != CONTROLLER} == {Expect.BLOCKED}
    assert len(ssh) == 4 + 4 * 3
    https = [p for p in probes if p.service == "https" and p.target == "edge1"]
    assert {p.expect for p in https} == {Expect.OPEN}  # Traefik listens there (role: traefik)


def test_the_inventory_moves_a_port_only_with_a_literal_value(inventory: Inventory) -> None:
    probes = reachability.plan(inventory, [CONTROLLER])
    ports = {(p.service, p.target): p.port for p in probes}
    assert ports[("postgresql", "db1")] == 15432
    assert ports[("postgresql", "app1")] == 5432
    assert ports[("node-exporter", "mon1")] == 9100  # a template is not a port


def test_probes_run_per_source_and_a_silent_source_is_an_error(inventory: Inventory) -> None:
    probes = reachability.plan(inventory, [CONTROLLER, "app1", "edge1"],
                               rules=[_rule("postgresql")])
    scripts: dict[str, str] = {}

    def run_on(host: str, script: str) -> tuple[int, str]:
        scripts[host] = script
        if host == "edge1":
            return 255, "ssh: connect to host 192.0.2.11 port 22: Connection timed out"
        lines = [f"{a} {p} {'open' if a == '192.0.2.13' else 'filtered'}"
                 for a, p in (("192.0.2.11", 5432), ("192.0.2.13", 15432),
                              ("192.0.2.14", 5432))]
        return 0, "\n".join(lines) + "\n"

    def local(address: str, port: int, seconds: float) -> tuple[Outcome, str]:
        return Outcome.FILTERED, ""

    matrix = reachability.probe(probes, run_on, local=local)
    assert set(scripts) == {"app1", "edge1"}
    assert "/dev/tcp/192.0.2.13/15432" in scripts["app1"]
    by = {(r.probe.source, r.probe.target): r for r in matrix.results}
    assert by[("app1", "db1")].outcome is Outcome.OPEN and by[("app1", "db1")].ok
    assert by[(CONTROLLER, "db1")].ok
    edge = by[("edge1", "db1")]
    assert edge.outcome is Outcome.ERROR and not edge.ok and "exit 255" in edge.detail
    assert [r.probe for r in matrix.results] == probes  # the plan's order


def test_a_rate_limited_admin_probe_is_tried_once_more_and_blocked_ones_are_not(
    inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after an ssh-audit burst the firewall's per-source SSH rate limit drops the
    controller's own probe: an expected-open probe gets one more try after a refill, an
    expected-blocked one is judged at once."""
    monkeypatch.setattr(reachability, "RATE_LIMIT_REFILL_SECONDS", 0)
    probes = reachability.plan(inventory, [CONTROLLER], rules=[_rule("ssh"), _rule("postgresql")])
    tries: dict[tuple[str, int], int] = {}

    def local(address: str, port: int, seconds: float) -> tuple[Outcome, str]:
        tries[(address, port)] = tries.get((address, port), 0) + 1
        return (Outcome.OPEN if port == 22 and tries[(address, port)] > 1
                else Outcome.FILTERED), ""

    matrix = reachability.probe(probes, lambda h, s: (0, ""), local=local)
    assert all(r.ok for r in matrix.results), [r.describe() for r in matrix.mismatches]
    assert {n for (_, port), n in tries.items() if port == 22} == {2}
    assert {n for (_, port), n in tries.items() if port != 22} == {1}


def test_the_probe_script_tells_open_from_closed(tmp_path: Path) -> None:
    # Loopback only: a listener of our own and a port nobody listens on.
    with socket.socket() as server, socket.socket() as spare:
        server.bind(("127.0.0.1", 0))
        server.listen()
        spare.bind(("127.0.0.1", 0))
        open_port, closed_port = server.getsockname()[1], spare.getsockname()[1]
        spare.close()
        script = reachability.probe_script([("127.0.0.1", open_port),
                                            ("127.0.0.1", closed_port)], seconds=2)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              timeout=30, check=False)
    seen = reachability.parse_probe_output(done.stdout)
    assert seen[("127.0.0.1", open_port)][0] is Outcome.OPEN, done.stdout
    assert seen[("127.0.0.1", closed_port)][0] is Outcome.CLOSED, done.stdout


def test_the_probe_output_parser_keeps_errors(tmp_path: Path) -> None:
    seen = reachability.parse_probe_output(
        "192.0.2.13 5432 filtered\n192.0.2.14 9100 error:1 No route to host\ngarbage\n")
    assert seen[("192.0.2.13", 5432)] == (Outcome.FILTERED, "")
    assert seen[("192.0.2.14", 9100)] == (Outcome.ERROR, "1 No route to host")
    with pytest.raises(reachability.LabError):
        reachability.probe_command("10.0.0.1; reboot", 22)


def _result(service: str, port: int, source: str, target: str, expect: Expect,
            outcome: Outcome) -> Result:
    address = {"edge1": "192.0.2.11", "db1": "192.0.2.13"}[target]
    return Result(Probe(service, port, source, target, address, expect), outcome)


def _table_text(matrix: Matrix) -> str:
    console = _console()
    console.print(reachability.matrix_table(matrix))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_matrix_flags_a_mismatch_with_what_was_expected() -> None:
    matrix = Matrix([
        _result("postgresql", 5432, "app1", "db1", Expect.OPEN, Outcome.OPEN),
        _result("postgresql", 5432, "edge1", "db1", Expect.BLOCKED, Outcome.OPEN),
        _result("postgresql", 5432, "app1", "edge1", Expect.BLOCKED, Outcome.FILTERED),
        _result("https", 443, "app1", "edge1", Expect.ADMITTED, Outcome.CLOSED),
    ])
    assert [r.probe.source for r in matrix.mismatches] == ["edge1"]
    text = _table_text(matrix)
    assert "1 mismatch)" in text
    assert "✗ everyone" in text and "expected app1" in text
    assert "(nothing listens)" in text  # admitted, closed, as expected for the edge
    assert "edge1 -> db1:5432 (postgresql): open, expected blocked" in \
        matrix.mismatches[0].describe()


def test_a_matching_matrix_has_no_mark_and_survives_json() -> None:
    matrix = Matrix([
        _result("postgresql", 5432, "app1", "db1", Expect.OPEN, Outcome.OPEN),
        _result("postgresql", 5432, "edge1", "db1", Expect.BLOCKED, Outcome.FILTERED),
    ])
    text = _table_text(matrix)
    assert "✗" not in text and "no mismatches" in text
    again = Matrix.from_json(json.loads(json.dumps(matrix.to_json())))
    assert again.results == matrix.results


def test_a_service_that_does_not_listen_is_a_mismatch_too() -> None:
    matrix = Matrix([_result("postgresql", 5432, "app1", "db1", Expect.OPEN, Outcome.CLOSED)])
    assert matrix.mismatches
    text = _table_text(matrix)
    assert "✗ app1" in text and "app1: closed" in text


def test_the_demo_refuses_an_out_dir_holding_files_it_did_not_write(tmp_path: Path) -> None:
    from infra.demo import run_demo

    theirs = tmp_path / "mine.txt"
    theirs.write_text("keep me")
    (tmp_path / "render").mkdir()
    assert run_demo(tmp_path, with_hosts=False) == 2
    assert theirs.read_text() == "keep me" and (tmp_path / "render").is_dir()
    assert not (tmp_path / "logs").exists(), "nothing written"


def test_the_kubernetes_steps_run_the_real_commands_and_show_the_counts(tmp_path: Path) -> None:
    """The demo's k8s-dev steps, as the demo runs them (no lab or Vault needed): the render
    writes the manifests and the summary table counts them by kind; the policy check of the
    same stack passes."""
    root = Path(__file__).resolve().parents[2]
    console = _console()
    steps = {s.name: s for s in demo.demo_steps(console, tmp_path / "out", root,
                                                _lab(tmp_path))}
    wanted = [steps["render k8s-dev manifests"], steps["policy check k8s-dev"]]
    logs = tmp_path / "logs"
    logs.mkdir()
    run = Runner(console, logs, cwd=root)
    execute(run, wanted, with_hosts=False)
    assert [(s.name, s.status) for s in run.steps] == [
        ("render k8s-dev manifests", Status.OK), ("policy check k8s-dev", Status.OK)]
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "k8s-dev:" in shown and "objects in 5 namespaces" in shown
    table = demo.kubernetes_table(tmp_path / "out" / "render-k8s" / "manifests")
    kinds = dict(zip(table.columns[0].cells, table.columns[1].cells, strict=True))
    assert int(kinds["Deployment"]) >= 20 and kinds["Cluster"] == "1"
    assert (tmp_path / "out" / "policy-k8s.md").is_file()
