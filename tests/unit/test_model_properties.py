"""Property tests: whatever catalog, pins or settings come in, the model either builds a
platform that keeps every invariant, or raises our `ValidationError` — never another
exception (a traceback would reach the user instead of the one-line message and exit 2).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.model import build_platform, build_platform_from_data
from infra.model.errors import ValidationError
from infra.model.types import Network, Platform

pytestmark = pytest.mark.unit

PROFILE = settings(max_examples=75, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# every generated secret literal carries this mark; no error message may echo it
SECRET_MARK = "SEKRET-VALUE-"  # noqa: S105 - a marker, not a secret

DIGEST = "sha256:" + "cd" * 32
BASE_VERSIONS: dict[str, Any] = {"images": {
    "good": {"repository": "docker.io/library/postgres", "tag": "16.9", "digest": DIGEST},
    "nodigest": {"repository": "registry.example/erp/app", "tag": "1.2.3"},
    # routed services run an app image: a data store image is never public (issue 12)
    "web": {"repository": "registry.example/erp/gateway", "tag": "1.2.3", "digest": DIGEST},
    # and only the admin UIs the model knows are `exposure: admin`
    "ui": {"repository": "docker.io/grafana/grafana", "tag": "12.1.0", "digest": DIGEST},
}}
BASE_CATALOG: dict[str, Any] = {"platform": "erp", "services": {
    "db": {"group": "infra", "image": "good", "port": 5432, "stateful": True,
           "volumes": {"db-data": "/data"}, "backup_exempt": "test",
           "secrets": {"DB_PASSWORD": {"kind": "password", "env": "DB_PASSWORD_FILE"}},
           "health": {"command": ["pg_isready"]}},
    "api": {"group": "core", "image": "nodigest", "port": 3001, "depends_on": ["db"],
            "secrets": {"DB_PASSWORD": {"from": "db"}},
            "health": {"ready": "/health/ready"}, "metrics": {"path": "/metrics"}},
    "gw": {"group": "edge", "image": "web", "port": 4000, "exposure": "public",
           "depends_on": ["api"], "route": {"host": "api.{domain}"},
           "health": {"ready": "/ready"}},
}}

# -- value strategies -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=24),
    st.sampled_from(["", "1", "0.5", "500m", "1Gi", "512m", "latest", "16.9", "/tmp", "..",  # noqa: S108
                     "*", "edge", "backend", "public", "admin", "core", "infra", "CMD",
                     "CMD-SHELL", "db", "api", "gw", "{domain}", "sha256:abc"]),
)
keys = st.one_of(st.text(max_size=12), st.integers(), st.sampled_from(
    ["port", "image", "group", "depends_on", "health", "secrets", "environment", "route",
     "networks", "resources", "volumes", "user", "cap_add", "metrics", "backup", "value"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=10,
)


def check_invariants(platform: Platform) -> None:
    """What a platform that built must always satisfy (the hardened defaults held)."""
    names = [s.name for s in platform.services]
    assert len(names) == len(set(names))
    by_name = {s.name: s for s in platform.services}
    ports: dict[tuple[Network, int], str] = {}
    for s in platform.services:
        assert s.security.cap_drop == ("ALL",) and s.security.no_new_privileges
        assert s.logs.max_size == "10m" and s.logs.max_file == 3
        assert s.restart == "unless-stopped"
        assert s.resources.cpu_reservation <= s.resources.cpu_limit
        assert s.resources.memory_reservation <= s.resources.memory_limit
        assert all(dep in by_name for dep in s.depends_on)
        if s.exposure.value != "internal":
            assert s.health is not None and s.health.ready_path
            assert Network.EDGE in s.networks
        assert ":latest" not in s.image.ref
        if platform.require_digests:
            assert s.image.digest is not None
        for net in s.networks:
            if s.port is not None:
                owner = ports.setdefault((net, s.port), s.name)
                assert owner == s.name, f"{s.name} and {owner} share port {s.port}"
    # acyclic: a topological order exists
    remaining = {s.name: set(s.depends_on) for s in platform.services}
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps]
        assert ready, f"cycle among {sorted(remaining)}"
        for n in ready:
            del remaining[n]
        for deps in remaining.values():
            deps.difference_update(ready)


def build_or_reject(catalog: Any, versions: Any, stack: Any) -> None:
    try:
        platform = build_platform_from_data(catalog, versions, stack,
                                            catalog_file="cat.yaml", versions_file="pins.yaml",
                                            settings_source="stack.yaml")
    except ValidationError as err:
        text = str(err)
        assert text.split(":")[0] in ("cat.yaml", "pins.yaml", "stack.yaml"), text
        assert "\n" not in err.message or "YAML" in err.message, text
        assert SECRET_MARK not in text, f"secret value echoed: {text}"
        return
    check_invariants(platform)


# -- 1. anything at all -------------------------------------------------------------------------

@PROFILE
@given(catalog=values, versions=values, stack=values)
def test_arbitrary_documents(catalog: Any, versions: Any, stack: Any) -> None:
    build_or_reject(catalog, versions, stack if isinstance(stack, dict) or stack is None
                    else {"x": stack})


# -- 2. a valid catalog with one random change ----------------------------------------------

@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    catalog = copy.deepcopy(BASE_CATALOG)
    versions = copy.deepcopy(BASE_VERSIONS)
    stack: dict[str, Any] = {}
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(["service", "service-nested", "top", "pin", "stack",
                                      "rename", "drop"]))
        names = sorted(catalog["services"], key=str)
        if not names:
            break
        picked = draw(st.sampled_from(names))
        service = catalog["services"][picked]
        if where == "service":
            service[draw(keys)] = draw(values)
        elif where == "service-nested":
            block = draw(st.sampled_from(["health", "secrets", "route", "resources", "metrics",
                                          "volumes", "environment"]))
            inner = service.setdefault(block, {})
            if isinstance(inner, dict):
                inner[draw(keys)] = draw(values)
        elif where == "top":
            catalog[draw(keys)] = draw(values)
        elif where == "pin":
            pin = versions["images"][draw(st.sampled_from(["good", "nodigest"]))]
            pin[draw(st.sampled_from(["tag", "digest", "repository", "extra"]))] = draw(values)
        elif where == "stack":
            stack[draw(st.sampled_from(
                ["environment", "requireDigests", "domain", "tls", "acmeEmail", "corsOrigins",
                 "adminAllowlist", "rateLimit", "loginRateLimit", "hstsSeconds",
                 "ipStrategyDepth", "resources", "bogus"]))] = draw(values)
        elif where == "rename":
            catalog["services"][draw(keys)] = catalog["services"].pop(picked)
        else:
            catalog["services"].pop(picked, None)
    return catalog, versions, stack


@PROFILE
@given(case=mutated())
def test_mutated_catalogs(case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
    build_or_reject(*case)


# -- 3. well-formed but semantically random platforms --------------------------------------

NAMES = ["a", "b", "c", "d", "e", "f"]


def pick(draw: st.DrawFn, clean: bool, good: list[Any], bad: list[Any]) -> Any:
    """A good option, or (when not `clean`) sometimes a bad one."""
    return draw(st.sampled_from(good if clean else good + bad))


@st.composite
def platforms(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    # `clean` cases draw only valid options, so a fair share builds and the invariants of
    # built platforms get exercised; the others mix in one-in-a-few bad options.
    clean = draw(st.booleans())
    chosen = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    services: dict[str, Any] = {}
    for index, name in enumerate(chosen):
        exposure = draw(st.sampled_from(["internal", "internal", "public", "admin"]))
        earlier = chosen[:index]  # dependencies on earlier services only: a DAG when clean
        svc: dict[str, Any] = {
            "group": draw(st.sampled_from(["core", "business", "edge", "platform"]
                                          if exposure != "internal" else
                                          ["infra", "core", "platform"])),
            "image": pick(draw, clean, {"public": ["web", "nodigest"], "admin": ["ui"]}.get(
                exposure, ["good", "nodigest"]), ["floating", "missing"]),
            "exposure": exposure,
            "depends_on": draw(st.lists(st.sampled_from(earlier if clean else [*NAMES, "zz"]),
                                        max_size=2, unique=True)) if earlier or not clean
            else [],
            "port": pick(draw, clean, [None, 1000 + index], [80, 5432, 5432]),
        }
        if not clean and draw(st.booleans()):
            svc["networks"] = draw(st.lists(st.sampled_from(["edge", "backend"]), min_size=1,
                                            max_size=2, unique=True))
        if exposure != "internal" or draw(st.booleans()):
            svc["health"] = pick(draw, clean, [{"ready": "/ready", "port": 2000 + index}],
                                 [{"command": ["true"]}, {"command": ["CMD-SHELL", "x"]},
                                  {"ready": "/r", "timeout_s": 40}])
        if exposure != "internal":
            svc["route"] = {"host": pick(draw, clean, [f"{name}.{{domain}}"], ["bad host"])}
        if draw(st.booleans()):
            key = draw(st.sampled_from(["cpu_limit", "memory_limit"]))
            good = ["2", "1500m"] if key == "cpu_limit" else ["4Gi", "2G"]
            svc["resources"] = {key: pick(draw, clean, good, ["0", "x", -1, "2"])}
        if draw(st.booleans()):
            owners = [n for n in earlier if "secrets" in services[n]]
            svc["secrets"] = {"DB_PASSWORD": pick(
                draw, clean, [{"kind": "password"}] + [{"from": o} for o in owners],
                [SECRET_MARK + "1", {"kind": "pepper", "value": SECRET_MARK + "2"},
                 {"from": "zz"}])}
        if draw(st.booleans()):
            key = pick(draw, clean, ["MODE", "X_FILE"], ["API_TOKEN", "DB_PASSWORD"])
            svc["environment"] = {key: SECRET_MARK + "3"}
        if draw(st.booleans()):
            svc["stateful"] = True
            svc["volumes"] = {f"{name}-data": "/data"}
            if clean:
                svc["backup_exempt"] = "generated"
            else:
                svc[draw(st.sampled_from(["backup", "backup_exempt"]))] = draw(
                    st.sampled_from(NAMES))
        services[name] = svc
    versions = copy.deepcopy(BASE_VERSIONS)
    versions["images"]["floating"] = {"repository": "docker.io/library/redis",
                                      "tag": pick(draw, clean, ["7.4.5"], ["7", "latest"])}
    stack = pick(draw, clean, [{}, {"environment": "dev", "domain": "erp.test"}],
                 [{"requireDigests": True}, {"environment": "prod"},
                  {"environment": "prod", "domain": "erp.example.com",
                   "acmeEmail": "ops@example.com"}])
    return {"platform": "erp", "services": services}, versions, stack


@PROFILE
@given(case=platforms())
def test_random_platforms(case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
    build_or_reject(*case)


def test_random_platforms_sometimes_build() -> None:
    """Guard against a generator that only ever produces rejects (a vacuous property)."""
    built = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(case=platforms())
    def count(case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> None:
        nonlocal built
        try:
            build_platform_from_data(*case)
            built += 1
        except ValidationError:
            pass

    count()
    assert built > 0, "no generated platform ever built"


# -- 4. raw bytes on disk ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rampart-model-") as name:
        yield Path(name)


yaml_texts = st.one_of(
    st.text(max_size=200),
    values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.sampled_from(["services: {a: &x [*x]}", "a: !!python/object:os.system x", "{", "- -",
                     "services:\n  a: 1\n  a: 2\n", "<<: {a: 1}", "x: 2001-02-30",
                     "services: !!binary aGVsbG8=", "%YAML 1.1\n---\n"]),
)


@PROFILE
@given(catalog_text=yaml_texts, versions_text=yaml_texts)
def test_arbitrary_files(workdir: Path, catalog_text: str, versions_text: str) -> None:
    (workdir / "catalog.yaml").write_text(catalog_text, encoding="utf-8", errors="replace")
    (workdir / "versions.yaml").write_text(versions_text, encoding="utf-8", errors="replace")
    try:
        platform = build_platform(workdir / "catalog.yaml")
    except ValidationError as err:
        assert str(err).startswith(err.file)
        return
    check_invariants(platform)
