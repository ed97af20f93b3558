"""The one literal-secret detector (infra/secrets/literals.py), shared by the model and the
policy pack.

Property tests generate the variants (spellings of credential names, URL schemes and
userinfo, flag forms, option pairs, shell wrappings) instead of listing the cases issue 12
found; example tests pin the decisions either way (what is *not* a secret).
"""

from __future__ import annotations

import random
import shlex
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from infra.secrets import literals
from infra.secrets.literals import (
    WHY_DEFAULT,
    WHY_ENTROPY,
    WHY_FILE,
    WHY_NAME,
    WHY_URL,
    LiteralSecret,
    has_high_entropy,
    is_credential_name,
    scan_argv,
    scan_env,
    scan_text,
)
from infra.secrets.strength import DENYLIST_EXACT

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROFILE = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

# -- generators ---------------------------------------------------------------------------------

CREDENTIAL_WORDS = ["password", "passwd", "pass", "pwd", "pw", "passphrase", "secret", "token",
                    "key", "apikey", "auth", "credential", "credentials", "creds", "pepper",
                    "cookie", "salt"]
COMPOUNDS = [["api", "key"], ["private", "key"], ["secret", "key"], ["access", "token"],
             ["client", "secret"], ["auth", "token"], ["signing", "key"], ["requirepass"],
             ["masterauth"], ["rootpassword"]]
# ordinary words that carry no credential meaning themselves
PLAIN_WORDS = ["postgres", "smtp", "db", "jwt", "app", "redis", "admin", "root", "minio",
               "es", "mail", "ldap", "svc", "x", "my", "new", "old", "backup",
               "gitlab", "oidc", "s3", "grafana", "v2"]


