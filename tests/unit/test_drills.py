"""The drill framework without a lab: bounds, runbook blocks, and the guarantee that a fault
is reverted when a step fails, an alert never comes, or a signal arrives."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.drills import engine
from infra.drills.catalog import drills
from infra.drills.engine import Ctx, Drill, Expect, Fix, Stage, bound, fix_env, run
from infra.drills.errors import DrillError, DrillInputError, DrillInterrupted
from infra.drills.monitor import Timing, route_group_waits
from infra.drills.runbook import mitigation_fixes, runbook_fix

pytestmark = pytest.mark.unit

THING = 'systemctl start thing --mount="$MOUNTPOINT"'  # the fix in PAGE
PAGE = """# Thing

## What fired
x

## Impact
y

## First diagnosis
```sh
true
```

## Mitigation
- Restart it:

<!-- drill: restart -->
```sh
# comment
systemctl start thing --mount="$MOUNTPOINT"
```

<!-- drill: power on=controller -->

```bash
rampart lab up
```

## Escalation
z
"""


def test_runbook_blocks_are_read_with_where_they_run() -> None:
    fixes = mitigation_fixes("Thing", PAGE)
    assert sorted(fixes) == ["power", "restart"]
    assert fixes["restart"].on == "host"
    assert fixes["restart"].script == f"# comment\n{THING}\n"
    assert fixes["power"].on == "controller"
    assert fixes["power"].script == "rampart lab up\n"
    assert fixes["restart"].where == "runbooks/Thing.md:17 (drill: restart)"


@pytest.mark.parametrize(
    "page,message",
    [
        (PAGE.replace("## Mitigation", "## Mitigations"), "outside the Mitigation section"),
        (PAGE.replace("drill: restart -->", "drill: Restart! -->"), "malformed drill marker"),
        (PAGE.replace("on=controller", "on=db1"), "on=db1"),
        (PAGE.replace("drill: power", "drill: restart"), "appears twice"),
        (PAGE.replace("```bash\nrampart", "rampart"), "must be followed by a ```sh fence"),
        (PAGE.replace(f"# comment\n{THING}\n", "# only a comment\n"),
         "has no command"),
        (PAGE[: PAGE.index("rampart lab up") + 15], "never closed"),
    ],
    ids=["outside", "malformed", "bad-place", "twice", "no-fence", "empty", "unclosed"],
)
def test_a_broken_drill_block_is_named(page: str, message: str) -> None:
    with pytest.raises(DrillInputError, match="runbooks/Thing.md:") as exc:
        mitigation_fixes("Thing", page)
    assert message in str(exc.value)


def test_a_missing_block_or_page_is_named(tmp_path: Path) -> None:
    (tmp_path / "Thing.md").write_text(PAGE)
    assert runbook_fix("Thing", "restart", tmp_path).key == "restart"
    with pytest.raises(DrillInputError, match=r"Thing.md has no drill block 'nope'.*"
                                              r"blocks: power, restart"):
        runbook_fix("Thing", "nope", tmp_path)
    with pytest.raises(DrillInputError, match="runbooks/Other.md: cannot read it"):
        runbook_fix("Other", "restart", tmp_path)


@pytest.mark.parametrize("drill", drills(), ids=lambda d: d.name)
def test_every_drill_fix_is_a_block_of_a_real_runbook(drill: Drill) -> None:
    for fix in drill.fixes:
        block = fix.block()
        assert block.script.strip(), block.where
    assert drill.fixes or drill.remedy is not engine._nothing, (
        f"{drill.name}: neither a runbook fix nor a remedy")


def test_drill_names_are_unique_and_the_fast_subset_is_the_ci_one() -> None:
    names = [d.name for d in drills()]
    assert len(names) == len(set(names))
    assert {d.name for d in drills() if d.fast} == {
        "node-exporter-stopped", "disk-filling", "postgres-stopped", "openbao-sealed",
        "time-sync-stopped"}


def test_group_wait_per_severity_route() -> None:
    route = {"group_wait": "30s", "routes": [
        {"matchers": ['severity="critical"'], "group_wait": "10s"},
        {"matchers": ['severity="warning"'], "group_wait": "1m"},
        {"match": {"severity": "info"}},
    ]}
    assert route_group_waits(route) == (30.0, {"critical": 10.0, "warning": 60.0, "info": 30.0})
    assert route_group_waits({}) == (30.0, {})


TIMING = Timing(
    scrape_interval=5, scrape_timeout=5, default_group_wait=30,
    severity_group_wait={"critical": 10, "warning": 60},
    rules={("Boom", "critical"): (20.0, 2.0), ("Boom", "warning"): (20.0, 2.0)},
    exprs={("Boom", "critical"): "x > 0.5", ("Boom", "warning"): "x > 0.4"},
)


def test_bound_is_scrape_for_evaluation_group_wait_delay_and_slack() -> None:
    b = bound(Expect("Boom", "critical", delay=lambda t: (7.0, "timer")), TIMING)
    assert (b.scrape, b.for_, b.evaluation, b.group_wait, b.extra) == (5, 20, 2, 10, 7)
    assert b.total == 5 + 20 + 2 + 10 + 7 + engine.SLACK_S
    assert bound(Expect("Boom", "warning"), TIMING).group_wait == 60
    # a metric expectation has no rule: one scrape plus the drill's delay
    assert bound(Expect("m", query="m > 0"), TIMING).total == 5 + engine.SLACK_S


def test_a_rule_prometheus_does_not_have_is_named() -> None:
    with pytest.raises(DrillError, match="no alerting rule Nope"):
        bound(Expect("Nope", "critical"), TIMING)


def test_labels_the_fix_reads_reach_it_as_upper_case_variables() -> None:
    script = 'df -h "$MOUNTPOINT"; echo "${INSTANCE}"'
    assert fix_env({"mountpoint": "/x", "instance": "h:9100", "bad-name": "y", "job": "node"},
                   script) == {"MOUNTPOINT": "/x", "INSTANCE": "h:9100"}


@pytest.mark.parametrize("value", ["-delete", "--help", "/x\n-delete", "/x\x00y", "a\rb"])
def test_a_label_value_a_command_would_take_as_an_option_never_reaches_the_fix(
    value: str,
) -> None:
    assert fix_env({"mountpoint": value}, 'find "$MOUNTPOINT"') == {}


@pytest.mark.parametrize("name", ["path", "Path", "ld_preload", "LD_LIBRARY_PATH", "bash_env",
                                  "env", "ifs", "pythonpath", "ansible_become_exe", "ssh_auth_sock",
                                  "vault_addr", "lc_all", "home", "shellopts", "ps4", "1abc",
                                  "_x", "ü", "a b", "a=b"])
def test_a_label_cannot_become_a_variable_that_changes_how_the_fix_runs(name: str) -> None:
    script = f'echo "${name.upper()}" "$MOUNTPOINT" "${{LD_PRELOAD}}" "$PGHOST"'
    assert fix_env({name: "/srv/evil.so", "mountpoint": "/x"}, script) == {"MOUNTPOINT": "/x"}


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=20), max_size=8))
def test_no_label_set_yields_a_reserved_or_malformed_variable(labels: dict[str, str]) -> None:
    script = " ".join(f"${k.upper()}" for k in labels)  # the worst case: it reads them all
    for name in fix_env(labels, script):
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert name not in {"PATH", "IFS", "ENV", "HOME", "SHELL", "BASH_ENV", "SHELLOPTS"}
        assert not name.startswith(("LD_", "BASH", "PYTHON", "ANSIBLE", "SSH", "VAULT_")), name


# ------------------------------------------------------------------- fake lab and monitor
class FakeMonitor:
    def __init__(self) -> None:
        self.firing: dict[str, dict[str, str]] = {}

    def timing(self) -> Timing:
        return TIMING

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [{"labels": labels, "status": {"state": "active"}}
                for alert, labels in self.firing.items() if alert == name]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return []


class FakeLab:
    def __init__(self, monitor: FakeMonitor) -> None:
        self.monitor = monitor
        self.calls: list[tuple[str, str]] = []

    def sh(self, host: str, script: str, timeout: float = 60) -> str:
        self.calls.append((host, script))
        if "systemctl start thing" in script:
            self.monitor.firing.clear()
        return ""

    def controller(self, script: str, env: Mapping[str, str], timeout: float = 600) -> str:
        self.calls.append(("controller", script))
        return ""

    def running(self, host: str) -> bool:
        return True

    def power_off(self, host: str) -> None:
        pass


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(engine, "POLL_S", 0.01)
    (tmp_path / "Boom.md").write_text(PAGE.replace("# Thing", "# Boom"))
    monkeypatch.setattr(engine, "runbook_fix",
                        lambda alert, key: runbook_fix(alert, key, tmp_path))
    return tmp_path


def _drill(act: Any, cleaned: list[str], fire_after: float | None = 0.0,
           verify: Any = engine._nothing) -> Drill:
    return Drill(
        name="boom", summary="", host="h1", fast=True,
        stages=(Stage("break it", act, (Expect("Boom", "critical", {"instance": "h1"}),)),),
        fixes=(Fix("Boom", "restart"),),
        cleanup=lambda ctx: cleaned.append("cleaned"),
        verify=verify,
        resolve_timeout=2,
    )


def _ctx(monitor: FakeMonitor) -> Ctx:
    return Ctx(FakeLab(monitor), monitor, log=lambda _m: None)  # type: ignore[arg-type]


def test_a_drill_measures_fixes_verifies_and_cleans_up(fast_polls: Path) -> None:
    monitor, cleaned = FakeMonitor(), []

    def act(ctx: Ctx) -> None:
        # the alert arrives a little later, from "Prometheus"
        threading.Timer(0.2, lambda: monitor.firing.update(
            {"Boom": {"alertname": "Boom", "severity": "critical", "instance": "h1",
                      "mountpoint": "/m"}})).start()

    ctx = _ctx(monitor)
    result = run(_drill(act, cleaned), ctx)
    assert result.passed, result.error
    assert cleaned == ["cleaned"]
    (arrival,) = result.arrivals
    assert 0.1 <= arrival.time_to_alert_s <= 2, arrival
    assert arrival.bound_s == 5 + 20 + 2 + 10 + engine.SLACK_S
    assert result.time_to_resolve_s is not None
    fix_script = [s for h, s in ctx.lab.calls if "systemctl start thing" in s][0]  # type: ignore[attr-defined]
    assert "MOUNTPOINT=/m; export MOUNTPOINT" in fix_script


def test_a_failing_step_still_cleans_up(fast_polls: Path) -> None:
    cleaned: list[str] = []

    def act(_ctx: Ctx) -> None:
        raise DrillError("the fault could not be injected")

    result = run(_drill(act, cleaned), _ctx(FakeMonitor()))
    assert not result.passed and result.error == "the fault could not be injected"
    assert cleaned == ["cleaned"]


def test_an_alert_that_never_comes_fails_and_cleans_up(fast_polls: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "LATE_FACTOR", 0.005)  # give up after ~0.2 s
    cleaned: list[str] = []
    result = run(_drill(lambda ctx: None, cleaned), _ctx(FakeMonitor()))
    assert not result.passed
    assert "Boom (critical) did not arrive" in result.error
    assert result.arrivals[0].time_to_alert_s is None
    assert cleaned == ["cleaned"]


def test_an_alert_already_active_is_refused_before_the_fault(
        fast_polls: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PRECONDITION_WAIT_S", 0.1)
    monitor, cleaned, acted = FakeMonitor(), [], []
    monitor.firing["Boom"] = {"alertname": "Boom", "severity": "critical", "instance": "h1"}
    result = run(_drill(lambda ctx: acted.append(1), cleaned), _ctx(monitor))
    assert "already active" in result.error and not acted
    assert cleaned == ["cleaned"]


def test_a_fix_that_does_not_fix_fails_the_drill(fast_polls: Path) -> None:
    monitor, cleaned = FakeMonitor(), []
    (fast_polls / "Boom.md").write_text(
        PAGE.replace("# Thing", "# Boom").replace(THING, "echo no-op"))

    def act(_ctx: Ctx) -> None:
        monitor.firing["Boom"] = {"alertname": "Boom", "severity": "critical", "instance": "h1"}

    result = run(_drill(act, cleaned), _ctx(monitor))
    assert not result.passed
    assert "did not resolve" in result.error and "runbooks/Boom.md" in result.error
    assert cleaned == ["cleaned"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_interrupts_the_wait_and_the_fault_is_reverted(
        fast_polls: Path, signum: int) -> None:
    cleaned: list[str] = []
    previous = signal.getsignal(signum)

    def act(_ctx: Ctx) -> None:  # the alert never comes: the drill waits until the signal
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signum)).start()

    with pytest.raises(DrillInterrupted, match=f"interrupted by {signal.Signals(signum).name}; "
                                               "the fault was reverted"):
        run(_drill(act, cleaned), _ctx(FakeMonitor()))
    assert cleaned == ["cleaned"]
    assert signal.getsignal(signum) is previous  # handlers restored


def test_a_signal_during_cleanup_does_not_cut_it_short(fast_polls: Path) -> None:
    steps: list[str] = []

    def cleanup(_ctx: Ctx) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        steps.append("cleanup finished")

    drill = Drill(name="boom", summary="", host="h1", fast=True,
                  stages=(Stage("x", lambda ctx: (_ for _ in ()).throw(DrillError("x")), ()),),
                  fixes=(Fix("Boom", "restart"),), cleanup=cleanup)
    with pytest.raises(DrillInterrupted, match="SIGTERM"):
        run(drill, _ctx(FakeMonitor()))
    assert steps == ["cleanup finished"]


def test_a_failing_cleanup_is_reported(fast_polls: Path) -> None:
    def cleanup(_ctx: Ctx) -> None:
        raise DrillError("umount: target is busy")

    monitor = FakeMonitor()

    def act(_ctx: Ctx) -> None:
        monitor.firing["Boom"] = {"alertname": "Boom", "severity": "critical", "instance": "h1"}

    drill = _drill(act, [])
    drill = Drill(**{**drill.__dict__, "cleanup": cleanup})
    result = run(drill, _ctx(monitor))
    assert not result.passed and "umount: target is busy" in result.cleanup_error


def test_a_fault_that_builds_up_is_timed_from_its_start(fast_polls: Path) -> None:
    monitor, cleaned = FakeMonitor(), []

    def attack(_ctx: Ctx) -> None:  # the alert comes while the act still runs
        monitor.firing["Boom"] = {"alertname": "Boom", "severity": "critical", "instance": "h1"}
        time.sleep(0.3)
        threading.Timer(0.1, monitor.firing.clear).start()

    drill = _drill(attack, cleaned)
    stage = drill.stages[0]
    timed = Drill(**{**drill.__dict__, "stages": (Stage(stage.name, attack, stage.expects,
                                                        timed_from_start=True),)})
    result = run(timed, _ctx(monitor))
    assert result.arrivals[0].time_to_alert_s is not None
    assert result.arrivals[0].time_to_alert_s >= 0.3


# ------------------------------------------------------------------------------- the CLI
def test_cli_refuses_bad_input_before_touching_anything() -> None:
    from typer.testing import CliRunner

    from infra.cli.main import app

    runner = CliRunner()
    unknown = runner.invoke(app, ["drill", "run", "no-such-drill"])
    assert unknown.exit_code == 2
    assert "no drill named 'no-such-drill'" in unknown.output
    both = runner.invoke(app, ["drill", "run", "disk-filling", "--all"])
    assert both.exit_code == 2 and "exactly one of them" in both.output
    timeout = runner.invoke(app, ["drill", "run", "--fast", "--timeout", "0"])
    assert timeout.exit_code == 2 and "--timeout must be positive" in timeout.output
    listed = runner.invoke(app, ["drill", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    for drill in drills():
        assert drill.name in listed.output


def test_an_alert_prometheus_resolved_no_longer_counts() -> None:
    from datetime import UTC, datetime

    from infra.drills.monitor import _ended

    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert _ended("2026-12-05T09:59:59.5Z", now)
    assert not _ended("2026-12-05T10:04:00Z", now)  # a firing alert's end lies ahead
    assert not _ended("", now)


def test_drill_delays_read_the_roles_and_the_rules() -> None:
    from infra.drills.catalog import _span, _threshold

    assert (_span("10s"), _span("15"), _span("1min"), _span("5m")) == (10, 15, 60, 300)
    with pytest.raises(DrillInputError, match="time span"):
        _span("weekly")
    assert _threshold('pgbackrest_wal_archive_lag_seconds{x="1"} > 20', "W") == 20
    with pytest.raises(DrillInputError, match="no threshold"):
        _threshold("up == 0", "TargetDown")
