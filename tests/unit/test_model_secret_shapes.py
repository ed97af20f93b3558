"""Issue 12, items 1 (model side): secrets by value and shape, refused by the model before
anything renders, with one line naming the file, the service and the field — never the value.

The detector itself is tested in test_secret_literals.py; here it is the model's use of it:
every catalog field that reaches a container is scanned (a canary planted in each is refused
and never echoed, through the model and through `rampart render`), the stack's settings too,
and the catalogs that must build still do.
"""

from __future__ import annotations

import copy
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.main import app
from infra.model import DEFAULT_CATALOG, build_platform, build_platform_from_data
from infra.model.errors import ValidationError
from infra.model.types import Platform
from infra.offline import engine
from infra.secrets.literals import has_high_entropy, scan_argv, scan_env, scan_text

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROFILE = settings(max_examples=80, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow,
                                          HealthCheck.function_scoped_fixture])
LITERAL_WORDS = "secret declared with a literal value"

DIGEST = "sha256:" + "ab" * 32
VERSIONS: dict[str, Any] = {"images": {
    "pg": {"repository": "docker.io/library/postgres", "tag": "16.9-bookworm", "digest": DIGEST},
    "app": {"repository": "registry.example/erp/app", "tag": "1.2.3", "digest": DIGEST},
}}
CATALOG: dict[str, Any] = {"platform": "erp", "services": {
    "db": {"group": "infra", "image": "pg", "port": 5432, "stateful": True, "user": "999:999",
           "volumes": {"db-data": "/var/lib/postgresql/data"},
           "secrets": {"POSTGRES_PASSWORD": {"kind": "password",
                                             "env": "POSTGRES_PASSWORD_FILE"}},
           "health": {"command": ["pg_isready", "-h", "127.0.0.1"]},
           "backup_exempt": "test data"},
    "api": {"group": "core", "image": "app", "port": 3001, "depends_on": ["db"],
            "user": "1000:1000", "health": {"ready": "/health/ready", "live": "/health/live"},
            "metrics": {"path": "/metrics"},
            "environment": {"NODE_ENV": "production", "DB_HOST": "db"},
            "secrets": {"POSTGRES_PASSWORD": {"from": "db", "env": "POSTGRES_PASSWORD_FILE"}}},
    "gateway": {"group": "edge", "image": "app", "port": 4000, "exposure": "public",
                "depends_on": ["api"], "user": "1000:1000",
                "route": {"host": "api.{domain}", "login_paths": ["/auth/login"]},
                "health": {"ready": "/health/ready"}},
}}


def build(mutate: Callable[[dict[str, Any]], None],
          stack: dict[str, Any] | None = None) -> Platform:
    catalog = copy.deepcopy(CATALOG)
    mutate(catalog)
    return build_platform_from_data(catalog, copy.deepcopy(VERSIONS), stack,
                                    catalog_file="catalog.yaml", versions_file="versions.yaml",
                                    settings_source="Pulumi.test.yaml")


def refused(mutate: Callable[[dict[str, Any]], None], *, service: str | None, field: str,
            secret: str, stack: dict[str, Any] | None = None,
            file: str = "catalog.yaml") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build(mutate, stack)
    err = info.value
    text = str(err)
    assert (err.file, err.service, err.field) == (file, service, field), text
    assert LITERAL_WORDS in err.message, text
    assert "\n" not in text
    assert secret not in text, f"the value was echoed: {text}"
    return err