def spell(words: list[str], style: str) -> str:
    if style == "UPPER_SNAKE":
        return "_".join(words).upper()
    if style == "lower_snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "Upper-Kebab":
        return "-".join(w.capitalize() for w in words)
    if style == "dotted":
        return ".".join(words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return "".join(w.capitalize() for w in words)  # Pascal


STYLES = ["UPPER_SNAKE", "lower_snake", "kebab", "Upper-Kebab", "dotted", "camel", "Pascal"]


@st.composite
def credential_names(draw: st.DrawFn) -> str:
    before = draw(st.lists(st.sampled_from(PLAIN_WORDS), max_size=2))
    credential = draw(st.one_of(st.sampled_from(CREDENTIAL_WORDS).map(lambda w: [w]),
                                st.sampled_from(COMPOUNDS)))
    # a trailing plain word after the credential word (`DB_PASSWORD_NEW`) still names one
    after = draw(st.lists(st.sampled_from(["new", "old", "2", "prod", "b64"]), max_size=1))
    words = [*before, *credential, *after]
    if "".join(words) in ("pwd", "oldpwd"):
        # `PWD` and `OLDPWD` (also spelled `oldPwd`) are the shell's working directories
        words = ["db", "pwd"]
    return spell(words, draw(st.sampled_from(STYLES)))


# literal values: no reference syntax, not a boolean word, not empty, no shell quoting
literal_values = st.text(alphabet=string.ascii_letters + string.digits + "!%^*+,.:~_-",
                         min_size=3, max_size=24).filter(
    lambda v: v.lower() not in {"true", "false", "yes", "no", "on", "off", "none", "null",
                                "enabled", "disabled"} and not v.startswith("-"))

SECRET_MARK = "Mk7"  # noqa: S105 - a marker every generated secret carries; never echoed


# -- names ------------------------------------------------------------------------------------

@PROFILE
@given(name=credential_names())
def test_credential_names_in_any_spelling(name: str) -> None:
    assert is_credential_name(name), name


@PROFILE
@given(name=credential_names(), value=literal_values)
def test_env_literal_under_a_credential_name_is_refused(name: str, value: str) -> None:
    secret = SECRET_MARK + value
    found = scan_env({name: secret})
    assert found, f"{name}=<literal> not flagged"
    assert found[0].where == f"environment.{name}"
    assert found[0].why in (WHY_NAME, WHY_DEFAULT)
    for finding in found:
        assert secret not in str(finding) and SECRET_MARK not in finding.why


@pytest.mark.parametrize("name", [
    "KEYCLOAK_URL", "MONKEY", "AUTHOR", "HOCKEY_TEAM", "PASSIVE_MODE", "BYPASS_CACHE",
    "COMPASS_HEADING", "KEYSPACE", "TOKENIZER_MODEL", "SECRETARY", "PUBLIC_KEY",
    "PARTITION_KEY", "ROUTING_KEY", "AUTH_SERVICE_URL", "PASSWORD_MIN_LENGTH",
    "GF_AUTH_ANONYMOUS_ENABLED", "TOKEN_TTL", "JWT_ALGORITHM", "MINIO_ROOT_USER",
    "BACKUP_S3_ACCESS_KEY_ID", "PWD", "OLDPWD", "POSTGRES_PASSWORD_FILE", "password_encryption",
    "KURRENTDB_TRUSTED_ROOT_CERTIFICATES_PATH", "MINIO_PROMETHEUS_AUTH_TYPE",
])
def test_names_that_are_not_credentials(name: str) -> None:
    assert not is_credential_name(name), name


@PROFILE
@given(name=credential_names(), value=st.sampled_from([
    "", "${X}", "$X", "${DB_PW:-}", "${DB_PW:?set it}", "/run/secrets/x",
    "/run/secrets/postgres_password", "$(cat /run/secrets/x)", '"$(cat "$X_FILE")"',
    "$(< /run/secrets/x)", "`cat /run/secrets/x`", "true", "false", "0", "off"]))
def test_references_are_not_literals(name: str, value: str) -> None:
    assert scan_env({name: value}) == [], (name, value)


@PROFILE
@given(name=credential_names(), suffix=st.sampled_from(["FILE", "file", "Path", "_DIR"]),
       bad=st.sampled_from(["/etc/pw", "/run/secrets/../etc/shadow", "hunter2", "/srv/app/pw"]))
def test_credential_files_come_from_the_secret_store(name: str, suffix: str, bad: str) -> None:
    key = f"{name}_{suffix}" if not suffix.startswith("_") else name + suffix
    assume(literals.is_credential_file_name(key))
    assert scan_env({key: "/run/secrets/" + "x"}) == []
    assert [f.why for f in scan_env({key: bad})][:1] == [WHY_FILE], key


def test_file_names_of_the_catalog_are_credential_files() -> None:
    for key in ("POSTGRES_PASSWORD_FILE", "GF_SECURITY_ADMIN_PASSWORD__FILE",
                "KURRENTDB_CERTIFICATE_PRIVATE_KEY_FILE", "REPO_CIPHER_PASS_FILE"):
        assert literals.is_credential_file_name(key), key


# -- URL userinfo -------------------------------------------------------------------------------

schemes = st.one_of(
    st.sampled_from(["postgres", "postgresql", "redis", "rediss", "amqp", "mongodb+srv",
                     "mysql", "http", "https", "s3", "jdbc:postgresql", "kafka", "nats"]),
    st.from_regex(r"[a-z][a-z0-9+.-]{0,8}", fullmatch=True),
)
userinfo_chars = string.ascii_letters + string.digits + "-._~!$&()*+,;=%"


@PROFILE
@given(scheme=schemes, user=st.text(alphabet=userinfo_chars, max_size=8).filter(
           lambda u: "$" not in u),
       password=st.text(alphabet=userinfo_chars + ":", min_size=1, max_size=16).filter(
           lambda p: not p.startswith("$")),
       host=st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5})?(:[0-9]{2,5})?", fullmatch=True),
       before=st.sampled_from(["", "url=", "--dsn ", "jdbc:", "x "]),
       after=st.sampled_from(["", "/db", "/db?sslmode=require", " more"]))
def test_password_in_url_userinfo(scheme: str, user: str, password: str, host: str,
                                  before: str, after: str) -> None:
    text = f"{before}{scheme}://{user}:{SECRET_MARK}{password}@{host}{after}"
    found = scan_text(text, "labels.x")
    assert LiteralSecret("labels.x", WHY_URL) in found, text
    assert all(SECRET_MARK not in f.why for f in found)
    assert WHY_URL in [f.why for f in scan_env({"DATABASE_URL": text})]


@pytest.mark.parametrize("text", [
    "postgres://user@db:5432/erp", "redis://redis:6379", "http://127.0.0.1:9200/_health",
    "postgres://user:${PGPASSWORD}@db/erp", "postgres://user:@db/erp",
    "registry.example/erp/app:1.2.3@sha256:" + "ab" * 32,
])
def test_urls_without_a_literal_password(text: str) -> None:
    assert scan_text(text, "x") == [], text


# -- flags and option pairs ----------------------------------------------------------------------

