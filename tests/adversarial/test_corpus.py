"""Every generated case through every command that reads its input, in process.

One reported test per (case, command): `<class>-<variant>-<command>`. A refusal (exit 2)
must be one line on stderr naming the file and the service/field/key, with no traceback,
nothing on stdout, not a single file created or changed anywhere in the case's arena (no
partial output, the --out untouched or not created), no resource declared by the program,
Vault never contacted, and no canary in any output, log or file. A bad waiver is the pack's
to judge (exit 1, see harness.check_waiver_report). Cases that currently fail because of a
product bug are marked xfail(strict=True) with the bug named in the reason (see the report
in tests/adversarial/test_found_bugs.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import corpus as c
from . import harness as h

pytestmark = pytest.mark.unit


def _params() -> list[object]:
    params = []
    for case in c.corpus():
        for command in case.commands:
            marks = []
            if command in case.bugs:
                marks.append(pytest.mark.xfail(strict=True, reason=case.bugs[command]))
            params.append(pytest.param(case, command, id=f"{case.id}-{command}", marks=marks))
    return params


@pytest.mark.parametrize(("case", "command"), _params())
def test_refused(case: c.Case, command: str, tmp_path: Path, template: Path,
                 vault: h.VaultListener, own_files: dict[str, list[str]], run_in_process,
                 recordings) -> None:
    arena = h.make_arena(template, tmp_path / "arena", case, vault)
    fragments = case.fragments
    if case.out is not None:
        out, named = h.prepare_out(arena, case, command, own_files)
        fragments = ((named,),)
    else:
        out = h.default_out(arena, command)
    before = h.snapshot(arena.root)
    out_existed = out is not None and os.path.lexists(out)
    contacts = vault.connections

    outcome = run_in_process(arena, h.argv(command, case.stack_name, out),
                             h.environment(arena, vault))

    after = h.snapshot(arena.root)
    canaries = h.canaries_of(case)
    shown = h.leaks(outcome.stdout + outcome.stderr, canaries)
    logged = h.leaks(outcome.logs, canaries)
    written = h.leaked_files(arena.root, before, after, canaries)
    # the worst first: Vault reached, a secret shown, logged or written anywhere
    assert vault.connections == contacts, f"{case.id} [{command}]: Vault was contacted"
    assert not shown, f"{case.id} [{command}]: canary printed: {outcome.stdout + outcome.stderr}"
    assert not logged, f"{case.id} [{command}]: canary logged"
    assert not written, f"{case.id} [{command}]: canary written to {written}"
    if case.waiver is not None:
        h.check_waiver_report(case, outcome)
    else:
        h.check_refusal(case, command, outcome, fragments)
    assert h.changes(before, after) == [], \
        f"{case.id} [{command}]: the run changed the arena (partial output?)"
    if case.waiver is None:
        if out is not None and not out_existed:
            assert not os.path.lexists(out), f"{case.id} [{command}]: {out} was created"
        if case.out is None:
            assert all(len(r) == 0 for r in recordings), \
                f"{case.id} [{command}]: the program declared resources before refusing"
