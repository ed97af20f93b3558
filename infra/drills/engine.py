"""How a drill runs: inject a fault, wait for its alerts in Alertmanager within their
bound, apply the runbook's fix, wait for the alerts to resolve, check nothing was lost, and
revert the fault in every case — also on SIGINT/SIGTERM and when any step fails.

The bound of an expected alert is what the pipeline may take by its live settings:

    scrape interval + the rule's `for` + evaluation interval + Alertmanager's group_wait
    + the drill's own delay (a textfile refreshed by a timer, a windowed rate to climb)
    + SLACK_S

measured from the moment the fault is in place. Alertmanager's API lists an alert as soon
as Prometheus sends it; group_wait delays only the notification, so it is margin here.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any, Protocol

from infra.drills.errors import DrillError, DrillInterrupted
from infra.drills.monitor import Monitor, Timing, matches
from infra.drills.runbook import RunbookFix, runbook_fix

# One SSH round trip to put the fault in place and see it (<= 1 s in the lab), the drill's
# poll interval (0.5 s), Prometheus' asynchronous send to Alertmanager and the rounding of
# evaluation timestamps to the group's interval.
SLACK_S = 5.0
POLL_S = 0.5
# An alert later than its bound is reported late (a failure) if it arrives within this
# many bounds; the wait gives up after that.
LATE_FACTOR = 2.0
# How long an expected alert that is active before the fault may take to clear.
PRECONDITION_WAIT_S = 90.0


class Lab(Protocol):
    """What a drill needs of the lab (infra/drills/lab.py; a fake one in the unit tests)."""

    def sh(self, host: str, script: str, timeout: float = 60) -> str: ...

    def controller(self, script: str, env: Mapping[str, str], timeout: float = 600) -> str: ...

    def running(self, host: str) -> bool: ...

    def power_off(self, host: str) -> None: ...


@dataclass
class Ctx:
    lab: Lab
    monitor: Monitor
    log: Callable[[str], None] = print
    # Whatever a drill keeps between its steps (baseline figures, the fault's details).
    state: dict[str, Any] = field(default_factory=dict)


# A step's return value is ignored (a lambda around `lab.sh` returns its output).
Step = Callable[[Ctx], object]


def _nothing(_ctx: Ctx) -> None:
    pass


@dataclass(frozen=True)
class Expect:
    """An alert Alertmanager must hold, or (query) a PromQL expression that must return
    something, once the stage's fault is in place."""

    alert: str
    severity: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    # The drill's own delay on top of the pipeline: (seconds, why), from the live timing.
    delay: Callable[[Timing], tuple[float, str]] = lambda _t: (0.0, "")
    query: str = ""  # set: a metric expectation, no alert (alert is then its name)

    def wanted(self) -> dict[str, str]:
        labels = {"alertname": self.alert, **self.labels}
        if self.severity:
            labels["severity"] = self.severity
        return labels


@dataclass(frozen=True)
class Stage:
    name: str
    act: Step
    expects: tuple[Expect, ...]
    # Measure from the start of `act` (a fault that builds up while it runs, as an attack's
    # failed logins do) instead of from its end (the fault in place).
    timed_from_start: bool = False


@dataclass(frozen=True)
class Fix:
    """A runbook block that repairs (part of) the fault; it gets the labels of the alert
    it belongs to (its page's alert) as environment variables."""

    alert: str
    key: str

    def block(self) -> RunbookFix:
        return runbook_fix(self.alert, self.key)


@dataclass(frozen=True)
class Drill:
    name: str
    summary: str
    host: str
    fast: bool  # in the default `make test` subset
    stages: tuple[Stage, ...]
    # The runbook blocks that repair the fault, run in this order. Empty only when no alert
    # and no runbook exist for the fault: then `remedy` is what an admin does (lift a ban).
    fixes: tuple[Fix, ...]
    cleanup: Step  # idempotent: reverts the fault whatever state it is in
    prepare: Step = _nothing  # preconditions and the baseline "nothing lost" compares with
    during: Step = _nothing  # while the alerts are active, before the fix (other symptoms)
    remedy: Step = _nothing
    verify: Step = _nothing  # after the fix: nothing lost
    resolve_timeout: float = 180.0
    notes: str = ""

    def expects(self) -> list[Expect]:
        return [e for s in self.stages for e in s.expects]


@dataclass(frozen=True)
class Bound:
    scrape: float
    for_: float
    evaluation: float
    group_wait: float
    extra: float
    extra_why: str
    slack: float = SLACK_S

    @property
    def total(self) -> float:
        return self.scrape + self.for_ + self.evaluation + self.group_wait + self.extra + \
            self.slack


def bound(expect: Expect, timing: Timing) -> Bound:
    extra, why = expect.delay(timing)
    if expect.query:  # no rule: the metric is in Prometheus after a scrape
        return Bound(timing.scrape_interval, 0.0, 0.0, 0.0, extra, why)
    for_, evaluation = timing.rule(expect.alert, expect.severity)
    return Bound(timing.scrape_interval, for_, evaluation, timing.group_wait(expect.severity),
                 extra, why)


