"""openbao: the server runs as its own user under a hardened systemd unit, read back from
systemd itself (`systemctl show`), not from the unit file."""

from __future__ import annotations

import pytest
from testinfra.host import Host

from .support import SECRETS_HOST, role_vars

# property -> value systemd reports for the unit the role installs.
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "cap_ipc_lock",
    "AmbientCapabilities": "",
    "RestrictSUIDSGID": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "LockPersonality": "yes",
    "UMask": "0077",
}


def _show(host: Host, *props: str) -> dict[str, str]:
    out = host.check_output("systemctl show openbao " + " ".join(f"-p {p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize(("prop", "expected"), HARDENING.items(), ids=HARDENING.keys())
def test_unit_is_hardened(secrets_host: Host, prop: str, expected: str) -> None:
    value = _show(secrets_host, prop).get(prop)
    assert value == expected, f"{SECRETS_HOST}: openbao.service {prop}={value!r}, want {expected!r}"


def test_memlock_limit_is_the_inventory_s(secrets_host: Host) -> None:
    want = str(role_vars(secrets_host)["openbao_limit_memlock"])
    got = _show(secrets_host, "LimitMEMLOCK", "LimitMEMLOCKSoft")
    assert got == {"LimitMEMLOCK": want, "LimitMEMLOCKSoft": want}, (
        f"{SECRETS_HOST}: openbao.service memlock limits {got}, want {want}"
    )


def test_only_data_and_audit_directories_are_writable(secrets_host: Host) -> None:
    v = role_vars(secrets_host)
    got = set(_show(secrets_host, "ReadWritePaths")["ReadWritePaths"].split())
    assert got == {v["openbao_data_dir"], v["openbao_log_dir"]}, (
        f"{SECRETS_HOST}: openbao.service ReadWritePaths={sorted(got)}"
    )


def test_server_is_enabled_running_as_its_own_user(secrets_host: Host) -> None:
    v = role_vars(secrets_host)
    service = secrets_host.service("openbao")
    assert service.is_enabled, f"{SECRETS_HOST}: openbao is not enabled"
    assert service.is_running, f"{SECRETS_HOST}: openbao is not running"
    pid = _show(secrets_host, "MainPID")["MainPID"]
    assert pid != "0", f"{SECRETS_HOST}: openbao has no main process"
    status = secrets_host.file(f"/proc/{pid}/status").content_string
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = fields["Uid"].split()
    assert set(uid) == {str(secrets_host.user(v["openbao_user"]).uid)}, (
        f"{SECRETS_HOST}: openbao runs with uids {uid}, not as {v['openbao_user']}"
    )
    assert fields["NoNewPrivs"].strip() == "1", f"{SECRETS_HOST}: NoNewPrivs not set"
    # Effective, permitted and ambient capabilities are empty: the bounding set only caps them.
    for cap in ("CapEff", "CapPrm", "CapAmb"):
        assert int(fields[cap], 16) == 0, f"{SECRETS_HOST}: openbao has {cap}={fields[cap]}"


def test_user_cannot_log_in(secrets_host: Host) -> None:
    user = secrets_host.user(role_vars(secrets_host)["openbao_user"])
    assert user.exists and user.shell == "/usr/sbin/nologin", (
        f"{SECRETS_HOST}: openbao user shell is {user.shell}"
    )


@pytest.mark.parametrize(
    ("var", "mode"), [("openbao_data_dir", 0o700), ("openbao_log_dir", 0o700)]
)
def test_state_directories_belong_to_the_server_alone(
    secrets_host: Host, var: str, mode: int
) -> None:
    v = role_vars(secrets_host)
    d = secrets_host.file(v[var])
    assert (d.user, d.mode) == (v["openbao_user"], mode), (
        f"{SECRETS_HOST}:{v[var]} is {d.user} {oct(d.mode)}"
    )
