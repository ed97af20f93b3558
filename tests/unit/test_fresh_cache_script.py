"""scripts/with-fresh-cache.sh (behind .ci/run and make fresh-check): the command runs with an
empty, reachable RAMPART_CACHE_DIR that is removed afterwards, its exit status is kept, and a
command that never used the cache leaves the machine's lab alone."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "with-fresh-cache.sh"


def _run(tmp_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("RAMPART_CACHE_DIR", None)
    return subprocess.run(["bash", str(SCRIPT), "bash", "-c", command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_command_gets_an_empty_reachable_cache_that_is_removed_after(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    done = _run(tmp_path, f'echo "$RAMPART_CACHE_DIR" > {seen}; ls -A "$RAMPART_CACHE_DIR" '
                          f'>> {seen}; stat -c %a "$RAMPART_CACHE_DIR" >> {seen}')
    assert done.returncode == 0, done.stderr
    cache, *rest = seen.read_text().splitlines()
    assert Path(cache).parent == tmp_path and rest == ["755"], "new, empty, mode 0755"
    assert not Path(cache).exists(), "the cache is removed afterwards"
    assert "lab rampart down" not in done.stdout, "no lab used this cache: none is taken down"


@pytest.mark.parametrize("code", [1, 3])
def test_the_commands_exit_status_is_kept(tmp_path: Path, code: int) -> None:
    done = _run(tmp_path, f"exit {code}")
    assert done.returncode == code
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("rampart-cache.")]


def test_without_a_command_it_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT)], cwd=REPO, capture_output=True, text=True,
                          check=False, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 2 and "usage" in done.stderr
    assert SCRIPT.stat().st_mode & stat.S_IXUSR, "the script is executable (.ci/run execs it)"
