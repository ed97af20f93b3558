"""`make test`: every test tier, the lab's and the lab-free ones side by side.

    .venv/bin/python scripts/test_tiers.py [PYTEST-ARG...]

Two pytest sessions at once over tests/ (pyproject.toml's configuration):

- the lab tiers (`-m "hosts or drills"`: tests/hosts/, tests/drills/), output live. They spend
  most of their time waiting: on converges over SSH, on scrape intervals and alert `for`s;
- the lab-free tiers (`-m "not hosts and not drills"`: unit, integration, edge, k8s, pack,
  readiness, adversarial), CPU-bound; their output follows when both are done.

The two marker expressions are complements: every collected test runs in exactly one session
(tests/unit/test_test_tiers.py). No lab-free test touches the lab, so they cannot disturb it.
Each session writes its own evidence file when RAMPART_EVIDENCE_DIR is set (make test sets it).
PYTEST-ARGs go to both sessions. Exit as pytest's, combined: a session's code other than 0/1
wins, else 1 when a test failed in either, else 0; a session with no test to run (PYTEST-ARGs
selecting only the other's) counts for nothing, and 5 when neither has one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from infra import side_by_side  # the venv's editable install (make setup)

LAB = "hosts or drills"
LAB_FREE = "not hosts and not drills"
NO_TESTS = 5  # pytest's "no tests collected"


def sessions(args: Sequence[str]) -> dict[str, list[str]]:
    pytest = [sys.executable, "-m", "pytest"]
    return {"lab tiers": [*pytest, "-m", LAB, *args],
            "lab-free tiers": [*pytest, "-m", LAB_FREE, *args]}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a == "-m" or a.startswith("-m") and not a.startswith("--") for a in args):
        print("test_tiers: -m is set here (the two sessions' markers); run pytest itself to "
              "select by marker", file=sys.stderr)
        return 4  # pytest's usage error
    try:
        codes = side_by_side.run(sessions(args), live="lab tiers", label="test_tiers")
    except KeyboardInterrupt:
        return 2  # pytest's "interrupted"
    # A selection (a path given) can leave one session nothing to run: that is not a failure.
    ran = {name: code for name, code in codes.items() if code != NO_TESTS}
    return side_by_side.combined(ran) if ran else NO_TESTS


if __name__ == "__main__":
    sys.exit(main())
