"""The crafted resources of issue 12 ("the gate must not be evadable"), each through the
whole pack as `rampart policy check` runs it: every one is refused, by the rule named, with a
message that names the field and never the secret value. The generated variants are in
test_normalise_properties.py; these are the cases as reported."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from policy_harness import (
    CONTAINER_PROPS,
    TRAEFIK_DYNAMIC,
    changed,
    edge_stack,
    urn,
)

from infra.offline.evaluate import evaluate
from policies.core import CONTAINER, Plain, Resource
from policies.settings import StackSettings

pytestmark = pytest.mark.unit
STACK = StackSettings(stack="test", today=dt.date(2026, 11, 23))
CANARY = "hunter2hunter2"


def _mandatory(resources: list[tuple[str, str, dict[str, Any]]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    built = [Resource(t, n, urn(t, n), Plain(p)) for t, n, p in resources]
    for outcome in evaluate(built, STACK):
        if outcome.status != "waived" and outcome.rule.level.value == "mandatory":
            found.setdefault(outcome.rule.name, []).append(outcome.message)
    return found


def temporal(**changes: Any) -> dict[str, Any]:
    props = copy.deepcopy(CONTAINER_PROPS)
    props.update(name="erp-temporal", labels=[{"label": "rampart.service", "value": "temporal"}])
    props.update(changes)
    return props


RESOURCE_CASES = {
    "privileged as a string": ({"privileged": "true"}, "no-privileged", "runs privileged"),
    "Privileged key": ({"privileged": None, "Privileged": True}, "no-privileged", "privileged"),
    "mount type BIND": ({"mounts": [{"type": "BIND", "source": "/var/run/docker.sock",
                                     "target": "/var/run/docker.sock"}]},
                        "no-host-mounts", "runtime socket /var/run/docker.sock (read-write)"),
    "networkMode HOST": ({"networkMode": "HOST"}, "no-host-namespaces", "host network"),
    "devices": ({"devices": [{"hostPath": "/dev/sda", "containerPath": "/dev/sda"}]},
                "no-host-mounts", "host device /dev/sda"),
    "secret in command": ({"command": ["--es.password=" + CANARY]}, "no-literal-secret-args",
                          "command[0]"),
    "requirepass pair": ({"command": ["redis-server", "--requirepass", CANARY]},
                         "no-literal-secret-args", "command[2]"),
    "redis-cli -a in a health check": (
        {"healthcheck": {"tests": ["CMD-SHELL", f"redis-cli -a {CANARY} ping"]}},
        "no-literal-secret-args", "healthcheck.tests[1]"),
    "user 0:0": ({"user": "0:0"}, "container-runs-as-non-root", "runs as root"),
    "user 00:00": ({"user": "00:00"}, "container-runs-as-non-root", "runs as root"),
    "user 0000": ({"user": "0000"}, "container-runs-as-non-root", "runs as root"),
    "floating tag 16-alpine3.20": ({"image": "postgres:16-alpine3.20"}, "image-pinned",
                                   "floating tag '16-alpine3.20'"),
    "POSTGRES_PWD on temporal": ({"envs": [f"POSTGRES_PWD={CANARY}"]},
                                 "no-literal-secret-env", "POSTGRES_PWD"),
    "DATABASE_URL with a password": (
        {"envs": [f"DATABASE_URL=postgres://temporal:{CANARY}@postgres:5432/temporal"]},
        "no-literal-secret-env", "DATABASE_URL has a literal value (password in URL"),
    "SMTP_PASS": ({"envs": [f"SMTP_PASS={CANARY}"]}, "no-literal-secret-env", "SMTP_PASS"),
    "JWT_KEY": ({"envs": [f"JWT_KEY={CANARY}"]}, "no-literal-secret-env", "JWT_KEY"),
}


@pytest.mark.parametrize("case", sorted(RESOURCE_CASES))
def test_crafted_container_is_refused(case):
    changes, rule, text = RESOURCE_CASES[case]
    props = temporal()
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    found = _mandatory([(CONTAINER, "erp-temporal-container", props)])
    assert any(text in m for m in found.get(rule, [])), found
    assert not any(CANARY in m for messages in found.values() for m in messages), found


@pytest.mark.parametrize("path, value, rule, text", [
    ("http.middlewares.admin-allowlist.ipAllowList.sourceRange", ["0.0.0.0/1", "128.0.0.0/1"],
     "traefik-allowlist-bounded", "admits all of IPv4 in union"),
    ("http.middlewares.cors.headers.accessControlAllowOriginList", ["http://app.erp.test"],
     "traefik-cors-origins-https", "'http://app.erp.test', which is not https"),
])
def test_crafted_edge_is_refused(path, value, rule, text):
    found = _mandatory(list(edge_stack(None, changed(TRAEFIK_DYNAMIC, path, value))))
    assert any(text in m for m in found.get(rule, [])), found


def test_the_engine_form_is_normalised_too():
    """Under `pulumi preview` the inputs arrive deserialized behind pulumi-policy's proxies;
    the same normalisation applies before any rule sees them."""
    import pulumi_policy as pp
    from policy_harness import _opts
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    from policies import registry
    from policies.pack import build_policies

    props = temporal(Privileged="True", NetworkMode="HOST", user="00:00",
                     command=["redis-server", "--requirepass", CANARY])
    props.pop("privileged")
    args = pp.ResourceValidationArgs(
        CONTAINER, unknown_checking_proxy(deserialize_properties(props)),
        urn(CONTAINER, "c"), "c", _opts(), None)
    fired = set()
    for policy in build_policies(STACK, rules=[r for r in registry.RULES
                                                if not r.is_stack_rule]):
        found: list[str] = []
        policy.validate(args, lambda m, u=None, found=found: found.append(m))
        if found:
            fired.add(policy.name)
            assert not any(CANARY in m for m in found)
    assert {"no-privileged", "no-host-namespaces", "container-runs-as-non-root",
            "no-literal-secret-args"} <= fired, fired
