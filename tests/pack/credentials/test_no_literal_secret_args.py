"""no-literal-secret-args: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, SECRET, UNKNOWN
from policies.credentials import no_literal_secret_args

pytestmark = pytest.mark.unit
RULE = no_literal_secret_args.RULE
CANARY = "Zq7hunter2Xk9"


@pytest.mark.parametrize("changes", [
    {"command": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/data"]},
    {"entrypoints": ["/bin/sh", "-c", 'ES_PASSWORD="$(cat "$ES_PASSWORD_FILE")"; export '
                     'ES_PASSWORD; exec "$0" "$@"', "/bin/elasticsearch_exporter"]},
    {"command": ["redis-server", "--requirepass", "$(cat /run/secrets/redis_password)"]},
    {"command": ["--password-file=/run/secrets/db_password"]},
    {"command": ["--requirepass", SECRET]},  # a Pulumi secret, redacted offline
    {"command": UNKNOWN},
    {"healthcheck": {"tests": ["CMD-SHELL", "redis-cli -a \"$(cat /run/secrets/redis)\" ping"]}},
    {"labels": [{"label": "rampart.service", "value": "auth"},
                {"label": "rampart.writable-root", "value": "the entrypoint writes /app"}]},
])
def test_commands_reading_secrets_from_files_pass(harness, changes):
    assert harness.resource(RULE, container(**changes)) == [], changes


@pytest.mark.parametrize("changes, expected", [
    ({"command": ["--es.password=" + CANARY]}, "command[0] holds a literal secret (value of "
                                                "--es.password)"),
    ({"command": ["redis-server", "--requirepass", CANARY]},
     "command[2] holds a literal secret (value of --requirepass)"),
    ({"entrypoints": ["redis-cli"], "command": ["-a", CANARY, "ping"]},
     "command[1] holds a literal secret (value of redis-cli -a)"),
    ({"entrypoints": ["sh", "-c", f"PGPASSWORD={CANARY} pg_dump -h db erp"]},
     "entrypoints[2] holds a literal secret (PGPASSWORD names a credential)"),
    ({"command": f"--db-url postgres://erp:{CANARY}@db:5432/erp"},
     "command[1] holds a literal secret (password in URL userinfo)"),
    ({"healthcheck": {"tests": ["CMD", "redis-cli", "-a", CANARY, "ping"]}},
     "healthcheck.tests[3] holds a literal secret (value of redis-cli -a)"),
    ({"healthcheck": {"test": f"redis-cli -a {CANARY} ping"}},
     "healthcheck.tests[1] holds a literal secret (value of redis-cli -a)"),
    ({"labels": {"rampart.service": "auth", "backup.password": CANARY}},
     "labels.backup.password holds a literal secret (names a credential)"),
])
def test_literal_secrets_fail_without_echoing_them(harness, changes, expected):
    found = harness.resource(RULE, container(**changes))
    assert found == [expected], found
    assert CANARY not in found[0]


def test_missing_fields_pass(harness):
    props = container(command=None, entrypoints=None, healthcheck=None, labels=None)
    assert harness.resource(RULE, props) == []


def test_kubernetes_command_and_args_are_one_argv(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(command=["redis-cli"], args=["-a", CANARY, "ping"])
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "container auth: args[1] holds a literal secret (value of redis-cli -a)"]


def test_waiver_override(harness):
    props = container(command=["--requirepass", CANARY])
    waived = settings(waiver(RULE.name, "auth", subject="command.1"))
    assert harness.resource(RULE, props, stack=waived) == []
    expired = settings(waiver(RULE.name, "auth", subject="command.1", expires="2026-11-22"))
    assert len(harness.resource(RULE, props, stack=expired)) == 1
