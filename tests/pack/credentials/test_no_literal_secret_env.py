"""no-literal-secret-env: compliant, non-compliant, property missing, waiver override."""

import pytest
from policy_harness import container, deployment, settings, waiver

from policies.core import K8S_DEPLOYMENT, SECRET
from policies.credentials import no_literal_secret_env

pytestmark = pytest.mark.unit
RULE = no_literal_secret_env.RULE


@pytest.mark.parametrize("env", [
    "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password",
    "JWT_SECRET=/run/secrets/jwt_secret",
    "REDIS_KEY_PREFIX=erp:",
    "JWT_KEY_ID=2026-11",
    "KEYCLOAK_URL=https://id.erp.example.com",
    "PEPPER=",
    f"MINIO_ROOT_PASSWORD={SECRET}",
])
def test_file_references_and_non_secrets_pass(harness, env):
    assert harness.resource(RULE, container(envs=["NODE_ENV=production", env])) == [], env


@pytest.mark.parametrize("name", ["POSTGRES_PASSWORD", "JWT_SECRET", "GITHUB_TOKEN", "API_KEY",
                                  "PEPPER", "RABBITMQ_DEFAULT_PASS", "S3_ACCESS_KEY"])
def test_literal_secret_values_fail_without_echoing_them(harness, name):
    found = harness.resource(RULE, container(envs=[f"{name}=hunter2"]))
    assert found == [f"environment variable {name} has a literal value"]
    assert "hunter2" not in found[0]


def test_missing_or_redacted_env_list_passes(harness):
    assert harness.resource(RULE, container(envs=None)) == []
    assert harness.resource(RULE, container(envs=SECRET)) == []


def test_kubernetes_literal_env_fails_secret_ref_passes(harness):
    assert harness.resource(RULE, deployment(), K8S_DEPLOYMENT, "auth") == []
    props = deployment(env=[{"name": "JWT_SECRET", "value": "changeme"}])
    assert harness.resource(RULE, props, K8S_DEPLOYMENT, "auth") == [
        "container auth: environment variable JWT_SECRET has a literal value (a known default "
        "password) (env[].value)"]


def test_waiver_override(harness):
    w = waiver(RULE.name, "auth", subject="LEGACY_API_KEY")
    props = container(envs=["LEGACY_API_KEY=abc"])
    assert harness.resource(RULE, props, stack=settings(w)) == []
    assert len(harness.resource(RULE, props, stack=settings(
        dict(w, expires="2026-11-22")))) == 1
