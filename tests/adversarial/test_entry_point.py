"""A handful of corpus cases through the real entry point (`.venv/bin/rampart`, a new process
in the case's project directory): the contract holds outside typer's CliRunner too (Rich's
traceback handler, real stdout/stderr, exit status of the process).

One case per class (its first generated variant without a known bug), with the commands
rotated over the classes so each of the four commands is exercised (`secrets check` twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import corpus as c
from . import harness as h

pytestmark = pytest.mark.unit

RAMPART = Path(sys.executable).parent / "rampart"


def _picks() -> list[object]:
    params = []
    turn = len(c.ALL_COMMANDS) - 1  # start with `secrets`, the one command in-process tests
    for cls in c.GENERATORS:        # reach least often
        case = next(k for k in c.corpus() if k.cls == cls and not k.bugs
                    and "\x00" not in k.stack_name)
        # the next command in the rotation that reads this class's input
        while c.ALL_COMMANDS[turn % len(c.ALL_COMMANDS)] not in case.commands:
            turn += 1
        command = c.ALL_COMMANDS[turn % len(c.ALL_COMMANDS)]
        turn += 1
        params.append(pytest.param(case, command, id=f"{case.id}-{command}"))
        if cls == "bad-stack-file" and command != c.SECRETS:
            params.append(pytest.param(case, c.SECRETS, id=f"{case.id}-{c.SECRETS}"))
    return params


def run_process(arena: h.Arena, args: list[str], vault: h.VaultListener) -> h.Outcome:
    env = {key: value for key, value in h.environment(arena, vault).items() if value}
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8",
               PYTHONDONTWRITEBYTECODE="1", COLUMNS="120")
    done = subprocess.run([str(RAMPART), *args], cwd=arena.project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return h.Outcome(done.returncode, done.stdout, done.stderr)


@pytest.mark.skipif(not RAMPART.is_file(), reason="no rampart entry point next to python")
@pytest.mark.parametrize(("case", "command"), _picks())
def test_refused_by_the_real_entry_point(case: c.Case, command: str, tmp_path: Path,
                                         template: Path, vault: h.VaultListener,
                                         own_files: dict[str, list[str]]) -> None:
    arena = h.make_arena(template, tmp_path / "arena", case, vault)
    fragments = case.fragments
    if case.out is not None:
        out, named = h.prepare_out(arena, case, command, own_files)
        fragments = ((named,),)
    else:
        out = h.default_out(arena, command)
    before = h.snapshot(arena.root)
    contacts = vault.connections

    outcome = run_process(arena, h.argv(command, case.stack_name, out), vault)

    after = h.snapshot(arena.root)
    canaries = h.canaries_of(case)
    assert vault.connections == contacts, f"{case.id} [{command}]: Vault was contacted"
    if case.waiver is not None:
        h.check_waiver_report(case, outcome)
    else:
        h.check_refusal(case, command, outcome, fragments)
        assert h.changes(before, after) == []
    assert not h.leaks(outcome.stdout + outcome.stderr, canaries), outcome.stderr
    assert not h.leaked_files(arena.root, before, after, canaries)