def svc(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return catalog["services"][name]


def test_the_base_catalog_builds() -> None:
    platform = build(lambda c: None)
    assert platform.service("api").environment == (("DB_HOST", "db"), ("NODE_ENV", "production"))


# -- the cases issue 12 lists -------------------------------------------------------------------

ISSUE_CASES = [
    ("env-pwd", lambda c: svc(c, "api")["environment"].update({"POSTGRES_PWD": "hunter2hunter2"}),
     "environment.POSTGRES_PWD", "hunter2hunter2", "names a credential"),
    ("database-url", lambda c: svc(c, "api")["environment"].update(
        DATABASE_URL="postgres://erp:hunter2hunter2@db:5432/erp"),
     "environment.DATABASE_URL", "hunter2hunter2", "password in URL userinfo"),
    ("es-password-flag", lambda c: svc(c, "api").update(
        command=["--es.uri=http://es:9200", "--es.password=hunter2hunter2"]),
     "command[1]", "hunter2hunter2", "value of --es.password"),
    ("requirepass-next-item", lambda c: svc(c, "db").update(
        command=["redis-server", "--requirepass", "hunter2hunter2"]),
     "command[2]", "hunter2hunter2", "value of --requirepass"),
    ("redis-cli-a-in-health", lambda c: svc(c, "db").update(
        health={"command": ["sh", "-c", "redis-cli -a hunter2hunter2 ping | grep -q PONG"]}),
     "health.command[2]", "hunter2hunter2", "value of redis-cli -a"),
    ("smtp-pass", lambda c: svc(c, "api")["environment"].update({"SMTP_PASS": "hunter2hunter2"}),
     "environment.SMTP_PASS", "hunter2hunter2", "names a credential"),
    ("jwt-key", lambda c: svc(c, "api")["environment"].update({"JWT_KEY": "hunter2hunter2"}),
     "environment.JWT_KEY", "hunter2hunter2", "names a credential"),
    ("known-default", lambda c: svc(c, "api")["environment"].update({"REDIS_PASSWORD": "foobared"}),
     "environment.REDIS_PASSWORD", "foobared", "a known default password"),
    ("entrypoint-and-command-together", lambda c: svc(c, "api").update(
        entrypoint=["redis-cli"], command=["-h", "cache", "-a", "hunter2hunter2"]),
     "command[3]", "hunter2hunter2", "value of redis-cli -a"),
    ("label-from-backup-exempt", lambda c: svc(c, "db").update(
        backup_exempt="restore with https://ops:hunter2hunter2@backup.example/erp"),
     "backup_exempt", "hunter2hunter2", "password in URL userinfo"),
    ("credential-file-elsewhere", lambda c: svc(c, "api")["environment"].update(
        {"JWT_SECRET_FILE": "/etc/erp/jwt"}),
     "environment.JWT_SECRET_FILE", "/etc/erp/jwt", "credential file outside /run/secrets"),
]


@pytest.mark.parametrize(("mutate", "field", "secret", "why"),
                         [case[1:] for case in ISSUE_CASES], ids=[c[0] for c in ISSUE_CASES])
def test_issue_cases_are_refused(mutate: Callable[[dict[str, Any]], None], field: str,
                                 secret: str, why: str) -> None:
    with pytest.raises(ValidationError) as info:
        build(mutate)
    err = info.value
    assert err.file == "catalog.yaml" and err.service in ("api", "db"), str(err)
    assert err.field == field, str(err)
    assert why in err.message and LITERAL_WORDS in err.message, str(err)
    assert secret not in str(err) and "\n" not in str(err)


# -- generated shapes through the model --------------------------------------------------------

CREDENTIAL_WORDS = ["PASSWORD", "PASS", "PWD", "PASSWD", "SECRET", "TOKEN", "KEY", "API_KEY",
                    "CREDENTIALS", "AUTH", "PRIVATE_KEY", "ACCESS_TOKEN", "CLIENT_SECRET"]
secret_values = st.text(alphabet="abcdefghjkmnpqrstuvwxyz23456789", min_size=10,
                        max_size=20).map(lambda v: "Qx" + v)


@PROFILE
@given(prefix=st.sampled_from(["POSTGRES", "SMTP", "JWT", "DB", "REDIS", "APP", "ES", "LDAP"]),
       word=st.sampled_from(CREDENTIAL_WORDS),
       style=st.sampled_from(["upper", "lower", "kebab", "camel"]), value=secret_values)
def test_credential_environment_names_any_spelling(prefix: str, word: str, style: str,
                                                   value: str) -> None:
    parts = [prefix, *word.split("_")]
    name = {"upper": "_".join(parts), "lower": "_".join(parts).lower(),
            "kebab": "-".join(parts).lower(),
            "camel": parts[0].lower() + "".join(p.capitalize() for p in parts[1:])}[style]
    if style == "kebab":
        name = name.replace("-", "_")  # environment names are identifiers in the catalog
    refused(lambda c: svc(c, "api")["environment"].update({name: value}), service="api",
            field=f"environment.{name}", secret=value)


ARGV_SHAPES = [
    (["--db.password={s}"], 0), (["--requirepass", "{s}"], 1), (["--api-key={s}"], 0),
    (["--auth-token", "{s}"], 1), (["-Dspring.datasource.password={s}"], 0),
    (["redis-cli", "-a", "{s}", "ping"], 2), (["mysql", "-p{s}"], 1),
    (["curl", "-u", "admin:{s}", "http://x"], 2),
    (["psql", "postgresql://erp:{s}@db/erp"], 1),
]


@PROFILE
@given(shape=st.sampled_from(ARGV_SHAPES), field=st.sampled_from(
    ["command", "entrypoint", "health.command"]), shell=st.booleans(), value=secret_values)
def test_argument_shapes_in_every_argv_field(shape: tuple[list[str], int], field: str,
                                             shell: bool, value: str) -> None:
    template, index = shape
    argv = [item.replace("{s}", value) for item in template]
    if shell:
        argv, index = ["/bin/sh", "-c", shlex.join(argv)], 2

    def mutate(c: dict[str, Any]) -> None:
        if field == "health.command":
            svc(c, "db")["health"] = {"command": argv}
        else:
            svc(c, "db")[field] = argv

    refused(mutate, service="db", field=f"{field}[{index}]", secret=value)


# -- the canary: every field that reaches a container -------------------------------------------

CANARY = "Qm7Zr2Lp9xWm4nKt8vBc1yHd"  # random-looking: refused by entropy wherever it is
LOW_CANARY = "canaryvalue"  # not random: refused by the shape around it


def canary_shapes() -> list[tuple[str, str]]:
    return [("alone", CANARY), ("path", f"/data/{CANARY}"),
            ("url", f"postgres://erp:{LOW_CANARY}@db:5432/erp"),
            ("flag", f"--password={LOW_CANARY}"), ("shell", f"redis-cli -a {LOW_CANARY} ping")]


# (id, where the canary goes, service, expected field or None = any field of that service)
CANARY_FIELDS: list[tuple[str, Callable[[dict[str, Any], str], None], str, str | None]] = [
    ("environment-value", lambda c, v: svc(c, "api")["environment"].update(MODE=v), "api",
     "environment.MODE"),
    ("environment-credential", lambda c, v: svc(c, "api")["environment"].update(API_TOKEN=v),
     "api", "environment.API_TOKEN"),
    ("entrypoint", lambda c, v: svc(c, "api").update(entrypoint=["/bin/app", v]), "api",
     "entrypoint[1]"),
    ("command", lambda c, v: svc(c, "api").update(command=["--flag", v]), "api", None),
    ("health-command", lambda c, v: svc(c, "db")["health"].update(command=["check", v]), "db",
     "health.command[1]"),
    ("health-ready", lambda c, v: svc(c, "api")["health"].update(ready=v), "api",
     "health.ready"),
    ("health-live", lambda c, v: svc(c, "api")["health"].update(live=v), "api", "health.live"),
    ("metrics-path", lambda c, v: svc(c, "api")["metrics"].update(path=v), "api",
     "metrics.path"),
    ("route-host", lambda c, v: svc(c, "gateway")["route"].update(host=v), "gateway",
     "route.host"),
    ("route-prefix", lambda c, v: svc(c, "gateway")["route"].update(path_prefix=v), "gateway",
     "route.path_prefix"),
    ("route-login", lambda c, v: svc(c, "gateway")["route"].update(login_paths=[v]),
     "gateway", "route.login_paths[0]"),
    ("backup-exempt-label", lambda c, v: svc(c, "db").update(backup_exempt=v), "db",
     "backup_exempt"),
    ("writable-root-label", lambda c, v: svc(c, "api").update(writable_root=v), "api",
     "writable_root"),
    ("one-shot-label", lambda c, v: svc(c, "api").update(one_shot=v), "api", "one_shot"),
    ("user", lambda c, v: svc(c, "api").update(user=v), "api", "user"),
    ("volume-path", lambda c, v: svc(c, "db")["volumes"].update({"db-data": v}), "db",
     "volumes.db-data"),
    ("volume-host-path", lambda c, v: svc(c, "db")["volumes"].update(
        {"db-data": {"path": "/data", "host_path": v}}), "db", "volumes.db-data.host_path"),
    ("writable-paths", lambda c, v: svc(c, "api").update(writable_paths=[v]), "api",
     "writable_paths[0]"),
    ("cap-add", lambda c, v: svc(c, "api").update(cap_add=[v]), "api", "cap_add[0]"),
    ("networks", lambda c, v: svc(c, "api").update(networks=[v]), "api", "networks[0]"),
    ("depends-on", lambda c, v: svc(c, "api").update(depends_on=[v]), "api",
     "depends_on[0]"),
    ("image", lambda c, v: svc(c, "api").update(image=v), "api", "image"),
    ("group", lambda c, v: svc(c, "api").update(group=v), "api", "group"),
    ("exposure", lambda c, v: svc(c, "api").update(exposure=v), "api", "exposure"),
    ("secret-file", lambda c, v: svc(c, "db")["secrets"]["POSTGRES_PASSWORD"].update(file=v),
     "db", "secrets.POSTGRES_PASSWORD.file"),
    ("secret-env", lambda c, v: svc(c, "db")["secrets"]["POSTGRES_PASSWORD"].update(env=v),
     "db", "secrets.POSTGRES_PASSWORD.env"),
    ("backup", lambda c, v: svc(c, "db").update(backup=v, backup_exempt=None), "db", "backup"),
]


def test_the_canary_is_random_looking() -> None:
    assert has_high_entropy(CANARY) and not has_high_entropy(LOW_CANARY)


@pytest.mark.parametrize("shape", canary_shapes(), ids=[s[0] for s in canary_shapes()])
@pytest.mark.parametrize(("plant", "service", "field"), [c[1:] for c in CANARY_FIELDS],
                         ids=[c[0] for c in CANARY_FIELDS])
def test_canary_in_every_container_field(plant: Callable[[dict[str, Any], str], None],
                                         service: str, field: str | None,
                                         shape: tuple[str, str]) -> None:
    _, value = shape
    with pytest.raises(ValidationError) as info:
        build(lambda c: plant(c, value))
    err = info.value
    text = str(err)
    assert CANARY not in text and LOW_CANARY not in text, f"canary echoed: {text}"
    assert err.service == service and LITERAL_WORDS in err.message, text
    if field is not None:
        assert err.field == field, text


def test_canary_as_an_environment_name() -> None:
    """The key is the secret: the field named is the block, not the key."""
    err = refused(lambda c: svc(c, "api")["environment"].update({CANARY: "1"}), service="api",
                  field="environment", secret=CANARY)
    assert "in a key" in err.message


def test_canary_as_an_unknown_service_key() -> None:
    """An unknown key is normally quoted back (`unknown key`); not when it is a secret."""
    refused(lambda c: svc(c, "api").update({CANARY: "x"}), service="api", field=None,
            secret=CANARY)


def test_description_is_documentation_only() -> None:
    """`description` never reaches a container; prose about passwords is fine there."""
    platform = build(lambda c: svc(c, "api").update(
        description="reads --password from the file; see redis-cli -a docs"))
    assert platform.service("api")


# -- the stack file -----------------------------------------------------------------------------

@pytest.mark.parametrize(("stack", "field"), [
    ({"acmeCaServer": f"https://acme:{LOW_CANARY}@ca.example/directory"}, "acmeCaServer"),
    ({"corsOrigins": [f"https://u:{LOW_CANARY}@app.example.com"]}, "corsOrigins[0]"),
    ({"domain": CANARY}, "domain"),
    ({"adminAllowlist": [CANARY]}, "adminAllowlist[0]"),
    ({CANARY: "x"}, None),
])
def test_literal_secrets_in_the_stack_file(stack: dict[str, Any], field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        build(lambda c: None, stack)
    err = info.value
    text = str(err)
    assert (err.file, err.service, err.field) == ("Pulumi.test.yaml", None, field), text
    assert LITERAL_WORDS in err.message and "Vault" in err.message, text
    assert CANARY not in text and LOW_CANARY not in text, text


def test_keys_other_modules_own_are_theirs_to_judge() -> None:
    # `vaultAddr` is infra/secrets' key; the model lets it pass (that module refuses it)
    assert build(lambda c: None, {"vaultAddr": "https://vault.example:8200"})


# -- through the command line: `rampart render` ----------------------------------------------------

STACK_FILE = "config:\n  rampart:catalog: bad-catalog/catalog.yaml\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "bad-catalog").mkdir(parents=True)
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, root / name)
    (root / "Pulumi.bad.yaml").write_text(STACK_FILE, encoding="utf-8")
    return root


def _write_catalog(project: Path, plant: Callable[[dict[str, Any]], None]) -> None:
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    versions = yaml.safe_load((DEFAULT_CATALOG.parent / "versions.yaml").read_text("utf-8"))
    catalog["versions"] = "versions.yaml"
    plant(catalog)
    (project / "bad-catalog" / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    (project / "bad-catalog" / "versions.yaml").write_text(yaml.safe_dump(versions))


# the real catalog's services, one field of each kind that reaches a container
RENDER_CANARY: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("temporal-environment", lambda c: svc(c, "temporal")["environment"].update(
        POSTGRES_PWD=LOW_CANARY)),
    ("grafana-environment-url", lambda c: svc(c, "grafana")["environment"].update(
        GF_DATABASE_URL=f"postgres://grafana:{LOW_CANARY}@postgres/grafana")),
    ("exporter-command", lambda c: svc(c, "elasticsearch-exporter")["command"].append(
        f"--es.password={LOW_CANARY}")),
    ("exporter-entrypoint", lambda c: svc(c, "elasticsearch-exporter")["entrypoint"].__setitem__(
        2, f"ES_PASSWORD={LOW_CANARY} exec \"$0\" \"$@\"")),
    ("redis-health", lambda c: svc(c, "redis")["health"].update(
        command=["sh", "-c", f"redis-cli -a {LOW_CANARY} ping"])),
    ("redis-command", lambda c: svc(c, "redis").update(
        command=["redis-server", "--requirepass", LOW_CANARY])),
    ("label", lambda c: svc(c, "kafka").update(backup_exempt=f"token {CANARY}")),
    ("route", lambda c: svc(c, "api-gateway")["route"].update(path_prefix=f"/{CANARY}")),
    ("user", lambda c: svc(c, "auth").update(user=CANARY)),
]


@pytest.mark.parametrize("plant", [c[1] for c in RENDER_CANARY],
                         ids=[c[0] for c in RENDER_CANARY])
def test_render_refuses_the_canary_and_never_prints_it(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        recordings: list[engine.Recording], plant: Callable[[dict[str, Any]], None]) -> None:
    _write_catalog(project, plant)
    out = tmp_path / "out"
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["render", "--stack", "bad", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    # file:line:column from the parser, then the service and field at fault.
    assert re.search(r"catalog\.yaml:\d+:\d+: service '", lines[0]) and "field '" in lines[0], \
        lines[0]
    assert LITERAL_WORDS in lines[0], lines[0]
    assert CANARY not in result.output and LOW_CANARY not in result.output, result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "files were written for a catalog that must not be deployed"
    assert len(recordings) == 1 and len(recordings[0]) == 0


# -- what must still build -------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_build(stack: str) -> None:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    settings_ = {key.split(":", 1)[1]: value for key, value in config["config"].items()}
    platform = build_platform(DEFAULT_CATALOG, settings_, settings_source=f"Pulumi.{stack}.yaml")
    assert len(platform.services) > 30


def test_references_in_every_argv_field_build() -> None:
    script = 'set -e; PGPASSWORD="$(cat /run/secrets/postgres_password)"; exec "$0" "$@"'

    def mutate(c: dict[str, Any]) -> None:
        svc(c, "api").update(entrypoint=["/bin/sh", "-c", script, "/bin/app"],
                             command=["--password-file=/run/secrets/postgres_password",
                                      "--db-url=postgres://erp@db:5432/erp"])
        svc(c, "api")["environment"].update({"JWT_SECRET_FILE": "/run/secrets/jwt_secret",
                                             "DB_USER": "erp", "TOKEN_TTL": "3600"})
        svc(c, "db")["health"] = {"command": [
            "sh", "-c", 'PGPASSWORD="$(cat /run/secrets/postgres_password)" pg_isready']}

    platform = build(mutate)
    assert platform.service("api").entrypoint[2] == script


# -- what the targets render --------------------------------------------------------------------

def rendered_findings(recording: engine.Recording) -> list[str]:
    """The detector over every input of every rendered resource, as the policy pack sees
    them: env lists, argv fields, health checks, labels, uploaded files, any other string."""
    found: list[str] = []
    for record in recording:
        inputs = record.inputs

        def walk(value: Any, where: str, name: str = record.name) -> None:
            if isinstance(value, str) and value != "[secret]":
                found.extend(f"{name}: {f}" for f in scan_text(value, where))
            elif isinstance(value, Mapping):
                for key, item in value.items():
                    walk(item, f"{where}.{key}")
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, f"{where}[{index}]")

        envs = inputs.get("envs")
        if isinstance(envs, list):
            pairs = dict(str(e).split("=", 1) for e in envs if "=" in str(e))
            found.extend(f"{record.name}: {f}" for f in scan_env(pairs, "envs"))
        for key in ("command", "entrypoints"):
            if isinstance(inputs.get(key), list):
                found.extend(f"{record.name}: {f}" for f in scan_argv(inputs[key], key))
        tests = (inputs.get("healthcheck") or {}).get("tests")
        if isinstance(tests, list):
            found.extend(f"{record.name}: {f}" for f in scan_argv(tests, "healthcheck.tests"))
        walk({k: v for k, v in inputs.items()
              if k not in ("envs", "command", "entrypoints", "healthcheck")}, "inputs")
    return found


def test_rendered_dev_stack_holds_no_literal_secret(dev_recording: engine.Recording) -> None:
    assert len(dev_recording) > 100
    assert rendered_findings(dev_recording) == []


def test_rendered_prod_stack_holds_no_literal_secret(prod_recording: engine.Recording) -> None:
    assert rendered_findings(prod_recording) == []


def test_rendered_findings_would_see_a_literal() -> None:
    """The scan above is not vacuous: the same walk flags a planted literal in each place."""
    recording = engine.Recording(project="rampart", stack="t")
    planted = {"envs": ["DB_PASSWORD=x1"], "command": ["--requirepass", "x1"],
               "healthcheck": {"tests": ["CMD", "redis-cli", "-a", "x1"]},
               "labels": [{"label": "l", "value": f"token {CANARY}"}]}
    for index, (key, value) in enumerate(planted.items()):
        recording.resources[f"urn:{index}"] = engine.Record(
            urn=f"urn:{index}", type="docker:index/container:Container", name=key, parent=None,
            custom=True, dependencies=(), inputs={key: value})
    assert {line.split(":")[0] for line in rendered_findings(recording)} == set(planted)