@st.composite
def credential_flags(draw: st.DrawFn) -> str:
    words = [*draw(st.lists(st.sampled_from(["es", "db", "redis", "web", "s3", "smtp"]),
                            max_size=2)),
             *draw(st.sampled_from([["password"], ["pass"], ["requirepass"], ["api", "key"],
                                    ["secret"], ["token"], ["auth", "token"], ["key"],
                                    ["passwd"], ["masterauth"], ["client", "secret"]]))]
    sep = draw(st.sampled_from(["-", ".", "_"]))
    return draw(st.sampled_from(["--", "-"])) + sep.join(words)


def wrap_in_shell(argv: list[str]) -> list[str]:
    return ["sh", "-c", shlex.join(argv)]


@PROFILE
@given(flag=credential_flags(), value=literal_values, form=st.sampled_from(["eq", "next"]),
       shell=st.booleans(), program=st.sampled_from(["app", "/usr/bin/server", "exec app"]))
def test_credential_flags_with_a_literal(flag: str, value: str, form: str, shell: bool,
                                         program: str) -> None:
    secret = SECRET_MARK + value
    args = [f"{flag}={secret}"] if form == "eq" else [flag, secret]
    argv = [*program.split(), *args, "--port", "3000"]
    index = len(argv) - 3 if form == "eq" else len(argv) - 3
    if shell:
        argv, index = wrap_in_shell(argv), 2
    found = scan_argv(argv, "command")
    assert found, argv
    assert found[0].where == f"command[{index}]", (argv, found)
    assert found[0].why.startswith("value of") or found[0].why == WHY_DEFAULT, found
    assert all(SECRET_MARK not in f.why for f in found)


@pytest.mark.parametrize("argv", [
    ["app", "--password-file", "/run/secrets/x"],
    ["app", "--password-file=/run/secrets/x"],
    ["redis-cli", "--no-auth-warning", "ping"],
    ["app", "--api-key", "$API_KEY"],
    ["app", "--token=${TOKEN}"],
    ["postgres", "-c", "password_encryption=scram-sha-256"],
    ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres"],
    ["docker", "run", "-p", "8080:80", "app"],
    ["kafka-topics.sh", "--bootstrap-server", "kafka:9093", "--partition-key", "id"],
])
def test_arguments_that_are_not_literals(argv: list[str]) -> None:
    assert scan_argv(argv, "command") == [], argv
    assert scan_argv(wrap_in_shell(argv), "command") == [], argv


OPTION_PAIRS = [
    (["redis-cli", "-a", "{s}", "ping"], 2, "value of redis-cli -a"),
    (["valkey-cli", "-h", "cache", "-a", "{s}"], 4, "value of valkey-cli -a"),
    (["mysql", "-u", "root", "-p{s}", "erp"], 3, "value of mysql -p"),
    (["mysqldump", "-p", "{s}", "erp"], 2, "value of mysqldump -p"),
    (["mariadb", "-p{s}"], 1, "value of mariadb -p"),
    (["mongosh", "-u", "admin", "-p", "{s}"], 4, "value of mongosh -p"),
    (["sshpass", "-p", "{s}", "ssh", "host"], 2, "value of sshpass -p"),
    (["curl", "-u", "elastic:{s}", "http://es:9200"], 2, "value of curl -u"),
    (["curl", "--user=elastic:{s}", "http://es:9200"], 1, "value of curl --user"),
    (["rabbitmqctl", "add_user", "erp", "{s}"], 3, "value of rabbitmqctl add_user"),
    (["mc", "alias", "set", "m", "http://minio:9000", "admin", "{s}"], 6,
     "value of mc alias set"),
    (["docker", "login", "-u", "ci", "-p", "{s}", "registry"], 5, "value of docker -p"),
]


@PROFILE
@given(case=st.sampled_from(OPTION_PAIRS), value=literal_values, shell=st.booleans(),
       prefix=st.sampled_from([[], ["exec"], ["env", "TZ=UTC"], ["timeout", "5"]]))
def test_known_option_pairs(case: tuple[list[str], int, str], value: str, shell: bool,
                            prefix: list[str]) -> None:
    template, index, why = case
    secret = SECRET_MARK + value
    argv = [*prefix, *(item.replace("{s}", secret) for item in template)]
    index += len(prefix)
    if shell:
        argv, index = wrap_in_shell(argv), 2
    found = scan_argv(argv, "health.command")
    assert found, argv
    assert found[0].where == f"health.command[{index}]", (argv, found)
    assert found[0].why in (why, WHY_DEFAULT), found
    # the same with the secret read from the secret store is fine
    fine = [*prefix, *(item.replace("{s}", "$(cat /run/secrets/x)") for item in template)]
    assert scan_argv(wrap_in_shell(fine), "c") == [], fine


