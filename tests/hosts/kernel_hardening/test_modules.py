"""kernel_hardening/modules: blacklisted modules are refused even on an explicit load."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import EXPECTED, HOSTS, role_vars

MODULES = EXPECTED["kernel_hardening_modules_blacklist"]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("name", HOSTS)
def test_module_is_blacklisted_and_refused(
    hardened: Callable[[str], Host], name: str, module: str
) -> None:
    host = hardened(name)
    path = role_vars(host)["kernel_hardening_modules_file"]
    lines = host.file(path).content_string.splitlines()
    assert f"blacklist {module}" in lines, f"{name}: {path} lacks 'blacklist {module}'"
    assert f"install {module} /bin/false" in lines, f"{name}: {path} lacks the install rule"
    # What modprobe would do on a load request (-n: dry run): run /bin/false, not insmod.
    dry = host.run(f"modprobe --dry-run --verbose {module}")
    assert dry.stdout.strip() == "install /bin/false", (
        f"{name}: modprobe would not refuse {module}: rc={dry.rc} {dry.stdout}{dry.stderr}"
    )
