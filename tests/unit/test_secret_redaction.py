"""No refusal ever quotes a secret back (BUG-1, BUG-2, BUG-3, BUG-5 of the adversarial run).

`redact` (infra/secrets/literals.py) is the last line of defence, applied to every
`ValidationError` and to every line the CLI prints on failure; before it, the readers refuse
a credential as a literal secret naming the field: the Vault address, observability
receivers and scrape targets, the versions file. Property tests generate URL schemes,
userinfo shapes and tokens; example tests pin what must stay readable.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra import stack as config
from infra.cli.errors import fail
from infra.model.errors import ValidationError
from infra.model.images import load_pins
from infra.model.settings import parse_settings
from infra.observability.settings import load_settings
from infra.secrets import settings as secrets_settings
from infra.secrets.errors import VaultAccessError
from infra.secrets.literals import REDACTED, redact, scan_text
from infra.secrets.vault import check_address

pytestmark = pytest.mark.unit

SCHEMES = st.sampled_from(["http", "https", "ftp", "postgres", "postgresql", "redis", "amqp",
                           "s3", "esdb", "mongodb+srv", "git+ssh", "ldap", "smtp"])
USER = st.text(string.ascii_letters + string.digits + "._-", min_size=0, max_size=12)
# what a password may be: anything a URL's userinfo can hold, never empty
PASSWORD = st.text(string.ascii_letters + string.digits + "!$&()*+,;=~._-%", min_size=1,
                   max_size=24).filter(lambda p: "$" not in p[:1])
HOST = st.sampled_from(["db", "127.0.0.1", "vault.example.com", "hooks.example.com:8443",
                        "[::1]:8200", "registry-1.docker.io"])
SUFFIX = st.sampled_from(["", "/", "/a/b", "?x=1", "#frag", ":9100"])
CANARY = "CANARYfeedc0ffee01"


def _password(drawn: str) -> str:
    return f"{drawn}{CANARY}"


@given(SCHEMES, USER, PASSWORD, HOST, SUFFIX, st.sampled_from(["", "got '", "see <", "x ("]))
def test_url_userinfo_password_is_redacted(scheme: str, user: str, password: str, host: str,
                                           suffix: str, before: str) -> None:
    secret = _password(password)
    url = f"{scheme}://{user}:{secret}@{host}{suffix}"
    shown = redact(f"field 'x': {before}{url}' is not valid")
    assert CANARY not in shown
    assert f"{scheme}://{user}:{REDACTED}@" in shown  # user and host stay readable
    assert scan_text(url, "x"), "the detector and the redaction disagree"


@given(USER.filter(bool), PASSWORD, HOST)
def test_schemeless_userinfo_is_redacted(user: str, password: str, host: str) -> None:
    shown = redact(f"expected host:port, got '{user}:{_password(password)}@{host}'")
    assert CANARY not in shown and f"{user}:{REDACTED}@{host}" in shown


@given(st.integers(min_value=0, max_value=2**32))
def test_random_tokens_are_redacted(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - chooses test input, not a secret
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    token, last = [], -1
    for _ in range(32):
        choice = rng.choice([i for i in range(3) if i != last])
        token.append(rng.choice(classes[choice]))
        last = choice
    text = "".join(token)
    shown = redact(f"https://hooks.example.com/services/{text}/x is not valid")
    assert text not in shown and "hooks.example.com/services/" in shown


@pytest.mark.parametrize("line", [
    "PGPASSWORD=hunter2x psql -h db", "--db-password=hunter2x", "export API_TOKEN=hunter2x",
])
def test_credential_assignments_are_redacted(line: str) -> None:
    assert "hunter2x" not in redact(line)


@pytest.mark.parametrize("text", [
    "Pulumi.dev.yaml: field 'corsOrigins[0]': '*' is never allowed: list each origin",
    "docker.io/library/postgres:16.9@sha256:" + "0123456789abcdef" * 4,
    "infra/catalog/erp.yaml: service 'auth': field 'secrets.JWT_SECRET': weak",
    "ops@example.com", "/var/lib/postgresql/data", "http://vault@127.0.0.1:8200",
    "550e8400-e29b-41d4-a716-446655440000", "PGPASSWORD=$(cat /run/secrets/pg) psql",
    "KeycloakAdminConsoleUrl is not valid", "stack dev: wrote out/index.json",
])
def test_ordinary_messages_are_untouched(text: str) -> None:
    assert redact(text) == text


def test_validation_error_and_fail_redact(capsys: pytest.CaptureFixture[str]) -> None:
    err = ValidationError("f.yaml", f"'https://ci:{CANARY}@docker.io/x' is not valid",
                          field=f"scrape:{CANARY}@db1:9100")
    assert CANARY not in str(err) and CANARY not in err.message
    assert "https://ci:***@docker.io/x" in str(err)
    fail(f"got 'ftp://hook:{CANARY}@h/a'")
    fail(RuntimeError(f"cannot reach http://v:{CANARY}@vault:8200"))
    assert CANARY not in capsys.readouterr().err


# -- BUG-1: the Vault address ----------------------------------------------------------------

def _stack(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: rampart\nruntime: python\n")
    (tmp_path / "Pulumi.t.yaml").write_text(f"config:\n  rampart:target: docker\n{extra}")
    return tmp_path


@given(SCHEMES, USER, PASSWORD)
def test_vault_address_with_a_password_is_refused_by_name(scheme: str, user: str,
                                                          password: str) -> None:
    addr = f"{scheme}://{user}:{_password(password)}@127.0.0.1:8200"
    with pytest.raises(ValidationError) as err:
        secrets_settings.parse({"vaultAddr": addr}, "Pulumi.t.yaml")
    assert err.value.file == "Pulumi.t.yaml" and err.value.field == "rampart:vaultAddr"
    assert CANARY not in str(err.value)


@pytest.mark.parametrize("addr", ["http://vault@127.0.0.1:8200",
                                  "https://s.tokenvalue@vault.example.com"])
def test_vault_address_with_user_info_is_refused(addr: str, tmp_path: Path) -> None:
    root = _stack(tmp_path, f"  rampart:vaultAddr: {addr}\n")
    with pytest.raises(ValidationError) as err:
        config.load("t", root)
    # Line 3, column 3: the key, where the parser saw it; never the value.
    assert str(err.value).startswith("Pulumi.t.yaml:3:3: field 'rampart:vaultAddr': ")
    assert "tokenvalue" not in str(err.value)


def test_vault_address_without_credentials_is_read(tmp_path: Path) -> None:
    root = _stack(tmp_path, "  rampart:vaultAddr: https://vault.example.com:8200\n")
    assert config.load("t", root).secrets.addr == "https://vault.example.com:8200"


@pytest.mark.parametrize("addr", [f"http://vault:{CANARY}@127.0.0.1:8200",
                                  f"https://{CANARY}@vault.example.com", "http://[::1"])
def test_check_address_refuses_user_info_without_quoting(addr: str) -> None:
    with pytest.raises(VaultAccessError) as err:
        check_address(addr)
    assert CANARY not in str(err.value)


# -- BUG-2 / BUG-3: observability ------------------------------------------------------------

def _observability_error(observability: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        load_settings(None, observability)
    assert CANARY not in str(err.value)
    return err.value


@given(st.sampled_from(["https", "http", "ftp"]), USER, PASSWORD)
def test_webhook_url_with_a_password_is_a_literal_secret(scheme: str, user: str,
                                                         password: str) -> None:
    url = f"{scheme}://{user}:{_password(password)}@hooks.example.com/a"
    err = _observability_error({"receivers": [{"name": "ops", "webhook": {"url": url}}]})
    assert err.field == "rampart:observability.receivers[0].webhook.url"
    assert "secret declared with a literal value" in err.message


def test_webhook_url_with_a_token_in_the_path_is_a_literal_secret() -> None:
    url = f"https://hooks.example.com/services/T0aB3dE5fG7hJ9kL1mN3pQ5rS7tU9v/{CANARY}"
    err = _observability_error({"receivers": [{"name": "ops", "webhook": {"url": url}}]})
    assert err.field == "rampart:observability.receivers[0].webhook.url"


def test_receiver_naming_a_vault_secret_is_accepted() -> None:
    settings = load_settings(None, {"receivers": [{"name": "ops", "webhook": {
        "url": "https://pager.example.com/hook", "secret": "PAGER_TOKEN"}}]})
    assert settings.receivers[0].secret == "PAGER_TOKEN"  # noqa: S105 - a secret's name


@pytest.mark.parametrize(("observability", "field"), [
    ({"nodeTargets": ["db1:9100", f"scrape:{CANARY}@db1.erp.internal:9100"]},
     "rampart:observability.nodeTargets[1]"),
    ({"alertmanagerAddress": f"am:{CANARY}@alertmanager:9093"},
     "rampart:observability.alertmanagerAddress"),
])
def test_host_port_with_user_info_is_refused_without_quoting(observability: dict[str, Any],
                                                             field: str) -> None:
    err = _observability_error(observability)
    assert err.field == field and "user info" in err.message


# -- BUG-3: the versions file ----------------------------------------------------------------

@given(st.sampled_from(["https", "http", "oci"]), USER, PASSWORD)
def test_registry_password_in_a_repository_is_refused_by_field(scheme: str, user: str,
                                                               password: str) -> None:
    repository = f"{scheme}://{user}:{_password(password)}@docker.io/prom/prometheus"
    data = {"images": {"prometheus": {"repository": repository, "tag": "v3.4.1"}}}
    with pytest.raises(ValidationError) as err:
        load_pins(data, "versions.yaml")
    assert err.value.field == "images.prometheus.repository"
    assert CANARY not in str(err.value)


# -- BUG-5: CORS ports -------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["0", "00080", "65536", "99999"])
def test_cors_origin_port_outside_1_to_65535_is_refused(port: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_settings({"corsOrigins": [f"https://app.erp.localhost:{port}"]}, "Pulumi.t.yaml")
    assert err.value.field == "corsOrigins[0]" and "is not an origin" in err.value.message


@pytest.mark.parametrize("port", ["1", "443", "8080", "65535"])
def test_cors_origin_port_in_range_is_accepted(port: str) -> None:
    origin = f"https://app.erp.localhost:{port}"
    assert parse_settings({"corsOrigins": [origin]}, "t").edge.cors_origins == (origin,)
