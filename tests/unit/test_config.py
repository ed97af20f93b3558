"""Stack configuration: one reader, the same values under the engine and for the render."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra import config
from infra.model.errors import ValidationError
from infra.render import record_stack, run_program

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def _project(tmp_path: Path, stack_yaml: str, stack: str = "t") -> Path:
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(stack_yaml)
    return tmp_path


def test_stack_file_is_encoded_like_the_engine_does():
    encoded = config.stack_file_config("dev", ROOT)
    assert encoded["rampart:target"] == "docker"
    assert encoded["rampart:corsOrigins"] == '["https://app.erp.localhost"]'


@pytest.mark.parametrize("stack", STACKS)
def test_engine_reads_back_what_the_stack_file_says(stack):
    seen = {}

    def program():
        seen["cfg"] = config.load(ROOT)

    run_program(program, stack=stack, config=config.stack_file_config(stack, ROOT))
    loaded = seen["cfg"]
    assert loaded.stack == stack
    assert loaded.target == "docker"
    assert loaded.source == f"Pulumi.{stack}.yaml"
    assert loaded.settings == config.stack_settings(stack, ROOT), \
        f"Pulumi.{stack}.yaml: settings differ between render and engine paths"


def test_strings_that_look_like_numbers_stay_strings():
    seen = {}

    def program():
        seen["cfg"] = config.load(ROOT)

    run_program(program, stack="t", config={"rampart:domain": "123", "rampart:hstsSeconds": "5"})
    assert seen["cfg"].settings == {"domain": "123", "hstsSeconds": 5}


def test_catalog_path_is_relative_to_the_project(tmp_path):
    cfg = config.StackConfig(stack="t", target="docker", settings={"catalog": "c/x.yaml"},
                             source="Pulumi.t.yaml", project_dir=tmp_path)
    assert cfg.catalog == tmp_path / "c" / "x.yaml"
    default = config.StackConfig(stack="t", target="docker", settings={},
                                 source="Pulumi.t.yaml", project_dir=tmp_path)
    assert default.catalog is None, "no catalog setting must mean the default catalog"


def test_project_dir_found_from_a_subdirectory():
    assert config.project_dir(ROOT / "infra" / "targets") == ROOT


# -- one negative test per configuration error ----------------------------------------------


def test_missing_stack_file(tmp_path):
    with pytest.raises(ValidationError, match=r"Pulumi\.nope\.yaml: no such stack file"):
        config.stack_file_config("nope", tmp_path)


def test_invalid_yaml(tmp_path):
    _project(tmp_path, "config: [unclosed\n")
    with pytest.raises(ValidationError, match=r"Pulumi\.t\.yaml: not valid YAML: .* \(line 2\)$"):
        config.stack_file_config("t", tmp_path)


def test_config_not_a_mapping(tmp_path):
    _project(tmp_path, "config: [1, 2]\n")
    with pytest.raises(ValidationError, match="'config' must be a mapping"):
        config.stack_file_config("t", tmp_path)


def test_encrypted_value_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:domain:\n    secure: AAABAxyz\n")
    with pytest.raises(ValidationError, match="field 'rampart:domain'.*secrets come from"):
        config.stack_file_config("t", tmp_path)


def test_unknown_setting_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:target: docker\n  rampart:rateLimt: 5\n")
    with pytest.raises(ValidationError, match="rateLimt") as err:
        record_stack("t", tmp_path)
    assert "Pulumi.t.yaml" in str(err.value)


def test_wrong_type_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:rateLimit: fast\n")
    with pytest.raises(ValidationError, match="rateLimit") as err:
        record_stack("t", tmp_path)
    assert "Pulumi.t.yaml" in str(err.value)


def test_target_not_built_yet(tmp_path):
    _project(tmp_path, "config:\n  rampart:target: kubernetes\n")
    with pytest.raises(ValidationError, match="target 'kubernetes' is not built yet"):
        record_stack("t", tmp_path)


def test_prod_self_signed_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:environment: prod\n  rampart:domain: erp.example.com"
                       "\n  rampart:tls: self-signed\n")
    with pytest.raises(ValidationError, match="tls"):
        record_stack("t", tmp_path)


# -- secrets provider selection -------------------------------------------------------------


def test_vault_settings_are_kept_apart_from_the_model(tmp_path):
    _project(tmp_path, "config:\n  rampart:domain: erp.example.com\n"
                       "  rampart:vaultAddr: https://vault.example.com:8200\n"
                       "  rampart:vaultAllowInsecureHttp: false\n")
    seen = {}

    def program():
        seen["cfg"] = config.load(tmp_path)

    run_program(program, stack="t", config=config.stack_file_config("t", tmp_path))
    assert seen["cfg"].settings == {"domain": "erp.example.com"}
    assert seen["cfg"].secrets_settings == {"vaultAddr": "https://vault.example.com:8200",
                                            "vaultAllowInsecureHttp": False}
    assert "vaultAddr" not in config.stack_settings("t", tmp_path)


def test_provider_for_a_stack(monkeypatch, small):
    from infra.secrets import provider, vault_provider
    from infra.secrets.errors import VaultAccessError

    # Secrets come only from Vault: no address anywhere is refused, naming where to set one.
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with pytest.raises(VaultAccessError, match=r"stack dev: no Vault address: set "
                                               r"rampart:vaultAddr in Pulumi\.dev\.yaml"):
        provider.for_stack(small, "dev", {})
    calls = []
    monkeypatch.setattr(vault_provider, "from_stack_settings",
                        lambda platform, stack, settings: calls.append((stack, settings)) or "v")
    assert provider.for_stack(small, "prod", {"vaultAddr": "https://v:8200"}) == "v"
    assert calls == [("prod", {"vaultAddr": "https://v:8200"})]
    # A stack without rampart:vaultAddr (dev) reads the Vault of the environment.
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200")
    assert provider.for_stack(small, "dev", {}) == "v"
    assert calls[-1] == ("dev", {})
    calls.pop()
    with provider.override(provider.RenderSecretsProvider()) as render:
        assert provider.for_stack(small, "prod", {"vaultAddr": "https://v:8200"}) is render
    assert len(calls) == 1, "the render must never reach Vault"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_hold_no_secret_values(stack):
    # Secrets come from the provider at deploy time; a stack file names none of them.
    for key, value in config.stack_file_config(stack, ROOT).items():
        lowered = key.lower()
        assert not any(word in lowered for word in ("password", "secret", "token", "htpasswd",
                                                    "privatekey", "apikey")), \
            f"Pulumi.{stack}.yaml: {key} looks like a secret setting"
        assert "BEGIN" not in value, f"Pulumi.{stack}.yaml: {key} holds key material"


def test_committed_stacks_dev_self_signed_prod_acme_with_digests():
    """Issue 2 item 6: dev is the lab-friendly docker stack (self-signed, tags allowed); prod
    is the docker stack behind ACME with every image pinned by digest and Vault over https."""
    from infra.model import DEFAULT_CATALOG, build_platform

    def load(stack: str):
        settings = config.stack_settings(stack, ROOT)
        platform = build_platform(DEFAULT_CATALOG, settings,
                                  settings_source=f"Pulumi.{stack}.yaml")
        raw = config.stack_file_config(stack, ROOT)
        return settings, platform, raw

    dev_settings, dev, _ = load("dev")
    assert dev_settings.get("target", config.DEFAULT_TARGET) == "docker"
    assert (dev.edge.tls_mode, dev.require_digests) == ("self-signed", False)
    prod_settings, prod, prod_raw = load("prod")
    assert prod_settings.get("target", config.DEFAULT_TARGET) == "docker"
    assert prod_settings["environment"] == "prod"
    assert (prod.edge.tls_mode, prod.require_digests) == ("acme", True)
    assert prod.edge.acme_email and prod.edge.acme_ca_server == \
        "https://acme-v02.api.letsencrypt.org/directory"
    assert all(s.image.digest for s in prod.services), "prod image without a digest"
    assert prod_raw["rampart:vaultAddr"].startswith("https://"), "prod reads Vault over https"
