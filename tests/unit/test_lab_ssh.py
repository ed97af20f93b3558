"""SSH to the lab: pinned host keys, strict checking everywhere, no global opt-outs."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

from infra.lab import default_lab
from infra.lab.ssh import client_options, known_hosts_lines, ssh_command

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def test_known_hosts_pins_each_recorded_key_by_name_and_address() -> None:
    lab = default_lab()
    pinned = {"edge1": {"ed25519": "ssh-ed25519 AAAA1", "rsa": "ssh-rsa AAAA2"}, "db1": {}}
    assert known_hosts_lines(lab, pinned).splitlines() == [
        "edge1,10.77.0.11 ssh-ed25519 AAAA1",
        "edge1,10.77.0.11 ssh-rsa AAAA2",
    ]


def test_client_checks_host_keys_strictly_against_the_lab_file_only() -> None:
    lab = default_lab()
    opts = client_options(lab)
    assert "StrictHostKeyChecking=yes" in opts
    assert f"UserKnownHostsFile={lab.known_hosts_path}" in opts
    assert "GlobalKnownHostsFile=/dev/null" in opts
    cmd = ssh_command(lab, lab.host("db1"), ["true"])
    assert cmd[-3:] == ["rampart@10.77.0.13", "--", "true"]


def test_inventory_connection_uses_the_lab_key_and_pinned_known_hosts() -> None:
    conn = yaml.safe_load((REPO / "inventories/lab/group_vars/all/connection.yml").read_text())
    lab = default_lab()
    assert conn["ansible_user"] == "rampart" and conn["ansible_become"] is True
    assert REPO / conn["ansible_ssh_private_key_file"] == lab.key_path
    args = conn["ansible_ssh_common_args"].split()
    assert "StrictHostKeyChecking=yes" in args
    known = next(a for a in args if a.startswith("UserKnownHostsFile="))
    assert REPO / known.split("=", 1)[1] == lab.known_hosts_path


def test_ansible_cfg_follows_the_lab_contract() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "ansible.cfg")
    assert cfg["defaults"]["inventory"] == "inventories/lab/hosts.yml"
    assert cfg["defaults"]["roles_path"] == "roles"
    assert cfg.getboolean("defaults", "force_handlers")
    assert cfg.getboolean("defaults", "host_key_checking")
    assert cfg.getint("defaults", "forks") == 8
    assert cfg["defaults"]["fact_caching"] == "jsonfile"
    assert cfg["defaults"]["fact_caching_connection"] == "inventories/lab/.state/facts"
    assert cfg.getboolean("ssh_connection", "pipelining")


@pytest.mark.parametrize(
    "path", ["ansible.cfg", "inventories/lab/group_vars/all/connection.yml", "infra/lab/ssh.py"]
)
def test_no_host_key_checking_opt_out(path: str) -> None:
    text = (REPO / path).read_text().replace(" ", "").lower()
    assert "stricthostkeychecking=no" not in text, f"{path} disables host key checking"
    assert "host_key_checking=false" not in text, f"{path} disables host key checking"
