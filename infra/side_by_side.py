"""Commands run side by side, their output in turn: `make test` (scripts/test_tiers.py) and
`make readiness-ci` (scripts/readiness_ci.py) run pytest sessions this way.

One command may stream its output live (the long one: a person, or CI's log, sees progress);
the others write to a log each, printed in full when every command has ended, so no two
outputs interleave. An interrupt (Ctrl-C, or SIGTERM from a CI timeout) reaches every command
as SIGINT, pytest's own interrupt: its fixtures tear down what they started (servers, the lab).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

GRACE_S = 120.0  # after an interrupt, how long a command may tear down before it is killed


def combined(codes: Mapping[str, int]) -> int:
    """pytest's exit statuses, combined: a code other than 0/1 (a session that could not run
    properly, or was interrupted) wins, else 1 when a test failed in any, else 0."""
    broken = [code for code in codes.values() if code not in (0, 1)]
    return broken[0] if broken else max(codes.values(), default=0)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C. And SIGINT is not ignored while the commands run: a
    process started in the background by a non-interactive shell (`cmd &`, nohup) inherits
    SIGINT ignored, its children would too (an ignored signal stays ignored across exec), and
    the interrupt sent to them would do nothing until the grace period's kill."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + GRACE_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(commands: Mapping[str, Sequence[str]], *, live: str | None = None,
        label: str = "side_by_side") -> dict[str, int]:
    """Start every command at once; the exit status of each, by name.

    `live` names the command whose output goes straight to this process's stdout."""
    if live is not None and live not in commands:
        raise ValueError(f"{label}: no command named {live!r} to stream")
    logged = [name for name in commands if name != live]
    print(f"{label}: running {' and '.join(commands)} side by side"
          + (f"; the output of {', '.join(logged)} follows when all are done" if logged else ""),
          flush=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    codes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix=f"{label}-") as tmp, _sigterm_as_interrupt():
        logs = {name: (Path(tmp) / f"{index}.log").open("w+b")
                for index, name in enumerate(logged)}
        try:
            for name, argv in commands.items():
                out = None if name == live else logs[name]
                procs[name] = subprocess.Popen(  # noqa: S603 - the caller's own commands
                    list(argv), stdout=out, stderr=None if out is None else subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)
            for name, proc in procs.items():
                codes[name] = proc.wait()
        except BaseException as exc:  # an interrupt, or a command that could not start
            _stop(list(procs.values()))
            codes = {name: proc.returncode for name, proc in procs.items()}
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{exc}"
            print(f"{label}: {why}; every command stopped", file=sys.stderr, flush=True)
            raise
        finally:
            sys.stdout.flush()
            for name in logged:
                log = logs[name]
                log.seek(0)
                print(f"--- {label}: {name} (exit {codes.get(name, 'none')}) ---", flush=True)
                sys.stdout.buffer.write(log.read())
                sys.stdout.flush()
                log.close()
    print(f"{label}: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()),
          flush=True)
    return codes
