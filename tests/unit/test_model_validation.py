"""One negative test per validation rule: bad input fails with one message naming the file,
the service and the field, as `ValidationError` (which the CLI turns into exit code 2).

Catalogs are written to a temporary directory so every case goes through the real file path
(`build_platform`), exactly as `pulumi up` and `rampart render` do.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.model import build_platform
from infra.model.errors import ValidationError
from infra.model.types import Platform

pytestmark = pytest.mark.unit

DIGEST = "sha256:" + "ab" * 32
BASE_VERSIONS: dict[str, Any] = {
    "images": {
        "pg": {"repository": "docker.io/library/postgres", "tag": "16.9-bookworm",
               "digest": DIGEST},
        "app": {"repository": "registry.example/erp/app", "tag": "1.2.3", "digest": DIGEST},
    }
}
BASE_CATALOG: dict[str, Any] = {
    "platform": "erp",
    "services": {
        "db": {
            "group": "infra", "image": "pg", "port": 5432, "stateful": True,
            "user": "999:999",
            "volumes": {"db-data": "/var/lib/postgresql/data"},
            "secrets": {"POSTGRES_PASSWORD": {"kind": "password",
                                              "env": "POSTGRES_PASSWORD_FILE"}},
            "health": {"command": ["pg_isready", "-h", "127.0.0.1"]},
            "backup": "backup",
            "resources": {"memory_limit": "2Gi"},
        },
        "api": {
            "group": "core", "image": "app", "port": 3001, "depends_on": ["db"],
            "health": {"ready": "/health/ready", "live": "/health/live"},
            "secrets": {"POSTGRES_PASSWORD": {"from": "db", "env": "POSTGRES_PASSWORD_FILE"}},
        },
        "gateway": {
            "group": "edge", "image": "app", "port": 4000, "exposure": "public",
            "depends_on": ["api"], "route": {"host": "api.{domain}",
                                             "login_paths": ["/auth/login"]},
            "health": {"ready": "/health/ready"},
        },
        "backup": {"group": "platform", "image": "app", "depends_on": ["db"],
                   "health": {"command": ["true"]}},
    },
}

Mutator = Callable[[dict[str, Any], dict[str, Any]], None]


def write(tmp_path: Path, catalog: Any, versions: Any = None) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False), encoding="utf-8")
    (tmp_path / "versions.yaml").write_text(
        yaml.safe_dump(BASE_VERSIONS if versions is None else versions), encoding="utf-8")
    return path


def build_mutated(tmp_path: Path, mutate: Mutator, settings: dict[str, Any] | None = None
                  ) -> Platform:
    catalog = copy.deepcopy(BASE_CATALOG)
    versions = copy.deepcopy(BASE_VERSIONS)
    mutate(catalog, versions)
    return build_platform(write(tmp_path, catalog, versions), settings)


def expect_error(tmp_path: Path, mutate: Mutator, *, file: str, service: str | None,
                 field: str | None, words: str,
                 settings: dict[str, Any] | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build_mutated(tmp_path, mutate, settings)
    err = info.value
    text = str(err)
    assert Path(err.file).name == file, text
    assert err.service == service, text
    assert err.field == field, text
    assert words.lower() in err.message.lower(), text
    # one line, and it names every part
    assert "\n" not in text
    for part in (file, service, field):
        if part is not None:
            assert part in text, text
    return err


def svc(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return catalog["services"][name]


# -- the base case builds ------------------------------------------------------------------

def test_base_catalog_builds(tmp_path: Path) -> None:
    platform = build_mutated(tmp_path, lambda c, v: None)
    assert [s.name for s in platform.services] == ["db", "api", "gateway", "backup"]
    assert platform.service("gateway").route.host == "api.erp.localhost"  # type: ignore[union-attr]


def test_error_message_format() -> None:
    err = ValidationError("cat.yaml", "is bad", service="api", field="port")
    assert str(err) == "cat.yaml: service 'api': field 'port': is bad"
    assert str(ValidationError("cat.yaml", "is bad")) == "cat.yaml: is bad"
    assert str(ValidationError("cat.yaml", "is bad", field="x")) == "cat.yaml: field 'x': is bad"


# -- the rules issue 2 lists ----------------------------------------------------------------

def test_unknown_dependency(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api")["depends_on"].append("cache"),
                 file="catalog.yaml", service="api", field="depends_on[1]",
                 words="unknown dependency 'cache'")


def test_dependency_cycle(tmp_path: Path) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        svc(c, "db")["depends_on"] = ["gateway"]  # db -> gateway -> api -> db

    err = expect_error(tmp_path, mutate, file="catalog.yaml", service="api",
                       field="depends_on[0]", words="dependency cycle")
    assert "db -> gateway -> api -> db" in err.message


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api")["depends_on"].append("api"),
                 file="catalog.yaml", service="api", field="depends_on[1]",
                 words="dependency cycle: api -> api")


def test_duplicate_service(tmp_path: Path) -> None:
    path = write(tmp_path, BASE_CATALOG)
    text = path.read_text(encoding="utf-8")
    # append a second `api:` under services (safe_dump cannot emit duplicates)
    path.write_text(text + "  api:\n    group: core\n    image: app\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        build_platform(path)
    err = info.value
    assert (Path(err.file).name, err.service, err.field) == ("catalog.yaml", "api", "name")
    assert "duplicate service 'api'" in err.message and "line" in err.message


def test_duplicate_key_inside_a_service(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    write(tmp_path, BASE_CATALOG)
    text = path.read_text(encoding="utf-8").replace("  api:\n", "  api:\n    port: 9999\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        build_platform(path)
    assert (info.value.service, info.value.field) == ("api", "port")
    assert "duplicate key" in info.value.message


@pytest.mark.parametrize("name", ["API", "api_v2", "-api", "api-", "a" * 64, "api.v2"])
def test_name_not_dns_1123(tmp_path: Path, name: str) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        c["services"][name] = c["services"].pop("backup")

    expect_error(tmp_path, mutate, file="catalog.yaml", service=name[:57] + "..."
                 if len(name) > 60 else name, field="name", words="not a DNS-1123 label")


def test_port_collision_on_the_same_network(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(port=5432),
                 file="catalog.yaml", service="api", field="port",
                 words="port collision: 5432 is already used by service 'db'")


def test_metrics_port_collision(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(metrics={"port": 5432}),
                 file="catalog.yaml", service="api", field="metrics.port",
                 words="port collision")


def test_same_port_on_different_networks_is_fine(tmp_path: Path) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        # `edge-only` shares no network with db, so 5432 is free there (an admin UI: only
        # those may be `exposure: admin`)
        v["images"]["grafana"] = {"repository": "docker.io/grafana/grafana", "tag": "12.1.0",
                                  "digest": DIGEST}
        c["services"]["edge-only"] = {
            "group": "platform", "image": "grafana", "port": 5432, "exposure": "admin",
            "networks": ["edge"], "route": {"host": "x.{domain}"},
            "health": {"ready": "/ready"},
        }

    assert build_mutated(tmp_path, mutate).service("edge-only").port == 5432


@pytest.mark.parametrize("health", [None, {"command": ["true"]}])
def test_public_service_without_health_path(tmp_path: Path, health: Any) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        if health is None:
            del svc(c, "gateway")["health"]
        else:
            svc(c, "gateway")["health"] = health

    expect_error(tmp_path, mutate, file="catalog.yaml", service="gateway", field="health.ready",
                 words="public service needs a health path")


@pytest.mark.parametrize(("tag", "words"), [
    ("latest", "floats ('latest'"),
    ("16", "not an exact version"),
    ("v3", "not an exact version"),
    ("16-alpine", "not an exact version"),
    ("stable-alpine", "floats ('stable'"),
    ("3.4-latest", "floats ('latest'"),
])
def test_image_without_exact_version(tmp_path: Path, tag: str, words: str) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"]["pg"]["tag"] = tag

    err = expect_error(tmp_path, mutate, file="versions.yaml", service="db",
                       field="images.pg.tag", words=words)
    assert "pg" in err.message


def test_image_without_tag(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: v["images"]["pg"].pop("tag"), file="versions.yaml",
                 service="db", field="images.pg.tag", words="no tag")


def test_unused_floating_pin_is_still_refused(tmp_path: Path) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        v["images"]["spare"] = {"repository": "docker.io/library/redis", "tag": "latest"}

    expect_error(tmp_path, mutate, file="versions.yaml", service=None,
                 field="images.spare.tag", words="floats")


def test_image_reference_instead_of_key(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "db").update(image="postgres:16.9"),
                 file="catalog.yaml", service="db", field="image", words="image key")


def test_unknown_image_key(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "db").update(image="pgsql"),
                 file="catalog.yaml", service="db", field="image", words="no image 'pgsql'")


def test_digest_required_when_stack_says_so(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: v["images"]["app"].pop("digest"),
                 settings={"requireDigests": True}, file="versions.yaml", service="api",
                 field="images.app.digest", words="image 'app' has no digest")


def test_prod_requires_digests_by_default(tmp_path: Path) -> None:
    prod = {"environment": "prod", "domain": "erp.example.com", "acmeEmail": "o@example.com"}
    expect_error(tmp_path, lambda c, v: v["images"]["pg"].pop("digest"), settings=prod,
                 file="versions.yaml", service="db", field="images.pg.digest", words="digest")


def test_malformed_digest(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: v["images"]["pg"].update(digest="sha256:abc"),
                 file="versions.yaml", service=None, field="images.pg.digest",
                 words="sha256:<64 hex>")


@pytest.mark.parametrize(("field", "value"), [
    ("cpu_limit", "lots"), ("cpu_limit", -1), ("cpu_limit", "0"), ("cpu_limit", "2x"),
    ("cpu_reservation", True), ("memory_limit", "1GB"), ("memory_limit", "512m"),
    ("memory_limit", "-1Gi"), ("memory_limit", 1.5), ("memory_reservation", "12 apples"),
    ("memory_limit", "99999Ti"),
])
def test_invalid_cpu_or_memory_quantity(tmp_path: Path, field: str, value: Any) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(resources={field: value}),
                 file="catalog.yaml", service="api", field=f"resources.{field}", words="")


def test_reservation_above_limit(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(
        resources={"memory_limit": "512Mi", "memory_reservation": "1Gi"}),
        file="catalog.yaml", service="api", field="resources.memory_reservation",
        words="exceeds the limit 512Mi")


SECRET_VALUE = "hunter2-very-secret"  # noqa: S105 - a fake, to prove it is never echoed


@pytest.mark.parametrize(("mutation", "field"), [
    (lambda s: s["secrets"].update(POSTGRES_PASSWORD=SECRET_VALUE), "secrets.POSTGRES_PASSWORD"),
    (lambda s: s["secrets"]["POSTGRES_PASSWORD"].update(value=SECRET_VALUE),
     "secrets.POSTGRES_PASSWORD.value"),
    (lambda s: s.update(environment={"POSTGRES_PASSWORD": SECRET_VALUE}),
     "environment.POSTGRES_PASSWORD"),
    (lambda s: s.update(environment={"ADMIN_API_TOKEN": SECRET_VALUE}),
     "environment.ADMIN_API_TOKEN"),
], ids=["scalar-secret", "value-key", "secret-also-in-env", "secretish-env-name"])
def test_secret_declared_with_a_literal_value(tmp_path: Path, mutation: Callable[..., Any],
                                              field: str) -> None:
    err = expect_error(tmp_path, lambda c, v: mutation(svc(c, "db")), file="catalog.yaml",
                       service="db", field=field, words="secret declared with a literal value")
    assert SECRET_VALUE not in str(err), "the message must never echo a secret value"


def test_secret_file_variable_is_fine(tmp_path: Path) -> None:
    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        svc(c, "api")["environment"] = {"JWT_SECRET_FILE": "/run/secrets/jwt_secret"}

    assert build_mutated(tmp_path, mutate).service("api").environment == (
        ("JWT_SECRET_FILE", "/run/secrets/jwt_secret"),)


@pytest.mark.parametrize(("key", "args", "index"), [
    ("entrypoint", ["/bin/sh", "-c", f"PGPASSWORD={SECRET_VALUE} exec app"], 2),
    ("entrypoint", ["/bin/sh", "-c", f"export API_TOKEN='{SECRET_VALUE}'; exec app"], 2),
    ("command", ["app", f"DB_PASSWORD={SECRET_VALUE}"], 1),
], ids=["shell-assignment", "quoted-export", "env-style-argument"])
def test_secret_literal_in_entrypoint_or_command(tmp_path: Path, key: str, args: list[str],
                                                 index: int) -> None:
    err = expect_error(tmp_path, lambda c, v: svc(c, "api").update({key: args}),
                       file="catalog.yaml", service="api", field=f"{key}[{index}]",
                       words="secret declared with a literal value")
    assert SECRET_VALUE not in str(err), "the message must never echo a secret value"


def test_entrypoint_reading_a_secret_file_is_fine(tmp_path: Path) -> None:
    script = 'set -e; PGPASSWORD="$(cat "$PGPASSWORD_FILE")"; export PGPASSWORD; exec "$0" "$@"'
    entrypoint = ["/bin/sh", "-c", script, "/usr/bin/app"]

    def mutate(c: dict[str, Any], v: dict[str, Any]) -> None:
        svc(c, "api").update(entrypoint=entrypoint, command=["--port=3001"])
        svc(c, "db").update(command=["postgres", "-c", "password_encryption=scram-sha-256"])

    platform = build_mutated(tmp_path, mutate)
    assert platform.service("api").entrypoint == tuple(entrypoint)
    assert platform.service("api").command == ("--port=3001",)
    assert platform.service("gateway").entrypoint == (), "the image's entrypoint by default"


@pytest.mark.parametrize(("value", "words"), [
    ([], "must not be empty"),
    ("/bin/sh -c 'exec app'", "must be a list of strings"),
    (["/bin/sh", ""], "must be a non-empty string"),
    (["/bin/sh", 7], "must be a non-empty string"),
], ids=["empty", "shell-string", "empty-item", "number-item"])
def test_entrypoint_shape(tmp_path: Path, value: Any, words: str) -> None:
    field = "entrypoint" if not isinstance(value, list) or not value else "entrypoint[1]"
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(entrypoint=value),
                 file="catalog.yaml", service="api", field=field, words=words)


def test_shared_secret_owner_must_own_it(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api")["secrets"].update(
        REDIS_PASSWORD={"from": "db"}), file="catalog.yaml", service="api",
        field="secrets.REDIS_PASSWORD.from", words="does not own a secret 'REDIS_PASSWORD'")


# -- further catalog rules ------------------------------------------------------------------

def test_typo_in_a_key_is_named(tmp_path: Path) -> None:
    err = expect_error(tmp_path, lambda c, v: svc(c, "api").update(depens_on=["db"]),
                       file="catalog.yaml", service="api", field="depens_on",
                       words="unknown key")
    assert "depends_on" in err.message  # the allowed keys are listed


def test_typo_is_reported_before_what_it_breaks(tmp_path: Path) -> None:
    # `helth` on a public service: the typo, not the missing health path, is the news
    expect_error(tmp_path, lambda c, v: svc(c, "gateway").update(helth=svc(c, "gateway").pop(
        "health")), file="catalog.yaml", service="gateway", field="helth", words="unknown key")


def test_typo_in_a_nested_key(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api")["health"].update(intervall_s=5),
                 file="catalog.yaml", service="api", field="health.intervall_s",
                 words="unknown key")


@pytest.mark.parametrize(("key", "value", "words"), [
    ("port", "3001", "must be an integer"),
    ("port", 70000, "at most 65535"),
    ("port", True, "must be an integer"),
    ("stateful", "yes", "true or false"),
    ("depends_on", "db", "list of strings"),
    ("exposure", "world", "not one of"),
    ("group", "misc", "not one of"),
])
def test_wrong_types(tmp_path: Path, key: str, value: Any, words: str) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update({key: value}),
                 file="catalog.yaml", service="api", field=key, words=words)


def test_data_store_on_the_edge_network(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "db").update(networks=["edge", "backend"]),
                 file="catalog.yaml", service="db", field="networks", words="backend network")


def test_routed_service_off_the_edge(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "gateway").update(networks=["backend"]),
                 file="catalog.yaml", service="gateway", field="networks",
                 words="must join the edge network")


def test_unreachable_dependency(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "gateway").update(networks=["edge"]),
                 file="catalog.yaml", service="gateway", field="depends_on[0]",
                 words="share no network")


def test_public_service_without_route(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "gateway").pop("route"),
                 file="catalog.yaml", service="gateway", field="route", words="needs a route")


def test_stateful_service_without_backup(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "db").pop("backup"), file="catalog.yaml",
                 service="db", field="backup", words="names its backup job")


def test_backup_job_must_exist(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "db").update(backup="nightly"),
                 file="catalog.yaml", service="db", field="backup", words="not a service")


def test_root_user_refused(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(user="0:0"),
                 file="catalog.yaml", service="api", field="user", words="runs as root")


def test_dangerous_capability_refused(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(cap_add=["SYS_ADMIN"]),
                 file="catalog.yaml", service="api", field="cap_add[0]", words="SYS_ADMIN")


def test_shell_form_health_check_refused(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api").update(
        health={"command": ["CMD-SHELL", "curl localhost"]}), file="catalog.yaml",
        service="api", field="health.command", words="exec-form")


def test_timeout_not_below_interval(tmp_path: Path) -> None:
    expect_error(tmp_path, lambda c, v: svc(c, "api")["health"].update(
        interval_s=10, timeout_s=10), file="catalog.yaml", service="api",
        field="health.timeout_s", words="shorter than interval_s")


@pytest.mark.parametrize("versions", ["/etc/passwd", "../versions.yaml", 42, ""])
def test_versions_file_stays_next_to_the_catalog(tmp_path: Path, versions: Any) -> None:
    catalog = {**copy.deepcopy(BASE_CATALOG), "versions": versions}
    with pytest.raises(ValidationError) as info:
        build_platform(write(tmp_path, catalog))
    assert (info.value.field, info.value.service) == ("versions", None), str(info.value)


def test_nested_aliases_do_not_explode(tmp_path: Path) -> None:
    # "billion laughs": 10^9 references from a few hundred bytes; must fail fast, not hang
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "catalog.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "versions.yaml").write_text(yaml.safe_dump(BASE_VERSIONS), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ValidationError):
        build_platform(path)
    assert time.monotonic() - started < 5, "alias expansion was walked node by node"


def test_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        build_platform(tmp_path / "nope.yaml")
    assert "no such catalog file" in str(info.value) and "nope.yaml" in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("platform: erp\nservices: {api: [\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        build_platform(path)
    assert "not valid YAML" in info.value.message
    assert (info.value.line, info.value.column) == (3, 1) and ":3:1: " in str(info.value)


# -- stack settings ---------------------------------------------------------------------------

@pytest.mark.parametrize(("settings", "field", "words"), [
    ({"corsOrigins": ["*"]}, "corsOrigins[0]", "'*' is never allowed"),
    ({"corsOrigins": ["https://*.example.com"]}, "corsOrigins[0]", "'*' is never allowed"),
    ({"corsOrigins": "https://app.example.com"}, "corsOrigins", "list of strings"),
    ({"rateLimit": {"average": -1}}, "rateLimit.average", "at least 1"),
    ({"rateLimit": {"avg": 10}}, "rateLimit.avg", "unknown key"),
    ({"loginRateLimit": {"periodSeconds": "900"}}, "loginRateLimit.periodSeconds",
     "must be an integer"),
    ({"hstsSeconds": -5}, "hstsSeconds", "at least 0"),
    ({"inflightRequests": 0}, "inflightRequests", "at least 1"),
    ({"ipStrategyDepth": -1}, "ipStrategyDepth", "at least 0"),
    ({"minTlsVersion": "VersionTLS10"}, "minTlsVersion", "not one of"),
    ({"adminAllowlist": ["0.0.0.0/0"]}, "adminAllowlist[0]", "every address"),
    ({"adminAllowlist": ["10.0.0.1/8"]}, "adminAllowlist[0]", "not a CIDR"),
    ({"domian": "erp.example.com"}, "domian", "unknown key"),
    ({"domain": "ERP example"}, "domain", "not valid"),
    ({"tls": "acme"}, "acmeEmail", "required when tls is 'acme'"),
    ({"environment": "prod"}, "domain", "required for a prod stack"),
    ({"environment": "prod", "domain": "erp.example.com", "acmeEmail": "o@example.com",
      "tls": "self-signed"}, "tls", "must use 'acme'"),
    ({"requireDigests": "yes"}, "requireDigests", "true or false"),
    ({"environment": "prod", "domain": "erp.example.com", "acmeEmail": "o@example.com",
      "requireDigests": False}, "requireDigests", "always pins images by digest"),
    ({"resources": {"api": {"memoryLimit": "lots"}}}, "resources.api.memoryLimit",
     "not a memory quantity"),
    ({"resources": {"api": {"memoryReservation": "4Gi"}}}, "resources.api.memoryReservation",
     "exceeds the limit 1Gi"),
    ({"resources": {"ghost": {"cpuLimit": 1}}}, "resources.ghost", "no service 'ghost'"),
    ({"resources": {"api": {"cpus": 1}}}, "resources.api.cpus", "unknown key"),
])
def test_invalid_settings(tmp_path: Path, settings: dict[str, Any], field: str,
                          words: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_platform(write(tmp_path, BASE_CATALOG), settings,
                       settings_source="Pulumi.test.yaml")
    err = info.value
    assert err.file == "Pulumi.test.yaml", str(err)
    assert err.field == field, str(err)
    assert words.lower() in err.message.lower(), str(err)


def test_keys_owned_by_other_modules_pass_through(tmp_path: Path) -> None:
    settings = {"policyWaivers": [{"id": "w1"}], "observability": {"x": 1},
                "vaultAddr": "http://127.0.0.1:8200"}
    assert build_platform(write(tmp_path, BASE_CATALOG), settings).edge.domain


def test_settings_override_resources(tmp_path: Path) -> None:
    platform = build_platform(write(tmp_path, BASE_CATALOG),
                              {"resources": {"api": {"cpuLimit": "2", "memoryLimit": "2Gi"}}})
    r = platform.service("api").resources
    assert (r.cpu_limit, r.memory_limit) == (2.0, 2 * 1024**3)


def test_settings_defaults_follow_environment(tmp_path: Path) -> None:
    path = write(tmp_path, BASE_CATALOG)
    dev = build_platform(path, {})
    assert (dev.edge.tls_mode, dev.require_digests) == ("self-signed", False)
    assert dev.edge.acme_ca_server is not None and "staging" in dev.edge.acme_ca_server
    prod = build_platform(path, {"environment": "prod", "domain": "erp.example.com",
                                 "acmeEmail": "ops@example.com"})
    assert (prod.edge.tls_mode, prod.require_digests) == ("acme", True)
    assert prod.edge.acme_ca_server == "https://acme-v02.api.letsencrypt.org/directory"
    assert prod.edge.cors_origins == ("https://app.erp.example.com",)
