"""The checked-out commit and how far another commit is from it (read-only git calls)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

_TIMEOUT = 30


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def toplevel(start: Path) -> Path:
    """The checkout holding `start` (or `start` itself outside one)."""
    found = _git(start, "rev-parse", "--show-toplevel")
    return Path(found) if found else start


def head(root: Path) -> tuple[str, bool]:
    """(commit, dirty): "unknown" outside a git checkout. Dirty ignores untracked files."""
    commit = _git(root, "rev-parse", "--verify", "HEAD") or "unknown"
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)


@functools.lru_cache(maxsize=256)
def difference(root: Path, recorded: str, current: str) -> str:
    """How the commit a record was made at differs from the checked-out one, in words."""
    if recorded == "unknown":
        return "recorded outside a git checkout (commit unknown)"
    short = f"{recorded[:10]} -> {current[:10]}"
    if _git(root, "cat-file", "-e", f"{recorded}^{{commit}}") is None:
        return f"recorded at {recorded[:10]}, a commit this checkout does not have"
    ahead = _git(root, "rev-list", "--count", f"{recorded}..{current}")
    behind = _git(root, "rev-list", "--count", f"{current}..{recorded}")
    files = _git(root, "diff", "--name-only", recorded, current)
    changed = [f for f in (files or "").splitlines() if f]
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                      else "")
    parts = [f"{ahead or '?'} commit(s) newer"] + ([f"{behind} not in HEAD"] if behind and
                                                   behind != "0" else [])
    return f"{short}: {', '.join(parts)}; {len(changed)} file(s) changed" + (
        f" ({shown})" if changed else "")