@PROFILE
@given(name=credential_names().filter(lambda n: n.replace("_", "").isalnum()),
       value=literal_values, form=st.sampled_from(["{a} exec app", "export {a}; exec app",
                                                   "set -e; {a}; app", "env {a} app"]),
       quote=st.sampled_from(["", "'", '"']))
def test_shell_assignments(name: str, value: str, form: str, quote: str) -> None:
    assume(name[0].isalpha() and "." not in name and "-" not in name)
    assignment = f"{name}={quote}{SECRET_MARK}{value}{quote}"
    found = scan_argv(["/bin/sh", "-c", form.format(a=assignment)], "entrypoint")
    assert found and found[0].where == "entrypoint[2]", (form, assignment, found)
    assert all(SECRET_MARK not in f.why for f in found)


def test_the_issue_cases() -> None:
    assert scan_env({"POSTGRES_PWD": "hunter2hunter2"})[0].why == WHY_NAME
    assert scan_env({"DATABASE_URL": "postgres://erp:hunter2@postgres:5432/erp"})[0].why \
        == WHY_URL
    assert scan_argv(["--es.password=X1"], "command")[0].why == "value of --es.password"
    assert scan_argv(["redis-server", "--requirepass", "X1"], "command")[0] == \
        LiteralSecret("command[2]", "value of --requirepass")
    assert scan_argv(["CMD", "sh", "-c", "redis-cli -a hunter2 ping"], "healthcheck.test") \
        == [LiteralSecret("healthcheck.test[3]", "value of redis-cli -a")]
    assert scan_env({"SMTP_PASS": "x1"})[0].why == WHY_NAME
    assert scan_env({"JWT_KEY": "x1"})[0].why == WHY_NAME


@pytest.mark.parametrize("prefix", [["CMD"], ["CMD-SHELL"], ["exec"], ["env", "-i"],
                                    ["/usr/bin/env", "A=1"], ["timeout", "5s"]])
def test_option_pairs_after_wrappers(prefix: list[str]) -> None:
    """As a rendered Docker health check (`tests: [CMD, ...]`) or behind exec wrappers."""
    argv = [*prefix, "redis-cli", "-a", "x1", "ping"]
    assert scan_argv(argv, "healthcheck.tests") == [
        LiteralSecret(f"healthcheck.tests[{len(prefix) + 2}]", "value of redis-cli -a")]


def test_pgpassword_before_a_program() -> None:
    found = scan_text("PGPASSWORD=hunter2 psql -h db", "command")
    assert found == [LiteralSecret("command", "PGPASSWORD names a credential")]
    assert scan_text('PGPASSWORD="$(cat /run/secrets/pg)" psql', "command") == []
    assert scan_text('PGPASSWORD="$(echo hunter2)" psql', "command")[0].why == \
        literals.WHY_SUBSTITUTION


def test_catalog_scripts_are_fine() -> None:
    """The shipped catalog's scripts read every secret from its file."""
    for script in (
        'set -e; ES_PASSWORD="$(cat "$ES_PASSWORD_FILE")"; [ -n "$ES_PASSWORD" ] || '
        '{ echo "$ES_PASSWORD_FILE is empty" >&2; exit 1; }; export ES_PASSWORD; exec "$0" "$@"',
        'printf "requirepass %s\\n" "$(cat /run/secrets/redis_password)" > /tmp/redis.conf '
        '&& exec redis-server /tmp/redis.conf --appendonly yes --protected-mode yes',
        'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli ping | grep -q PONG',
        'curl -fsS -u "elastic:$(cat /run/secrets/elastic_password)" '
        '"http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s"',
        'RABBITMQ_DEFAULT_PASS="$(cat /run/secrets/rabbitmq_default_pass)" '
        'exec docker-entrypoint.sh rabbitmq-server',
        'secret=$(cat "$2")',
    ):
        assert scan_argv(["/bin/sh", "-c", script], "entrypoint") == [], script


# -- defaults -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", sorted(DENYLIST_EXACT))
def test_known_defaults_in_a_credential_position(value: str) -> None:
    assert scan_env({"DB_PASSWORD": value}) == [
        LiteralSecret("environment.DB_PASSWORD", WHY_DEFAULT)], value
    assert WHY_DEFAULT in [f.why for f in scan_argv(["app", f"--password={value}"], "c")]


def test_unmistakable_defaults_anywhere() -> None:
    for value in ("changeme", "minio123", "foobared", "erpgo-jwt-secret", "P@ssw0rd"):
        assert WHY_DEFAULT in [f.why for f in scan_env({"SETTING": value})], value
        assert WHY_DEFAULT in [f.why for f in scan_argv(["app", value], "command")], value