@dataclass
class Arrival:
    alert: str
    severity: str
    labels: dict[str, str]
    stage: str
    time_to_alert_s: float | None
    bound_s: float
    bound: dict[str, Any]

    @property
    def within_bound(self) -> bool:
        return self.time_to_alert_s is not None and self.time_to_alert_s <= self.bound_s


@dataclass
class DrillResult:
    drill: str
    host: str
    started_at: str
    arrivals: list[Arrival] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    time_to_resolve_s: float | None = None
    passed: bool = False
    error: str = ""
    cleanup_error: str = ""
    seconds: float = 0.0
    exit_code: int = 0  # the failure's (infra/drills/errors.py): 1 failed, 3 unavailable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------- signals
@contextlib.contextmanager
def interruptible(pending: list[str]) -> Iterator[None]:
    """SIGINT/SIGTERM raise DrillInterrupted inside the block (so `finally` reverts the
    fault); outside the main thread signals cannot be caught and are left alone."""

    def raise_(signum: int, _frame: FrameType | None) -> None:
        pending.append(signal.Signals(signum).name)
        raise DrillInterrupted(f"interrupted by {signal.Signals(signum).name}")

    with _handlers(raise_):
        yield


@contextlib.contextmanager
def deferred(pending: list[str]) -> Iterator[None]:
    """While reverting, a signal is recorded, not obeyed: the cleanup runs to its end."""

    def note(signum: int, _frame: FrameType | None) -> None:
        pending.append(signal.Signals(signum).name)

    with _handlers(note):
        yield


