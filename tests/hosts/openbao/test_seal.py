"""openbao: the lab-only init (playbooks/openbao-init.yml) initialises the server once, keeps
every key on the controller in a 0600 file and unseals it; a restart seals it again and the
same playbook unseals it; the declared audit device is enabled and writes HMAC'd entries.
The refusal outside the lab is tested too: without openbao_lab_init_allowed nothing runs."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable

import pytest
from testinfra.host import Host

from infra.lab.playbook import PlaybookRun

from .support import INIT_FILE, SECRETS_HOST, api_url, request, role_vars, root_token


def _seal_status(host: Host) -> dict:
    status, body = request(f"{api_url(host)}/v1/sys/seal-status")
    assert status == 200, f"{SECRETS_HOST}: seal-status answered {status}: {body}"
    return dict(body)


def test_init_refused_unless_the_inventory_allows_it(
    secrets_host: Host, run_playbook: Callable[..., PlaybookRun]
) -> None:
    run = run_playbook("playbooks/openbao-init.yml", "-e", "openbao_lab_init_allowed=false")
    assert run.returncode != 0, "openbao-init.yml ran without openbao_lab_init_allowed"
    assert "Refusing to initialise OpenBao" in run.stdout, run.failure_summary()
    assert all(c.get("changed", 0) == 0 for c in run.recap.values()), run.recap


def test_lab_init_leaves_the_server_initialised_and_unsealed(
    secrets_host: Host, lab_initialised: PlaybookRun
) -> None:
    status = _seal_status(secrets_host)
    assert status["initialized"] and not status["sealed"], f"{SECRETS_HOST}: {status}"
    assert "unseal keys and the root token" in lab_initialised.stdout, (
        "openbao-init.yml does not say where the keys are"
    )


def test_keys_stay_on_the_controller_readable_by_the_owner_only(
    secrets_host: Host, lab_initialised: PlaybookRun
) -> None:
    mode = stat.S_IMODE(INIT_FILE.stat().st_mode)
    assert mode == 0o600, f"{INIT_FILE} has mode {oct(mode)}"
    keys = json.loads(INIT_FILE.read_text())
    assert keys["root_token"] and len(keys["keys_base64"]) == int(
        role_vars(secrets_host)["openbao_lab_init_key_shares"]), "keys file incomplete"
    # Every character in brackets: the pattern matches the key, but the command line (which
    # sudo and the journal log on the host) does not contain it.
    pattern = "".join(f"[{c}]" for c in keys["keys_base64"][0])
    found = secrets_host.run(
        "grep -rlE -- %s /etc /var /root /home /tmp /run 2>/dev/null", pattern
    )
    assert found.stdout.strip() == "", f"{SECRETS_HOST}: an unseal key is on the host: {found}"


def test_audit_device_is_enabled_and_writes_hmaced_entries(
    secrets_host: Host, lab_initialised: PlaybookRun
) -> None:
    v = role_vars(secrets_host)
    token = root_token()
    status, body = request(f"{api_url(secrets_host)}/v1/sys/audit", token=token)
    assert status == 200, f"{SECRETS_HOST}: sys/audit answered {status}: {body}"
    path = v["openbao_audit_device_path"] + "/"
    devices = body.get("data", body)
    assert path in devices and devices[path]["type"] == "file", (
        f"{SECRETS_HOST}: audit devices {sorted(k for k in devices if k.endswith('/'))}"
    )
    log = secrets_host.file(v["openbao_audit_log_path"])
    assert log.exists and log.mode == 0o600 and log.user == v["openbao_user"], (
        f"{SECRETS_HOST}: {v['openbao_audit_log_path']} is {log.user} {oct(log.mode)}"
    )
    tail = secrets_host.check_output(f"tail -n 20 {v['openbao_audit_log_path']}")
    assert '"path":"sys/audit"' in tail, f"{SECRETS_HOST}: the sys/audit request is not logged"
    assert token not in secrets_host.file(v["openbao_audit_log_path"]).content_string, (
        f"{SECRETS_HOST}: the root token appears in clear in the audit log"
    )


def test_restart_seals_and_the_lab_init_unseals_again(
    secrets_host: Host, lab_initialised: PlaybookRun, run_playbook: Callable[..., PlaybookRun]
) -> None:
    secrets_host.check_output("systemctl restart openbao")
    deadline = time.monotonic() + 30
    while True:
        try:
            status = _seal_status(secrets_host)
            break
        except (OSError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert status["initialized"] and status["sealed"], f"after a restart: {status}"
    run = run_playbook("playbooks/openbao-init.yml")
    assert run.returncode == 0, run.failure_summary()
    after = _seal_status(secrets_host)
    assert after["initialized"] and not after["sealed"], f"after openbao-init.yml: {after}"
    again = run_playbook("playbooks/openbao-init.yml")
    assert again.returncode == 0 and not again.changed_hosts, (
        f"openbao-init.yml on an unsealed server changed {again.changed_tasks}"
    )


@pytest.mark.parametrize("path", ["/v1/sys/health"])
def test_health_reports_active_after_init(
    secrets_host: Host, lab_initialised: PlaybookRun, path: str
) -> None:
    status, body = request(f"{api_url(secrets_host)}{path}")
    assert status == 200, f"{SECRETS_HOST}: {path} answered {status}: {body}"


def test_keys_of_an_earlier_server_are_kept_aside_when_the_server_is_new(
    secrets_host: Host, lab_initialised: PlaybookRun, run_playbook: Callable[..., PlaybookRun]
) -> None:
    """A fresh server (here: storage emptied, as after `rampart lab down && up`) with an old
    keys file: the old file is renamed, never overwritten, and the new keys are stored.
    Runs last in this module: it replaces the server the tests above used."""
    v = role_vars(secrets_host)
    old = json.loads(INIT_FILE.read_text())
    storage = f"{v['openbao_data_dir']}/raft" if v["openbao_storage"] == "raft" \
        else f"{v['openbao_data_dir']}/file"
    secrets_host.check_output(
        f"systemctl stop openbao && find {storage} -mindepth 1 -delete && systemctl start openbao"
    )
    run = run_playbook("playbooks/openbao-init.yml")
    assert run.returncode == 0, run.failure_summary()
    kept = sorted(INIT_FILE.parent.glob(INIT_FILE.name + ".*.old"))
    assert kept, f"the earlier keys file was not kept aside next to {INIT_FILE}"
    assert any(json.loads(k.read_text())["root_token"] == old["root_token"] for k in kept), (
        f"none of {kept} holds the earlier server's keys"
    )
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in kept), kept
    new = json.loads(INIT_FILE.read_text())
    assert new["root_token"] != old["root_token"], "the keys file was not replaced"
    status = _seal_status(secrets_host)
    assert status["initialized"] and not status["sealed"], f"after re-init: {status}"
