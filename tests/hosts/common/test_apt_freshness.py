"""common/packages: package-list freshness is judged by what apt has, not by a directory's age.

A fresh lab host boots from a base whose lists were removed minutes earlier: the directory
/var/lib/apt/lists is new and empty. Judged by its mtime, the refresh was skipped and the first
install failed ("Unable to locate package python3-apt") on every fresh machine."""

from __future__ import annotations

import re
from collections.abc import Callable

from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import role_vars

HOST = "app1"
LISTS = "/var/lib/apt/lists"
STAMP = "/var/lib/apt/periodic/update-success-stamp"
TASK = "common : Package lists are fresh"


def _task_result(run: PlaybookRun, task: str, host: str) -> str:
    """ok/changed/skipping/failed of `task` on `host` in a playbook's output."""
    block = run.stdout.split(f"TASK [{task}]", 1)
    assert len(block) == 2, f"task {task!r} did not run:\n{run.failure_summary()}"
    body = block[1].split("TASK [", 1)[0]
    found = re.search(rf"^(ok|changed|skipping|failed|fatal): \[{host}\]", body, re.MULTILINE)
    assert found, f"no result of {task!r} for {host}:\n{body}"
    return found.group(1)


def _packages(run_playbook: Callable[..., PlaybookRun]) -> PlaybookRun:
    run = run_playbook("playbooks/site.yml", "--limit", HOST, "--tags", "common_packages")
    assert run.returncode == 0, run.failure_summary()
    return run


def test_empty_lists_in_a_new_directory_are_refreshed(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun]
) -> None:
    host = hardened(HOST)
    # The worst case: no index at all, yet the directory and even the refresh stamp are new.
    host.check_output(
        f"find {LISTS} -maxdepth 1 -type f ! -name lock -delete && touch {LISTS} {STAMP}"
    )
    assert not host.run(f"ls {LISTS}/*_Packages").stdout.strip(), "lists were not emptied"

    run = _packages(run_playbook)
    assert _task_result(run, TASK, HOST) == "ok", f"{HOST}: empty lists were not refreshed"
    assert host.run(f"ls {LISTS}/*_Packages").stdout.strip(), f"{HOST}: still no package index"
    assert host.run("apt-cache policy python3-apt").stdout.count("Candidate: (none)") == 0

    # Lists present and the refresh recorded just now: nothing to do on the next run.
    again = _packages(run_playbook)
    assert _task_result(again, TASK, HOST) == "skipping", f"{HOST}: fresh lists refreshed again"


def test_a_refresh_older_than_the_limit_is_repeated(
    hardened: Callable[[str], Host], run_playbook: Callable[..., PlaybookRun]
) -> None:
    host = hardened(HOST)
    limit = int(role_vars(host)["common_apt_cache_valid_time"])
    host.check_output(f"touch -d '@{int(host.check_output('date +%s')) - limit - 60}' {STAMP}")
    run = _packages(run_playbook)
    assert _task_result(run, TASK, HOST) == "ok", f"{HOST}: stale lists were not refreshed"
    age = int(host.check_output(f"echo $(( $(date +%s) - $(stat -c %Y {STAMP}) ))"))
    assert age < 600, f"{HOST}: the refresh stamp was not renewed ({age} s old)"
