"""What can go wrong in a drill, by who is at fault (the exit codes of `rampart drill`)."""

from __future__ import annotations


class DrillError(Exception):
    """The drill ran and failed: an alert late or missing, a fix that did not work,
    something lost (exit 1)."""

    exit_code = 1


class DrillInputError(DrillError):
    """Bad input, nothing touched: an unknown drill, a runbook without the block (exit 2)."""

    exit_code = 2


class DrillUnavailableError(DrillError):
    """The lab, Prometheus or Alertmanager cannot be reached (exit 3)."""

    exit_code = 3


class DrillInterrupted(DrillError):  # noqa: N818 - an interruption, not an error of the drill
    """SIGINT or SIGTERM arrived; the fault was reverted before this is raised further."""

    exit_code = 130