@pytest.mark.parametrize(("key", "value"), [
    ("POSTGRES_USER", "postgres"), ("GF_SECURITY_ADMIN_USER", "admin"), ("DB", "postgres12"),
    ("RABBITMQ_DEFAULT_USER", "guest"), ("MODE", "default"), ("ES_USERNAME", "elastic"),
])
def test_ordinary_words_outside_a_credential_position(key: str, value: str) -> None:
    assert scan_env({key: value}) == []


# -- entropy ------------------------------------------------------------------------------------

def test_random_values_are_high_entropy() -> None:
    """Statistical, with a fixed seed: the rates the module documents, with a margin."""
    rng = random.Random(12)  # noqa: S311 - a fixed seed makes the rate reproducible
    alnum = string.ascii_letters + string.digits
    b62_32 = sum(has_high_entropy("".join(rng.choice(alnum) for _ in range(32)))
                 for _ in range(400))
    b62_20 = sum(has_high_entropy("".join(rng.choice(alnum) for _ in range(20)))
                 for _ in range(400))
    assert b62_32 >= 0.94 * 400, b62_32
    assert b62_20 >= 0.88 * 400, b62_20


@PROFILE
@given(hex_value=st.text(alphabet="0123456789abcdef", min_size=32, max_size=96))
def test_hex_keys_and_digests(hex_value: str) -> None:
    assume(any(c.isdigit() for c in hex_value) and any(c.isalpha() for c in hex_value))
    assert has_high_entropy(hex_value)
    assert scan_env({"SIGNING": hex_value})[0].why == WHY_ENTROPY
    for digest in (f"sha256:{hex_value}", f"image@sha512:{hex_value}"):
        assert not has_high_entropy(digest), digest


@PROFILE
@given(words=st.lists(st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True), min_size=3,
                      max_size=8), sep=st.sampled_from(["", ".", "_", "$"]))
def test_identifiers_are_not_high_entropy(words: list[str], sep: str) -> None:
    camel = sep.join(words)
    assert not has_high_entropy(camel), camel
    assert not has_high_entropy(camel[0].lower() + camel[1:])


@PROFILE
@given(value=st.uuids())
def test_uuids_are_identifiers(value: object) -> None:
    assert not has_high_entropy(str(value))
    assert scan_env({"TENANT": str(value)}) == []
    assert scan_env({"API_TOKEN": str(value)})[0].why == WHY_NAME  # but not as a credential


def test_identifier_keys_skip_entropy() -> None:
    random_id = "Zq8vR2mK9wP4xT7nL3bHc6Yd"
    assert scan_env({"KAFKA_CLUSTER_ID": random_id}) == []
    assert scan_env({"KAFKA_CLUSTER": random_id})[0].why == WHY_ENTROPY


@pytest.mark.parametrize("text", [
    "/var/lib/postgresql/data", "-XX:+UseContainerSupport -XX:MaxRAMPercentage=75.0",
    "CLIENT://:9093,CONTROLLER://:9094", "--collector.textfile.directory=/var/lib/prometheus",
    "org.apache.kafka.common.security.plain.PlainLoginModule", "RELEASE.2025-04-22T22-12-26Z",
    "docker.io/library/postgres:16.15-bookworm@sha256:" + "e7ae8642" * 8,
    "1700000000000000000000",
])
def test_ordinary_values_are_not_high_entropy(text: str) -> None:
    assert not has_high_entropy(text), text


# -- robustness ---------------------------------------------------------------------------------

@PROFILE
@given(text=st.text(max_size=200))
def test_any_text_is_scanned_without_error(text: str) -> None:
    for finding in scan_text(text, "x"):
        assert finding.where == "x" and "\n" not in finding.why
    scan_argv(text.split(" "), "argv")
    scan_env({"K": text, text[:20] or "E": text})


@pytest.mark.parametrize("text", ["echo 'unbalanced", 'a "b', "x=\\", "$(", "`", "$((1+2))",
                                  "redis-cli -a 'x"])
def test_bad_quoting_is_tolerated(text: str) -> None:
    scan_text(text, "x")


def test_imported_first_and_pure() -> None:
    """The policy pack imports this module on its own: no import cycle through infra.model,
    no Pulumi, no network modules."""
    code = ("import sys; from infra.secrets.literals import scan_env; "
            "assert scan_env({'DB_PASSWORD': 'x1'}); "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'hvac', 'requests', 'socket', 'urllib3')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
