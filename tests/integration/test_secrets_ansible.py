"""The Ansible side reads the same Vault paths with `community.hashi_vault.vault_kv2_get`,
authenticated as the service's AppRole — against the real OpenBao dev server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml

from infra.model.types import Platform
from infra.secrets.bootstrap import bootstrap
from infra.secrets.plan import secret_specs
from infra.secrets.policies import policy_name
from infra.secrets.rotate import rotate
from infra.secrets.vault import Vault, VaultSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _playbook(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"name": "Read Rampart secrets", "hosts": "localhost",
                                     "gather_facts": False, "tasks": tasks}]))
    return book


def _run(tmp_path: Path, book: Path, env: dict[str, str],
         stack: str) -> subprocess.CompletedProcess[str]:
    ansible = Path(sys.executable).parent / "ansible-playbook"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "ANSIBLE_"))}
    clean.update(env)
    clean["ANSIBLE_LOCALHOST_WARNING"] = "False"
    return subprocess.run(
        [str(ansible), "-i", "localhost,", "-c", "local", str(book),
         "-e", f"rampart_stack={stack}"],
        capture_output=True, text=True, env=clean, cwd=tmp_path, timeout=300, check=False)


def _approle_env(bao: Any, role: str) -> dict[str, str]:
    root = hvac.Client(url=bao.addr, token=bao.root_token)
    return {
        "VAULT_ADDR": bao.addr,
        "ANSIBLE_HASHI_VAULT_AUTH_METHOD": "approle",
        "ANSIBLE_HASHI_VAULT_ROLE_ID": root.auth.approle.read_role_id(role)["data"]["role_id"],
        "ANSIBLE_HASHI_VAULT_SECRET_ID":
            root.auth.approle.generate_secret_id(role)["data"]["secret_id"],
    }


LOOKUP = ("lookup('community.hashi_vault.vault_kv2_get', rampart_stack ~ '/{path}', "
          "engine_mount_point='secret'{extra})")


def test_role_reads_own_current_and_previous_version(bao: Any, platform: Platform,
                                                     unique_stack: str, tmp_path: Path) -> None:
    vault = Vault(VaultSettings(addr=bao.addr, token=bao.root_token))
    specs = secret_specs(platform)
    bootstrap(vault, unique_stack, specs)
    jwt_spec = next(s for s in specs if s.name == "JWT_SECRET")
    rotate(vault, unique_stack, jwt_spec)
    current = vault.read(jwt_spec.path(unique_stack))
    previous = vault.read(jwt_spec.path(unique_stack), version=1)
    assert current is not None and previous is not None
    book = _playbook(tmp_path, [
        {"name": "The auth role reads its JWT key, current and previous",
         "ansible.builtin.assert": {"that": [
             f"{LOOKUP.format(path='auth/jwt_secret', extra='')}.secret.value == jwt_now",
             f"{LOOKUP.format(path='auth/jwt_secret', extra=', version=1')}.secret.value "
             "== jwt_before",
             f"{LOOKUP.format(path='postgres/postgres_password', extra='')}.secret.value "
             "| length == 32",
         ], "quiet": True},
         "vars": {"jwt_now": current.value, "jwt_before": previous.value},
         "no_log": True},
    ])
    result = _run(tmp_path, book, _approle_env(bao, policy_name(unique_stack, "auth")),
                  unique_stack)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for value in (current.value, previous.value):
        assert value not in result.stdout + result.stderr, "a secret value reached the log"


def test_role_cannot_read_another_services_path(bao: Any, platform: Platform,
                                                unique_stack: str, tmp_path: Path) -> None:
    vault = Vault(VaultSettings(addr=bao.addr, token=bao.root_token))
    bootstrap(vault, unique_stack, secret_specs(platform))
    book = _playbook(tmp_path, [
        {"name": "The auth role tries the MinIO root password",
         "ansible.builtin.debug": {
             "msg": f"{{{{ {LOOKUP.format(path='minio/minio_root_password', extra='')}"
                    ".secret.value | length }}"},
         "no_log": False},
    ])
    result = _run(tmp_path, book, _approle_env(bao, policy_name(unique_stack, "auth")),
                  unique_stack)
    assert result.returncode != 0, "the auth AppRole read MinIO's secret"
    assert "permission denied" in (result.stdout + result.stderr).lower()


def test_collection_pin_matches_installed() -> None:
    pins = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    pinned = {c["name"]: c["version"] for c in pins["collections"]}
    import ansible_collections.community.hashi_vault as hv  # noqa: F401 - locate the package

    manifest = Path(hv.__path__[0]) / "MANIFEST.json"
    import json

    installed = json.loads(manifest.read_text())["collection_info"]["version"]
    assert pinned["community.hashi_vault"] == installed, (
        f"collections/requirements.yml pins community.hashi_vault {pinned['community.hashi_vault']}"
        f" but {installed} is installed")
