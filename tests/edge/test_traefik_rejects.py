"""Bad input as Traefik itself meets it: a damaged dynamic configuration is refused, and
how far the refusal reaches (the whole file, or one router). Traefik keeps running either way
and its ping still answers, so a health check would not notice: the refusal must come before
deployment. Each case also names the input that would produce it and checks that the model
refuses that input first, where an input can produce it at all."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import stack as stacks
from infra.edge import traefik
from infra.model import build_platform_from_data
from infra.model.errors import ValidationError

from . import harness as h

pytestmark = pytest.mark.integration

ROUTER = "grafana"  # the router a per-router case damages; api-gateway stays intact


@dataclasses.dataclass(frozen=True)
class Case:
    damage: Callable[[dict[str, Any]], None]
    error: str  # in the error line Traefik logs
    whole_file: bool  # Traefik drops every router of the file, not just the damaged one


def _set_average(value: object) -> Callable[[dict[str, Any]], None]:
    def damage(dynamic: dict[str, Any]) -> None:
        dynamic["http"]["middlewares"][traefik.MW_RATE]["rateLimit"]["average"] = value
    return damage


def _malformed_rule(dynamic: dict[str, Any]) -> None:
    router = dynamic["http"]["routers"][ROUTER]
    router["rule"] = router["rule"].rstrip(")")  # Host(`grafana.<domain>`


def _unknown_middleware(dynamic: dict[str, Any]) -> None:
    dynamic["http"]["routers"][ROUTER]["middlewares"].append("no-such-middleware")


# The stack input behind "beyond int64" (rateLimit.average 2**63, likewise burst,
# inflightRequests, hstsSeconds, and loginRateLimit.periodSeconds beyond Go's ~292-year
# duration) is refused by the model (its upper bounds, infra/model/settings.py; tested below).
CASES = {
    "rate-average-not-a-number": Case(_set_average("fast"), '"fast"', whole_file=True),
    "rate-average-beyond-int64": Case(_set_average(2**63), "out of range", whole_file=True),
    "malformed-rule": Case(_malformed_rule, "error while parsing rule", whole_file=False),
    "unknown-middleware": Case(_unknown_middleware, "does not exist", whole_file=False),
}


@contextlib.contextmanager
def _damaged(tmp_path: Path, case: Case) -> Iterator[h.Edge]:
    with h.running_edge("dev", h.variant_platform("dev"), tmp_path, key_type="ECDSA",
                        break_dynamic=case.damage) as edge:
        yield edge


def _errors(edge: h.Edge, needle: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + h.START_TIMEOUT_S
    while True:
        found = [r for r in edge.problems() if needle in str(r.get("error", ""))]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _status(edge: h.Edge, service: str) -> int:
    # Unverified: without its file provider Traefik serves its own default certificate.
    loose = edge.context(verify=False)
    health = edge.platform.service(service).health
    path = health.ready_path if health and health.ready_path else "/"
    return edge.request("GET", edge.host(service), path, context=loose,
                        headers=edge.basic_auth()).status


@pytest.mark.parametrize("case", list(CASES))
def test_traefik_refuses_damaged_dynamic_configuration(tmp_path: Path, case: str) -> None:
    spec = CASES[case]
    with _damaged(tmp_path, spec) as edge:
        errors = _errors(edge, spec.error)
        assert errors, f"{case}: Traefik logged no error with {spec.error!r}:\n{edge.log_text()}"
        if not spec.whole_file:
            assert all(r.get("routerName") == f"{ROUTER}@file" for r in errors), errors
        # Still running, and its ping still answers: only the routes tell.
        assert edge.process.poll() is None, f"{case}: Traefik exited"
        assert _status(edge, ROUTER) == 404, f"{case}: the damaged router still served"
        intact = _status(edge, "api-gateway")
        assert intact == (404 if spec.whole_file else 200), (
            f"{case}: an intact router answered {intact}")


# -- what the model does with the inputs that would produce these cases ---------------------


def test_model_refuses_a_rate_average_that_is_not_a_number() -> None:
    stack = stacks.load("dev")
    with pytest.raises(ValidationError, match="rateLimit.average"):
        stacks.from_values({**stack.values, "rateLimit": {"average": "fast"}}, name="dev",
                           source=stack.source, root=stack.project_dir,
                           positions=stack.positions)


@pytest.mark.parametrize(("key", "value"), [
    ("rateLimit", {"average": 2**63}), ("rateLimit", {"burst": 2**63}),
    ("loginRateLimit", {"average": 2**63}), ("loginRateLimit", {"burst": 2**63}),
    ("loginRateLimit", {"periodSeconds": 10**12}), ("inflightRequests", 2**63),
    ("hstsSeconds", 10**20), ("rateLimit", {"average": 10**20}),
])
def test_model_refuses_figures_traefik_cannot_hold(key: str, value: Any) -> None:
    """Every figure that reaches an int64 field or a Go duration of the dynamic file has an
    upper bound, so Traefik never drops the whole file for it (the case above)."""
    stack = stacks.load("dev")
    field = key if not isinstance(value, dict) else f"{key}.{next(iter(value))}"
    with pytest.raises(ValidationError, match=f"{field}.*must be at most"):
        stacks.from_values({**stack.values, key: value}, name="dev", source=stack.source,
                           root=stack.project_dir, positions=stack.positions)


def _catalog_with_route(**route: str) -> None:
    root = Path(__file__).resolve().parents[2] / "infra" / "catalog"
    catalog = yaml.safe_load((root / "erp.yaml").read_text())
    versions = yaml.safe_load((root / "versions.yaml").read_text())
    catalog["services"][ROUTER]["route"].update(route)
    build_platform_from_data(catalog, versions, stacks.load("dev").model)


@pytest.mark.parametrize("route", [
    {"host": "grafana`).{domain}"}, {"host": "grafana(.{domain}"},
    {"path_prefix": "/a`) || Host(`x"}, {"login_paths": ["/login`"]},
], ids=["host-backtick", "host-paren", "path-backtick", "login-path-backtick"])
def test_model_refuses_routes_that_would_break_a_rule(route: dict[str, Any]) -> None:
    _catalog_with_route(host=f"{ROUTER}2.{{domain}}")  # the same edit, well formed, passes
    with pytest.raises(ValidationError, match=r"field 'route\."):
        _catalog_with_route(**route)


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_generated_routers_name_only_generated_middlewares(stack_name: str) -> None:
    # Middleware names are not an input: the generator is the only source of references.
    platform = h.variant_platform(stack_name)
    dynamic = traefik.dynamic_config(platform)
    defined = set(dynamic["http"]["middlewares"])
    for name, router in dynamic["http"]["routers"].items():
        missing = set(router["middlewares"]) - defined
        assert not missing, f"{stack_name}: router '{name}' names {sorted(missing)}"

