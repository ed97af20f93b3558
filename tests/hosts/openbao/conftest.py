"""Fixtures of the openbao host tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import SECRETS_HOST


@pytest.fixture(scope="module")
def secrets_host(converged: object, lab_host: Callable[[str], Host]) -> Host:
    """The secrets host, after site.yml has converged."""
    return lab_host(SECRETS_HOST)


@pytest.fixture(scope="session")
def lab_initialised(converged: object, run_playbook: Callable[..., PlaybookRun]) -> PlaybookRun:
    """playbooks/openbao-init.yml run once: the lab server initialised (keys on the
    controller) and unsealed."""
    run = run_playbook("playbooks/openbao-init.yml")
    if run.returncode != 0:
        pytest.fail(f"openbao-init.yml failed: {run.failure_summary()}", pytrace=False)
    return run