@contextlib.contextmanager
def _handlers(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    old: dict[signal.Signals, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


# ------------------------------------------------------------------------- running
def _present(ctx: Ctx, expect: Expect) -> dict[str, str] | None:
    """The labels of a matching alert (or series) if it is there now."""
    if expect.query:
        found = ctx.monitor.query(expect.query)
        return dict(found[0]["metric"]) if found else None
    for alert in ctx.monitor.alerts(expect.alert):
        if matches(alert.get("labels", {}), expect.wanted()):
            return dict(alert["labels"])
    return None


def _wait_arrival(ctx: Ctx, expect: Expect, stage: str, since: float, b: Bound,
                  deadline: float) -> Arrival:
    give_up = min(deadline, since + LATE_FACTOR * b.total)
    arrival = Arrival(expect.alert, expect.severity, {}, stage, None, round(b.total, 1),
                      asdict(b))
    while True:
        labels = _present(ctx, expect)
        now = time.monotonic()
        if labels is not None:
            arrival.labels = labels
            arrival.time_to_alert_s = round(now - since, 1)
            return arrival
        if now >= give_up:
            return arrival
        time.sleep(POLL_S)


def _wait_resolved(ctx: Ctx, expects: list[Expect], since: float, limit: float) -> float | None:
    while True:
        now = time.monotonic()
        if all(_present(ctx, e) is None for e in expects):
            return round(now - since, 1)
        if now >= limit:
            return None
        time.sleep(POLL_S)


def run(drill: Drill, ctx: Ctx, timeout: float = 900.0) -> DrillResult:
    """One drill, start to clean end. Never raises for a failed drill (the result says why);
    raises DrillInterrupted after cleaning up when a signal arrived."""
    result = DrillResult(drill.name, drill.host, datetime.now(UTC).isoformat(timespec="seconds"))
    ctx.state.clear()  # one drill's baseline never leaks into the next
    t_start = time.monotonic()
    deadline = t_start + timeout
    pending: list[str] = []
    # A runbook without its block fails here, before anything is touched.
    fixes = [f.block() for f in drill.fixes]
    result.fixes = [f.where for f in fixes]
    try:
        with interruptible(pending):
            _run_steps(drill, ctx, fixes, result, deadline)
            result.passed = True
    except DrillInterrupted as exc:
        result.error = str(exc)
    except DrillError as exc:
        result.error = str(exc)
        result.exit_code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - any failure must still reach the cleanup
        result.error = f"{type(exc).__name__}: {exc}"
        result.exit_code = DrillError.exit_code
    finally:
        with deferred(pending):
            try:
                drill.cleanup(ctx)
            except Exception as exc:  # noqa: BLE001 - reported, never hidden
                result.cleanup_error = f"{type(exc).__name__}: {exc}"
                result.passed = False
                result.exit_code = result.exit_code or DrillError.exit_code
        result.seconds = round(time.monotonic() - t_start, 1)
    if pending:
        state = (f"its cleanup failed: {result.cleanup_error}" if result.cleanup_error
                 else "the fault was reverted")
        raise DrillInterrupted(f"drill {drill.name} interrupted by {pending[0]}; {state}")
    return result


def _run_steps(drill: Drill, ctx: Ctx, fixes: list[RunbookFix], result: DrillResult,
               deadline: float) -> None:
    timing = ctx.monitor.timing()
    bounds = {id(e): bound(e, timing) for e in drill.expects()}
    # An alert still resolving (an earlier drill, a load spike) gets a moment to clear.
    clear_by = time.monotonic() + PRECONDITION_WAIT_S
    while already := [e.alert for e in drill.expects() if _present(ctx, e) is not None]:
        if time.monotonic() >= clear_by:
            raise DrillError(f"{', '.join(already)} already active for {drill.host} before "
                             f"the fault (still after {PRECONDITION_WAIT_S:g} s): nothing "
                             "could be measured")
        time.sleep(POLL_S)
    drill.prepare(ctx)
    for stage in drill.stages:
        ctx.log(f"{drill.name}: {stage.name}")
        started = time.monotonic()
        stage.act(ctx)
        since = started if stage.timed_from_start else time.monotonic()
        for expect in stage.expects:
            arrival = _wait_arrival(ctx, expect, stage.name, since, bounds[id(expect)],
                                    deadline)
            result.arrivals.append(arrival)
            what = f"{expect.alert}{f' ({expect.severity})' if expect.severity else ''}"
            if arrival.time_to_alert_s is None:
                raise DrillError(f"{what} did not arrive within {LATE_FACTOR:g} x its bound "
                                 f"({arrival.bound_s} s) after {stage.name}")
            ctx.log(f"  {what}: {arrival.time_to_alert_s} s (bound {arrival.bound_s} s)")
            if not arrival.within_bound:
                raise DrillError(f"{what} arrived after {arrival.time_to_alert_s} s, beyond its "
                                 f"bound of {arrival.bound_s} s")
    drill.during(ctx)
    for fix in fixes:
        labels = next((a.labels for a in result.arrivals if a.alert == fix.alert), {})
        ctx.log(f"{drill.name}: fixing with {fix.where}")
        _apply(ctx, drill, fix, labels)
    if not fixes:
        ctx.log(f"{drill.name}: no alert, no runbook: the remedy an admin applies")
        drill.remedy(ctx)
    fixed = time.monotonic()
    resolved = _wait_resolved(ctx, drill.expects(), fixed,
                              min(deadline, fixed + drill.resolve_timeout))
    if resolved is None:
        how = ", ".join(f.where for f in fixes) or "the remedy"
        raise DrillError(f"the alerts did not resolve within {drill.resolve_timeout:g} s of "
                         f"the fix ({how}): it does not repair the fault")
    result.time_to_resolve_s = resolved
    ctx.log(f"{drill.name}: resolved {resolved} s after the fix; checking nothing was lost")
    drill.verify(ctx)


# Label names are data from the monitored hosts (a textfile metric can carry any label): none
# may become a variable that changes how the shell, the dynamic loader, Python, Ansible, SSH
# or the Vault client behave for the root commands of the fix.
_RESERVED_ENV = frozenset({"PATH", "IFS", "ENV", "HOME", "SHELL", "SHELLOPTS", "BASHOPTS",
                           "CDPATH", "PS4", "TMPDIR", "USER", "LOGNAME", "LANG", "TERM", "PWD",
                           "OLDPWD", "GLOBIGNORE", "POSIXLY_CORRECT", "SUDO_ASKPASS"})
_RESERVED_PREFIXES = ("LD_", "BASH", "PYTHON", "ANSIBLE", "SSH", "VAULT_", "BAO_", "LC_",
                      "RAMPART", "GIT_", "PERL", "RUBY", "NODE_", "OPENSSL", "GCONV", "MALLOC")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


_REFERENCE = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def fix_env(labels: Mapping[str, str], script: str) -> dict[str, str]:
    """The alert's labels the fix's script reads ($MOUNTPOINT, ${STANZA}, ...) as its
    environment variables, and no others; a reserved name, a value that a command would read
    as an option (leading "-") or one with control characters is left out (the script, run
    with `set -u`, then stops on the unset variable instead of acting on it)."""
    wanted = set(_REFERENCE.findall(script))
    env = {}
    for key, value in labels.items():
        name = key.upper()
        if (name in wanted and _ENV_NAME.fullmatch(name) and name not in _RESERVED_ENV
                and not name.startswith(_RESERVED_PREFIXES)
                and not value.startswith("-") and not _CONTROL.search(value)):
            env[name] = value
    return env


def _apply(ctx: Ctx, drill: Drill, fix: RunbookFix, labels: Mapping[str, str]) -> None:
    env = fix_env(labels, fix.script)
    if fix.on == "controller":
        ctx.lab.controller(fix.script, env)
    else:
        exports = "".join(f"{k}={shlex.quote(v)}; export {k}\n" for k, v in sorted(env.items()))
        ctx.lab.sh(drill.host, f"set -eu\n{exports}{fix.script}")
