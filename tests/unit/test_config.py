"""The stack, read once (infra/stack): one `Stack` from the stack file or from the engine's
config, the same values either way, and every consumer judging it alike."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from infra import program
from infra import stack as config
from infra.model.errors import ValidationError
from infra.offline.engine import run_program
from infra.offline.render import record, record_stack

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")


def _project(tmp_path: Path, stack_yaml: str, stack: str = "t") -> Path:
    shutil.copy(ROOT / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(stack_yaml)
    return tmp_path


def test_stack_is_encoded_like_the_engine_does():
    encoded = config.engine_config(config.load("dev", ROOT))
    assert encoded["rampart:target"] == "docker"
    assert encoded["rampart:corsOrigins"] == '["https://app.erp.localhost"]'


def _from_engine(stack: str, encoded: dict[str, str], root: Path = ROOT) -> config.Stack:
    seen = {}

    def program_() -> None:
        seen["stack"] = config.from_engine(root)

    run_program(program_, stack=stack, config=encoded)
    return seen["stack"]


@pytest.mark.parametrize("stack", STACKS)
def test_engine_reads_back_what_the_stack_file_says(stack):
    from_file = config.load(stack, ROOT)
    loaded = _from_engine(stack, config.engine_config(from_file))
    assert (loaded.name, loaded.target, loaded.source) == (stack, "docker", f"Pulumi.{stack}.yaml")
    for section in ("values", "model", "secrets", "observability"):
        assert getattr(loaded, section) == getattr(from_file, section), \
            f"Pulumi.{stack}.yaml: {section} differs between the file and the engine"
    # The same policy section; only the file knows where each waiver is written.
    def unlocated(policy):
        return dataclasses.replace(policy, source=None, today=from_file.policy.today,
                                   waivers=tuple(dataclasses.replace(w, line=None)
                                                 for w in policy.waivers))

    assert unlocated(loaded.policy) == unlocated(from_file.policy), "policy section differs"
    assert all(w.line for w in from_file.policy.waivers), "waiver positions from the parser"


def test_strings_that_look_like_numbers_stay_strings():
    stack = config.from_values({"rampart:domain": "erp.example.com", "rampart:hstsSeconds": "5",
                                "rampart:acmeEmail": "1@example.com"})
    assert stack.values["hstsSeconds"] == 5 and stack.model.edge.hsts_seconds == 5
    assert isinstance(stack.values["acmeEmail"], str)


def test_catalog_path_is_relative_to_the_project(tmp_path):
    stack = config.from_values({"catalog": "c/x.yaml"}, root=tmp_path)
    assert stack.catalog == tmp_path / "c" / "x.yaml"
    default = config.from_values({}, root=tmp_path)
    assert default.catalog_is_default and default.catalog.name == "erp.yaml"


def test_project_dir_found_from_a_subdirectory():
    assert config.project_dir(ROOT / "infra" / "targets") == ROOT


def test_the_program_entry_runs_the_same_program_as_the_render():
    """`__main__.py` (what `pulumi up` runs) declares exactly what `rampart render` records."""
    import runpy

    stack = config.load("dev", ROOT)
    from infra.secrets import provider

    # The entry reads the engine's config; its Vault provider is replaced by the stand-in.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provider, "for_stack", lambda *a: provider.RenderSecretsProvider())
        via_main = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"),
                                                      run_name="__main__"),
                               stack="dev", config=config.engine_config(stack))
    assert {r.urn: r.inputs for r in via_main} == {r.urn: r.inputs for r in record(stack)}


# -- one negative test per configuration error ----------------------------------------------


def test_missing_stack_file(tmp_path):
    with pytest.raises(ValidationError, match=r"Pulumi\.nope\.yaml: no such stack file"):
        config.load("nope", tmp_path)


def test_invalid_yaml(tmp_path):
    _project(tmp_path, "config: [unclosed\n")
    with pytest.raises(ValidationError, match=r"Pulumi\.t\.yaml:2:1: not valid YAML: "):
        config.load("t", tmp_path)


def test_config_not_a_mapping(tmp_path):
    _project(tmp_path, "config: [1, 2]\n")
    with pytest.raises(ValidationError, match="'config' must be a mapping"):
        config.load("t", tmp_path)


def test_encrypted_value_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:domain:\n    secure: AAABAxyz\n")
    with pytest.raises(ValidationError, match="field 'rampart:domain'.*secrets come from"):
        config.load("t", tmp_path)


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


def test_kubernetes_target_without_its_block_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:target: kubernetes\n")
    with pytest.raises(ValidationError, match="rampart:kubernetes") as err:
        record_stack("t", tmp_path)
    assert str(err.value).startswith("Pulumi.t.yaml:")


def test_kubernetes_target_without_storage_class_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:target: kubernetes\n  rampart:kubernetes:\n"
                       "    namespacePrefix: erp\n")
    with pytest.raises(ValidationError, match="storageClass.*required") as err:
        record_stack("t", tmp_path)
    assert str(err.value).startswith("Pulumi.t.yaml:3:")  # the block that lacks it


def test_prod_self_signed_is_refused(tmp_path):
    _project(tmp_path, "config:\n  rampart:environment: prod\n  rampart:domain: erp.example.com"
                       "\n  rampart:tls: self-signed\n")
    with pytest.raises(ValidationError, match="tls"):
        record_stack("t", tmp_path)


# -- secrets provider selection -------------------------------------------------------------


def test_vault_settings_are_their_own_section(tmp_path):
    _project(tmp_path, "config:\n  rampart:domain: erp.example.com\n"
                       "  rampart:vaultAddr: https://vault.example.com:8200\n"
                       "  rampart:vaultAllowInsecureHttp: 'true'\n")
    stack = config.load("t", tmp_path)
    assert stack.secrets.addr == "https://vault.example.com:8200"
    assert stack.secrets.allow_insecure_http is True and stack.secrets.mount is None
    engine = _from_engine("t", config.engine_config(stack), tmp_path)
    assert engine.secrets == stack.secrets


def test_provider_for_a_stack(monkeypatch, small):
    from infra.secrets import provider, vault_provider
    from infra.secrets.errors import VaultAccessError
    from infra.secrets.settings import SecretsSettings

    # Secrets come only from Vault: no address anywhere is refused, naming where to set one.
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with pytest.raises(VaultAccessError, match=r"stack dev: no Vault address: set "
                                               r"rampart:vaultAddr in Pulumi\.dev\.yaml"):
        provider.for_stack(small, "dev", SecretsSettings())
    calls = []
    monkeypatch.setattr(vault_provider, "from_stack_settings",
                        lambda platform, stack, settings: calls.append((stack, settings)) or "v")
    prod = SecretsSettings(addr="https://v:8200")
    assert provider.for_stack(small, "prod", prod) == "v"
    assert calls == [("prod", prod)]
    # A stack without rampart:vaultAddr (dev) reads the Vault of the environment.
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200")
    assert provider.for_stack(small, "dev", SecretsSettings()) == "v"
    # The render hands the program its stand-in: Vault is never asked.
    calls.clear()
    record(config.load("dev", ROOT))
    assert calls == [], "the render must never reach Vault"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_hold_no_secret_values(stack):
    # Secrets come from the provider at deploy time; a stack file names none of them.
    for key, value in config.engine_config(config.load(stack, ROOT)).items():
        lowered = key.lower()
        assert not any(word in lowered for word in ("password", "secret", "token", "htpasswd",
                                                    "privatekey", "apikey")), \
            f"Pulumi.{stack}.yaml: {key} looks like a secret setting"
        assert "BEGIN" not in value, f"Pulumi.{stack}.yaml: {key} holds key material"


def test_committed_stacks_dev_self_signed_prod_acme_with_digests():
    """Issue 2 item 6: dev is the lab-friendly docker stack (self-signed, tags allowed); prod
    is the docker stack behind ACME with every image pinned by digest and Vault over https."""
    dev_stack, prod_stack = config.load("dev", ROOT), config.load("prod", ROOT)
    dev, prod = program.platform_of(dev_stack), program.platform_of(prod_stack)
    assert dev_stack.target == "docker"
    assert (dev.edge.tls_mode, dev.require_digests) == ("self-signed", False)
    assert prod_stack.target == "docker" and prod_stack.environment == "prod"
    assert (prod.edge.tls_mode, prod.require_digests) == ("acme", True)
    assert prod.edge.acme_email and prod.edge.acme_ca_server == \
        "https://acme-v02.api.letsencrypt.org/directory"
    assert all(s.image.digest for s in prod.services), "prod image without a digest"
    assert (prod_stack.secrets.addr or "").startswith("https://"), "prod reads Vault over https"


# -- positions from the parser ----------------------------------------------------------------


def test_a_key_overriding_a_merged_default_is_located_at_itself(tmp_path):
    _project(tmp_path, "config:\n  rampart:rateLimit: &r {average: 5, burst: 5}\n"
                       "  rampart:loginRateLimit:\n    <<: *r\n    average: 0\n")
    with pytest.raises(ValidationError) as err:
        config.load("t", tmp_path)
    # line 5, column 5: the overriding `average: 0`, not the anchor's valid `average: 5`
    assert str(err.value).startswith("Pulumi.t.yaml:5:5: field 'loginRateLimit.average'"), \
        str(err.value)


def test_a_setting_refused_by_the_catalog_is_located_in_the_stack_file(tmp_path):
    _project(tmp_path, "config:\n  rampart:target: docker\n  rampart:resources:\n"
                       "    nope: {cpuLimit: 1}\n")
    with pytest.raises(ValidationError) as err:
        program.platform_of(config.load("t", tmp_path))
    assert str(err.value).startswith("Pulumi.t.yaml:4:5: field 'resources.nope'"), str(err.value)


def test_catalog_errors_name_the_line_of_a_dotted_key(tmp_path):
    from infra.model import build_platform

    (tmp_path / "versions.yaml").write_text(
        'images:\n  auth:\n    repository: docker.io/erp/auth\n    tag: "1.4.2"\n')
    (tmp_path / "erp.yaml").write_text(
        "platform: erp\nversions: versions.yaml\nservices:\n  auth:\n    group: core\n"
        "    image: auth\n    port: 3001\n    environment:\n      LOG: info\n"
        "      LOG.LEVEL: [debug]\n")
    with pytest.raises(ValidationError) as err:
        build_platform(tmp_path / "erp.yaml")
    # line 10, column 7: `LOG.LEVEL` (a key with dots), not `LOG` on line 9
    assert "erp.yaml:10:7: service 'auth': field 'environment.LOG.LEVEL'" in str(err.value), \
        str(err.value)


def test_a_yaml_syntax_error_is_located_like_every_other(tmp_path):
    from infra.model import build_platform

    (tmp_path / "erp.yaml").write_text("platform: erp\nservices: [unclosed\n")
    with pytest.raises(ValidationError, match=r"erp\.yaml:3:1: not valid YAML"):
        build_platform(tmp_path / "erp.yaml")


def test_values_from_the_engine_get_the_stack_files_type_checks():
    for value in ("NET_ADMIN", "SYS_ADMIN,NET_ADMIN", "true", "5"):
        with pytest.raises(ValidationError, match="policyAllowedCapabilities"):
            _from_engine("dev", {"rampart:policyAllowedCapabilities": value})
    stack = _from_engine("dev", {"rampart:policyAllowedCapabilities": '["net_admin"]'})
    assert stack.policy.allowed_capabilities == frozenset({"NET_ADMIN"})


def test_an_empty_key_means_the_default_through_either_door(tmp_path):
    _project(tmp_path, "config:\n  rampart:catalog:\n  rampart:vaultAddr:\n"
                       "  rampart:acmeEmail:\n")
    stack = config.load("t", tmp_path)
    engine = _from_engine("t", config.engine_config(stack), tmp_path)
    assert stack.catalog_is_default and engine.catalog_is_default
    assert stack.secrets == engine.secrets and stack.secrets.addr is None
    assert stack.model == engine.model
