"""kernel_hardening/sysctl: the sysctl.d file everywhere, live values where the kernel allows.

In a container (the lab's systemd-nspawn hosts, each with its own network namespace) the
net.* values belong to the host and are checked live; kernel-global values belong to the
machine, so there the test checks that the container cannot change them (why the role
leaves them to the file) and, on real hosts, the live value.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from testinfra.host import Host

from .support import EXPECTED, HOSTS, expected_sysctls, in_container, role_vars

NETWORK_KEYS = sorted([*EXPECTED["kernel_hardening_sysctl_network"], "net.ipv4.ip_forward"])
KERNEL_KEYS = sorted(EXPECTED["kernel_hardening_sysctl_kernel"])
# Kernel-global keys a non-initial network/user namespace does not even show.
HIDDEN_IN_CONTAINER = {
    "kernel.kexec_load_disabled",
    "kernel.sysrq",
    "kernel.yama.ptrace_scope",
    "net.core.bpf_jit_harden",
}


def _file_values(host: Host) -> dict[str, str]:
    path = role_vars(host)["kernel_hardening_sysctl_file"]
    f = host.file(path)
    assert f.exists, f"{host.backend.host}: {path} is missing"
    values = {}
    for line in f.content_string.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = " ".join(value.split())
    return values


def _live(host: Host, key: str) -> str | None:
    path = "/proc/sys/" + key.replace(".", "/")
    result = host.run(f"cat {path}")
    return " ".join(result.stdout.split()) if result.rc == 0 else None


@pytest.mark.parametrize("name", HOSTS)
def test_sysctl_file_holds_every_hardened_value(
    hardened: Callable[[str], Host], name: str
) -> None:
    host = hardened(name)
    written = _file_values(host)
    expected = expected_sysctls(host)
    wrong = {k: (written.get(k), v) for k, v in expected.items() if written.get(k) != v}
    assert not wrong, f"{name}: sysctl file differs from the role's values (file, want): {wrong}"


@pytest.mark.parametrize("key", NETWORK_KEYS)
@pytest.mark.parametrize("name", HOSTS)
def test_network_sysctl_is_live(hardened: Callable[[str], Host], name: str, key: str) -> None:
    host = hardened(name)
    want = expected_sysctls(host)[key]
    live = _live(host, key)
    assert live is not None, f"{name}: {key} does not exist in the host's network namespace"
    assert live == want, f"{name}: live {key} = {live}, the role sets {want}"


@pytest.mark.parametrize("key", KERNEL_KEYS)
@pytest.mark.parametrize("name", HOSTS)
def test_kernel_sysctl_is_live_or_belongs_to_the_machine(
    hardened: Callable[[str], Host], name: str, key: str
) -> None:
    host = hardened(name)
    want = expected_sysctls(host)[key]
    path = "/proc/sys/" + key.replace(".", "/")
    if in_container(host):
        # The premise of skipping the live apply: the container cannot write the machine's
        # kernel settings. If it could, the role's container rule would need revisiting.
        probe = host.run(f"test -e {path} && ! test -w {path} || ! test -e {path}")
        assert probe.rc == 0, (
            f"{name}: {key} is writable inside the container; kernel-global settings must "
            "stay with the machine"
        )
        if key not in HIDDEN_IN_CONTAINER:
            assert _live(host, key) is not None, f"{name}: {key} unexpectedly missing"
        return
    assert _live(host, key) == want, f"{name}: live {key} = {_live(host, key)}, want {want}"
