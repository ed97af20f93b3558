"""The adversarial corpus, generated (issue 12, item 10).

Every case starts from the repository's real dev (or prod) stack, catalog and versions file and
applies one mutation of one class. Variants are produced by seeded combinatorics (a
`random.Random` per class, seeded by the class name, so ids and inputs are the same on every
run and every machine): spellings x services x fields x positions x value shapes, sampled to a
bounded size. Nothing here is a hand list of the cases the issue reported; the building blocks
(credential words, URL schemes, argv shapes, uid spellings, address splits, YAML tricks, path
kinds) are combined per case.

Every secret-like value a case plants carries a unique canary token (`CANARY` + 12 hex digits,
derived from the case id) inside a value shaped to still look like a secret; the suite asserts
the token appears in no output, no log and no file the run wrote.

Which commands read each class's input, and the exit code expected (README, exit codes):

- literal-secret in the catalog or versions file, data-store-exposed, root-user: all four
  commands (render, policy check, observability build and secrets check build the catalog);
  exit 2.
- literal-secret in stack settings the model reads, admin-allowlist, cors: render, policy
  check, observability build; exit 2. `secrets` builds the catalog with default settings by
  design (only the catalog decides which secrets exist), so it does not read these.
- literal-secret in the Vault address: secrets check, the one reader of `rampart:vaultAddr`
  without `--vault`; exit 2.
- bad-stack-file, unknown-stack: all four (every command reads the stack file through
  infra/stack/file.py); exit 2.
- waiver: policy check only; exit 1. Waivers are the pack's: the model ignores them, so the
  pack is the judge and reports a bad waiver as a mandatory violation.
- unsafe-out: render, policy check (`--out FILE`), observability build (`secrets` writes no
  files); exit 2.

Seeded `random.Random` instances choose test inputs here, never secrets (ruff S311 is off for
this file for that reason); the CLI must refuse whatever they produce.
"""

# ruff: noqa: S311
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import ipaddress
import itertools
import json
import posixpath
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOG_REL = "infra/catalog/erp.yaml"
VERSIONS_REL = "infra/catalog/versions.yaml"

RENDER, POLICY, OBSERVABILITY, SECRETS = "render", "policy", "observability", "secrets"
ALL_COMMANDS = (RENDER, POLICY, OBSERVABILITY, SECRETS)
MODEL_SETTINGS_READERS = (RENDER, POLICY, OBSERVABILITY)
OUT_WRITERS = (RENDER, POLICY, OBSERVABILITY)

CANARY_PREFIX = "CANARY"
# Replaced by the port of the test's Vault stand-in when a case's files are written: a case
# that names a Vault address must never point at a real one (another session's dev server).
VAULT_PORT = "ADVVAULTPORT"

Mutation = Callable[[dict[str, Any], dict[str, Any]], None]
StackMutation = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class OutSpec:
    """An unsafe `--out`: `kind` is resolved against the arena when the case runs."""

    kind: str
    pick: int = 0  # which of the command's own output files stands in the way (seeded)


@dataclass(frozen=True)
class WaiverExpect:
    """What `policy check` must report for a bad waiver (exit 1, the pack is the judge)."""

    waiver_id: str  # the subject of the policy-waivers-valid violation
    words: str  # in that violation's message
    # a finding the waiver tried to waive, still mandatory: (rule, service, subject)
    still_mandatory: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class Case:
    cls: str
    variant: str
    commands: tuple[str, ...]
    exit_code: int = 2
    # each entry: alternatives, at least one of which is in the one stderr line
    fragments: tuple[tuple[str, ...], ...] = ()
    canaries: tuple[str, ...] = ()
    catalog: Mutation | None = None
    stack: StackMutation | None = None
    stack_text: Callable[[str], bytes] | None = None  # raw rewrite of the dumped stack file
    # placeholder -> raw YAML text in the dumped catalog (spellings only YAML can produce)
    catalog_raw: tuple[tuple[str, str], ...] = ()
    base: str = "dev"  # the stack file the case starts from
    stack_name: str = "dev"  # --stack
    out: OutSpec | None = None
    waiver: WaiverExpect | None = None
    bugs: Mapping[str, str] = field(default_factory=dict)  # command -> xfail reason

    @property
    def id(self) -> str:
        return f"{self.cls}-{self.variant}"


def canary(case_id: str) -> str:
    return CANARY_PREFIX + hashlib.sha256(case_id.encode()).hexdigest()[:12]


def _rng(cls: str) -> random.Random:
    return random.Random(f"rampart-adversarial:{cls}")  # str seeds are stable across runs


def _slug(text: str) -> str:
    keep = string.ascii_letters + string.digits + "._"
    out = "".join(c if c in keep else "-" for c in text).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out[:48] or "x"


def random_looking(rng: random.Random, length: int) -> str:
    """A base62 string that changes character class at every position, as generated secrets
    tend to (issue 12: 'high-entropy literals')."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    out, last = [], -1
    for _ in range(length):
        choice = rng.choice([i for i in range(3) if i != last])
        out.append(rng.choice(classes[choice]))
        last = choice
    return "".join(out)


# -- the real inputs ---------------------------------------------------------------------------

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@cache
def _as_json(rel: str) -> str:
    text = (ROOT / rel).read_text(encoding="utf-8")
    return json.dumps(yaml.load(text, Loader=_LOADER))  # noqa: S506 - a safe loader


def catalog_data() -> tuple[dict[str, Any], dict[str, Any]]:
    """Fresh, unshared copies (YAML anchors share objects; a JSON round trip unshares them,
    so a mutation of one service never leaks into the others)."""
    return json.loads(_as_json(CATALOG_REL)), json.loads(_as_json(VERSIONS_REL))


@cache
def _services() -> dict[str, dict[str, Any]]:
    return catalog_data()[0]["services"]


@cache
def _repo_name(image_key: str) -> str:
    return catalog_data()[1]["images"][image_key]["repository"].rsplit("/", 1)[-1].lower()


@cache
def _stack_document(base: str) -> dict[str, Any]:
    text = (ROOT / f"Pulumi.{base}.yaml").read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    config = doc["config"]
    config.pop("rampart:vaultAddr", None)
    config["rampart:catalog"] = CATALOG_REL
    return doc


def stack_document(base: str) -> dict[str, Any]:
    """The committed stack file, pointed at the project's copy of the catalog. The prod copy
    loses `rampart:vaultAddr` (a real DNS name): no case may ever reach out of the machine."""
    return copy.deepcopy(_stack_document(base))


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=200)


def svc(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return catalog["services"][name]


# -- class: literal secrets ---------------------------------------------------------------------

# Credential env keys, spelled every way the issue names: (prefix words, credential words).
_CREDENTIAL_NAMES = (
    ("postgres", "pwd"), ("smtp", "pass"), ("jwt", "key"), ("db", "password"),
    ("api", "token"), ("redis", "requirepass"), ("app", "secret"), ("oauth", "client_secret"),
    ("gpg", "passphrase"), ("ldap", "bind_credentials"), ("session", "cookie_secret"),
    ("master", "auth"), ("minio", "root_password"), ("kafka", "sasl_jaas_pass"),
)
_SPELLINGS: dict[str, Callable[[list[str]], str]] = {
    "upper-snake": lambda w: "_".join(w).upper(),
    "lower-snake": lambda w: "_".join(w).lower(),
    "camel": lambda w: w[0].lower() + "".join(x.capitalize() for x in w[1:]),
    "pascal": lambda w: "".join(x.capitalize() for x in w),
    "dotted": lambda w: ".".join(w).lower(),
    "mixed": lambda w: "_".join(x.capitalize() for x in w),
}
_URL_SHAPES = (  # (env key, scheme, user, host:port/path)
    ("DATABASE_URL", "postgres", "erp", "postgres:5432/erp"),
    ("CACHE_URI", "redis", "default", "redis:6379/0"),
    ("BROKER_ADDR", "amqp", "erp", "rabbitmq:5672/"),
    ("SEARCH_ENDPOINT", "https", "elastic", "elasticsearch:9200"),
    ("EVENTS_CONNECTION", "esdb", "admin", "eventstoredb:2113?tls=false"),
    ("OBJECT_STORE", "s3", "minio", "minio:9000/erp"),
    ("UPSTREAM", "postgresql", "grafana", "postgres:5432/grafana"),
)
_FLAGS = ("es.password", "db-password", "api-token", "secret-key", "auth-token",
          "redis.password", "jwtSecret", "smtp_pass", "storage.access-key",
          "ldap-bind-credentials", "client-secret")


def _argv_shapes(value: str, flag: str) -> dict[str, tuple[list[str], int]]:
    """Exec-form argv shapes that carry `value` as a credential; each with the index of the
    item the detector must name (the value's item, or the flag=value / script item)."""
    return {
        "flag-equals": ([f"--{flag}={value}"], 0),
        "requirepass-pair": (["redis-server", "--requirepass", value, "--appendonly", "yes"], 2),
        "api-key-pair": (["/app/server", "--listen", ":8080", "--api-key", value], 4),
        "redis-cli-a": (["redis-cli", "-a", value, "ping"], 2),
        "mysql-attached-p": (["mysql", "-h", "db", "-u", "erp", f"-p{value}"], 5),
        "sshpass-p": (["sshpass", "-p", value, "ssh", "backup@db1"], 2),
        "curl-user": (["curl", "-fsS", "-u", f"ops:{value}", "http://127.0.0.1:9000/health"], 3),
        "mc-alias-set": (["mc", "alias", "set", "local", "http://minio:9000", "erp", value], 6),
        "shell-assignment": (["sh", "-c", f"PGPASSWORD={value} exec pg_dump -h db erp"], 2),
        "shell-export": (["/bin/sh", "-c", f"export API_TOKEN='{value}'; exec /app/server"], 2),
        "shell-redis-cli": (["sh", "-c", f"redis-cli -a {value} ping | grep -q PONG"], 2),
        "url-in-argv": (["/app/migrate", f"--database=postgres://erp:{value}@postgres/erp"], 1),
    }


def _unmistakable_defaults() -> list[str]:
    """Known default passwords from `rampart secrets`' denylist that are no ordinary word
    (read from the product: the denylist is the definition of 'known default')."""
    from infra.secrets.literals import _denylists

    return sorted(v for v in _denylists()[1] if len(v) >= 7 and any(c.isalpha() for c in v))


def literal_secret_cases() -> list[Case]:
    rng = _rng("literal-secret")
    names = list(_services())
    no_entrypoint = [n for n in names if "entrypoint" not in _services()[n]]
    with_health = [n for n in names if "health" in _services()[n]]
    stateful = [n for n in names if _services()[n].get("stateful")]
    cases: list[Case] = []

    def add(variant: str, service: str, fld: str, plant: Callable[[dict[str, Any], str], None],
            *, value_is_canary: bool = True, token: str | None = None) -> None:
        cid = f"literal-secret-{variant}"
        secret = canary(cid)

        def mutate(catalog: dict[str, Any], versions: dict[str, Any], _s: str = service,
                   _v: str = secret) -> None:
            plant(svc(catalog, _s), _v)

        cases.append(Case(
            cls="literal-secret", variant=variant, commands=ALL_COMMANDS, catalog=mutate,
            fragments=((CATALOG_REL,), (f"service '{service}'",), (f"field '{fld}'",),
                       ("secret declared with a literal value",)),
            canaries=(secret,) if value_is_canary else (token or secret,),
        ))

    # environment: credential names in every spelling (value: a low-entropy word + canary)
    pairs = rng.sample(_CREDENTIAL_NAMES, 9)
    spellings = itertools.cycle(rng.sample(sorted(_SPELLINGS), len(_SPELLINGS)))
    for (prefix, word), spelling in zip(pairs, spellings, strict=False):
        key = _SPELLINGS[spelling](prefix.split("_") + word.split("_"))
        service = rng.choice(names)
        add(f"env-name-{spelling}-{_slug(key)}-{service}", service, f"environment.{key}",
            lambda s, v, _k=key: s.setdefault("environment", {}).update({_k: f"s3cret-{v}"}))
    # environment: credentials by shape under innocent names
    for env_key, scheme, user, rest in rng.sample(_URL_SHAPES, 4):
        service = rng.choice(names)
        add(f"env-url-userinfo-{scheme}-{service}", service, f"environment.{env_key}",
            lambda s, v, _k=env_key, _sc=scheme, _u=user, _r=rest: s.setdefault(
                "environment", {}).update({_k: f"{_sc}://{_u}:{v}@{_r}"}))
    service = rng.choice(names)
    add(f"env-mysql-dsn-{service}", service, "environment.DB_DSN",
        lambda s, v: s.setdefault("environment", {}).update(
            {"DB_DSN": f"erp:{v}@tcp(mysql:3306)/erp?parseTime=true"}))
    for n in range(2):
        service = rng.choice(names)
        key = rng.choice(["SIGNING_MATERIAL", "BUILD_NONCE", "UPSTREAM_HEADER", "X_DATA"])
        noise = random_looking(rng, 40)
        add(f"env-high-entropy-{n}-{service}", service, f"environment.{key}",
            lambda s, v, _k=key, _n=noise: s.setdefault("environment", {}).update(
                {_k: f"{_n}:{v}"}))
    for default in rng.sample(_unmistakable_defaults(), 2):
        service = rng.choice(names)
        key = rng.choice(["GREETING", "BOOTSTRAP_VALUE", "INITIAL_SETTING"])
        add(f"env-known-default-{_slug(default)}-{service}", service, f"environment.{key}",
            lambda s, _v, _k=key, _d=default: s.setdefault("environment", {}).update({_k: _d}),
            value_is_canary=False, token=default)
    service = rng.choice(names)
    add(f"env-shell-assignment-{service}", service, "environment.STARTUP",
        lambda s, v: s.setdefault("environment", {}).update(
            {"STARTUP": f"MYSQL_PWD={v} mysqldump erp"}))

    # argv fields: command, entrypoint, health.command
    shapes = sorted(_argv_shapes("x", "x")) + ["flag-equals"] * 3
    for shape in shapes:
        position = rng.choice(["command", "command", "entrypoint", "health"])
        service = rng.choice({"command": no_entrypoint, "entrypoint": names,
                              "health": with_health}[position])
        flag = rng.choice(_FLAGS)
        variant = f"{position}-{shape}{'-' + _slug(flag) if shape == 'flag-equals' else ''}" \
                  f"-{service}"
        cid = f"literal-secret-{variant}"
        argv, index = _argv_shapes(canary(cid), flag)[shape]
        if position == "command" and shape.startswith("flag-equals"):
            # appended to the service's own arguments: the flag is judged wherever it stands
            existing = list(_services()[service].get("command", []))
            fld = f"command[{len(existing) + index}]"

            def plant(s: dict[str, Any], _v: str, _a: list[str] = argv) -> None:
                s["command"] = [*s.get("command", []), *_a]
        elif position == "command":
            fld = f"command[{index}]"

            def plant(s: dict[str, Any], _v: str, _a: list[str] = argv) -> None:
                s["command"] = list(_a)
        elif position == "entrypoint":
            fld = f"entrypoint[{index}]"

            def plant(s: dict[str, Any], _v: str, _a: list[str] = argv) -> None:
                s["entrypoint"] = list(_a)
        else:
            fld = f"health.command[{index}]"

            def plant(s: dict[str, Any], _v: str, _a: list[str] = argv) -> None:
                s.setdefault("health", {})["command"] = list(_a)
        add(variant, service, fld, plant)

    # the `secrets` block itself: a value where only a name may stand
    for form in ("plain", "value-key", "default-key"):
        service = rng.choice(names)
        secret_name = rng.choice(["POSTGRES_PASSWORD", "JWT_SECRET", "SMTP_PASSWORD",
                                  "API_TOKEN"])
        fld = f"secrets.{secret_name}" + {"plain": "", "value-key": ".value",
                                          "default-key": ".default"}[form]
        add(f"secrets-block-{form}-{service}", service, fld,
            lambda s, v, _n=secret_name, _f=form: s.setdefault("secrets", {}).update(
                {_n: f"pw-{v}" if _f == "plain" else
                 {"kind": "password", _f.split("-")[0]: f"pw-{v}"}}))
    # a route: what the edge proxy is told
    public = [n for n in names if _services()[n].get("route")]
    for service in rng.sample(public, 2):
        add(f"route-host-userinfo-{service}", service, "route.host",
            lambda s, v: s["route"].update(host=f"https://edge:{v}@api.{{domain}}"))
    # labels: reasons that become container labels
    label_values = {
        "url": lambda v: f"restore from s3://backup:{v}@minio:9000/erp instead",
        "assignment": lambda v: f"rebuilt on start; PGPASSWORD={v} pg_restore -d erp",
        "high-entropy": lambda v: f"cache only {random_looking(random.Random(v), 32)} {v}",
        "flag": lambda v: f"seeded with --admin-password={v} on first start",
    }
    for (kind, make), label in zip(sorted(label_values.items()),
                                   itertools.cycle(["backup_exempt", "writable_root",
                                                    "one_shot"]), strict=False):
        service = rng.choice(stateful if label == "backup_exempt" else names)
        add(f"label-{label}-{kind}-{service}", service, label,
            lambda s, v, _l=label, _m=make: s.update({_l: _m(v)}))

    # the stack's own settings (read by the model: render, policy check, observability build)
    settings_shapes: list[tuple[str, str, Callable[[str], Any], str]] = [
        ("acme-ca-userinfo", "acmeCaServer", lambda v: f"https://acme:{v}@ca.example.com/dir",
         "acmeCaServer"),
        ("cors-userinfo", "corsOrigins", lambda v: [f"https://app:{v}@app.erp.localhost"],
         "corsOrigins[0]"),
        ("unknown-key-password", "dbPassword", lambda v: f"pw-{v}", "dbPassword"),
        ("unknown-key-token-camel", "smtpAuthToken", lambda v: f"tok-{v}", "smtpAuthToken"),
        ("unknown-key-url", "databaseUrl", lambda v: f"postgres://erp:{v}@db/erp",
         "databaseUrl"),
        ("domain-high-entropy", "domain",
         lambda v: f"{random_looking(random.Random(v), 32)}{v}.erp.localhost", "domain"),
        ("resources-high-entropy", "resources",
         lambda v: {"auth": {"memoryLimit": f"{random_looking(random.Random(v), 28)}{v}"}},
         "resources.auth.memoryLimit"),
    ]
    for variant, key, make, fld in settings_shapes:
        cid = f"literal-secret-stack-{variant}"
        secret = canary(cid)

        def mutate_stack(doc: dict[str, Any], _k: str = key, _m: Any = make,
                         _v: str = secret) -> None:
            doc["config"][f"rampart:{_k}"] = _m(_v)

        cases.append(Case(
            cls="literal-secret", variant=f"stack-{variant}", commands=MODEL_SETTINGS_READERS,
            stack=mutate_stack, canaries=(secret,),
            # an unknown key is refused as such (first: a typo must never pass); either
            # reason will do, as long as the value is never quoted
            fragments=(("Pulumi.dev.yaml",), (f"field '{fld}'",),
                       ("secret declared with a literal value", "unknown key")),
        ))

    # settings other modules own: the Vault address, the observability receivers
    cid = "literal-secret-stack-vault-addr-userinfo"
    secret = canary(cid)
    cases.append(Case(
        cls="literal-secret", variant="stack-vault-addr-userinfo", commands=(SECRETS,),
        stack=lambda doc, _v=secret: doc["config"].update(
            {"rampart:vaultAddr": f"http://vault:{_v}@127.0.0.1:{VAULT_PORT}"}),
        canaries=(secret,), fragments=(("Pulumi.dev.yaml",), ("rampart:vaultAddr",)),
    ))
    def token_path(v: str) -> str:
        return f"https://hooks.example.com/services/{random_looking(random.Random(v), 32)}/{v}"

    receivers = {
        "webhook-userinfo": lambda v: {"webhook": {"url": f"https://hook:{v}@hooks.example.com/a"}},
        "webhook-token-path": lambda v: {"webhook": {"url": token_path(v)}},
    }
    for variant, make in receivers.items():
        cid = f"literal-secret-stack-observability-{variant}"
        secret = canary(cid)

        def mutate_obs(doc: dict[str, Any], _m: Any = make, _v: str = secret) -> None:
            doc["config"]["rampart:observability"] = {
                "receivers": [{"name": "ops", **_m(_v)}], "routes": {"critical": ["ops"]}}

        cases.append(Case(
            cls="literal-secret", variant=f"stack-observability-{variant}",
            commands=MODEL_SETTINGS_READERS, stack=mutate_obs, canaries=(secret,),
            fragments=(("Pulumi.dev.yaml",), ("observability.receivers[0].webhook.url",),
                       ("secret declared with a literal value",)),
        ))
    echoes = {  # refused (exit 2); the refusal line must not quote the credential back
        "observability-webhook-ftp-userinfo": (
            lambda doc, v: doc["config"].update({"rampart:observability": {"receivers": [
                {"name": "ops", "webhook": {"url": f"ftp://hook:{v}@hooks.example.com/a"}}]}}),
            "observability.receivers[0].webhook.url"),
        "observability-node-target-userinfo": (
            lambda doc, v: doc["config"].update({"rampart:observability": {
                "nodeTargets": [f"scrape:{v}@db1.erp.internal:9100"]}}),
            "observability.nodeTargets[0]"),
    }
    for variant, (make_echo, fld) in echoes.items():
        cid = f"literal-secret-stack-{variant}"
        secret = canary(cid)
        cases.append(Case(
            cls="literal-secret", variant=f"stack-{variant}", commands=MODEL_SETTINGS_READERS,
            stack=lambda doc, _m=make_echo, _v=secret: _m(doc, _v), canaries=(secret,),
            fragments=(("Pulumi.dev.yaml",), (fld,)),
        ))
    # the versions file: a registry credential in an image repository
    image_key = rng.choice(sorted(catalog_data()[1]["images"]))
    cid = f"literal-secret-versions-repository-userinfo-{image_key}"
    secret = canary(cid)

    def mutate_versions(catalog: dict[str, Any], versions: dict[str, Any], _k: str = image_key,
                        _v: str = secret) -> None:
        pin = versions["images"][_k]
        pin["repository"] = f"https://ci:{_v}@{pin['repository']}"

    cases.append(Case(
        cls="literal-secret", variant=f"versions-repository-userinfo-{image_key}",
        commands=ALL_COMMANDS, catalog=mutate_versions, canaries=(secret,),
        fragments=((VERSIONS_REL,), (f"images.{image_key}.repository",),
                   ("secret declared with a literal value",)),
    ))
    return cases


# -- class: data stores exposed, admin exposure for non-admin services ---------------------------

# The kinds of service the issue names (databases, caches, brokers, object storage, search,
# event stores), by the repository name of their image: an independent list, not the model's.
DATA_STORE_FAMILIES = ("postgres", "redis", "kafka", "minio", "elasticsearch", "rabbitmq",
                       "kurrentdb")


def exposure_cases() -> list[Case]:
    rng = _rng("data-store-exposed")
    services = _services()
    stores = sorted(n for n, s in services.items()
                    if _repo_name(s["image"]) in DATA_STORE_FAMILIES or s["group"] == "infra")
    by_image = [n for n in stores if _repo_name(services[n]["image"]) in DATA_STORE_FAMILIES]
    cases: list[Case] = []

    def route(name: str) -> dict[str, str]:
        return {"host": f"{name}.{{domain}}"}

    mutations: dict[str, tuple[Callable[[dict[str, Any], str], None], str]] = {
        "public-route": (lambda s, n: s.update(exposure="public", route=route(n),
                                               health={**s.get("health", {}), "ready": "/"}),
                         "exposure"),
        "admin-route": (lambda s, n: s.update(exposure="admin", route=route(n)), "exposure"),
        "internal-with-route": (lambda s, n: s.update(route=route(n)), "route"),
        "edge-and-backend": (lambda s, n: s.update(networks=["edge", "backend"]), "networks"),
        "edge-only": (lambda s, n: s.update(networks=["edge"]), "networks"),
        "backend-and-edge-reordered": (lambda s, n: s.update(networks=["backend", "edge"]),
                                       "networks"),
    }
    for name in stores:
        for kind in rng.sample(sorted(mutations), 2):
            plant, fld = mutations[kind]
            cases.append(_catalog_case("data-store-exposed", f"{kind}-{name}", name, fld,
                                       lambda c, _p=plant, _n=name: _p(svc(c, _n), _n)))
    # the group claims otherwise: a data store image is a data store whatever its group
    for name in rng.sample(by_image, 4):
        group = rng.choice(["core", "business", "edge", "platform"])
        exposure = "admin" if group == "platform" else "public"
        cases.append(_catalog_case(
            "data-store-exposed", f"regrouped-{group}-{exposure}-{name}", name, "exposure",
            lambda c, _n=name, _g=group, _e=exposure: svc(c, _n).update(
                group=_g, exposure=_e, route={"host": f"{_n}.{{domain}}"},
                health={**svc(c, _n).get("health", {}), "ready": "/"})))
    # a new, innocently named service that runs a data store image
    images = {_repo_name(k): k for k in catalog_data()[1]["images"]}
    for family in rng.sample([f for f in DATA_STORE_FAMILIES if f in images], 3):
        name = f"{rng.choice(['reports', 'shop', 'docs', 'media'])}-" \
               f"{rng.choice(['cache', 'gateway', 'api', 'store'])}"
        port = rng.randrange(20000, 30000)
        group = rng.choice(["business", "core", "edge"])
        cases.append(_catalog_case(
            "data-store-exposed", f"new-{name}-runs-{family}", name, "exposure",
            lambda c, _n=name, _i=images[family], _p=port, _g=group: c["services"].update(
                {_n: {"group": _g, "image": _i, "port": _p, "exposure": "public",
                      "route": {"host": f"{_n}.{{domain}}"},
                      "health": {"ready": "/", "live": "/"}}})))
    # other spellings of "public" and "edge": refused, never read as internal
    for name in rng.sample(stores, 4):
        value = rng.choice(["Public", "PUBLIC", "public ", "Admin", "ADMIN", "true"])
        cases.append(_catalog_case(
            "data-store-exposed", f"exposure-spelled-{spell(value)}-{name}", name, "exposure",
            lambda c, _n=name, _v=value: svc(c, _n).update(exposure=_v)))
    for name in rng.sample(stores, 3):
        value = rng.choice(["Edge", "EDGE", "edge ", "Edge-Net"])
        cases.append(_catalog_case(
            "data-store-exposed", f"network-spelled-{spell(value)}-{name}", name, "networks[1]",
            lambda c, _n=name, _v=value: svc(c, _n).update(networks=["backend", _v])))
    # admin exposure is for the admin UIs the model knows, nothing else
    plain = sorted(n for n, s in services.items()
                   if n not in stores and s.get("exposure", "internal") != "admin")
    for name in rng.sample(plain, 4):
        cases.append(_catalog_case(
            "data-store-exposed", f"admin-exposure-non-admin-ui-{name}", name, "exposure",
            lambda c, _n=name: svc(c, _n).update(
                exposure="admin", route={"host": f"{_n}-admin.{{domain}}"},
                health={**svc(c, _n).get("health", {}), "ready": "/health/ready"})))
    return cases


def _catalog_case(cls: str, variant: str, service: str, fld: str,
                  mutate: Callable[[dict[str, Any]], None]) -> Case:
    return Case(cls=cls, variant=variant, commands=ALL_COMMANDS,
                catalog=lambda c, _v, _m=mutate: _m(c),
                fragments=((CATALOG_REL,), (f"service '{service}'",), (f"field '{fld}'",)))


# -- class: root by another spelling ------------------------------------------------------------

def root_user_cases() -> list[Case]:
    rng = _rng("root-user")
    uid_spellings: list[tuple[str, Any]] = [
        ("root", "root"), ("ROOT", "ROOT"), ("Root", "Root"), ("rOoT", "rOoT"),
        ("0", "0"), ("00", "00"), ("0000", "0000"), ("plus0", "+0"), ("minus0", "-0"),
        ("space0", " 0"), ("0space", "0 "), ("wrap2e32", str(2**32)), ("wrap2e33", str(2**33)),
        ("int0", 0), ("int-wrap", 2**32), ("padded-wrap", "0" + str(2**32)),
    ]
    groups = [("", ""), ("gid0", ":0"), ("gidroot", ":root"), ("gid1000", ":1000"),
              ("gid65534", ":65534"), ("gid-space", ": 0")]
    services = sorted(_services())
    combos = [(u, g) for u, g in itertools.product(uid_spellings, groups)
              if not (isinstance(u[1], int) and g[1])]  # a YAML integer has no group part
    cases = []
    for (uid_name, uid), (gid_name, gid) in rng.sample(combos, 22):
        user: Any = uid if isinstance(uid, int) else f"{uid}{gid}"
        service = rng.choice(services)
        variant = f"{uid_name}{'-' + gid_name if gid_name else ''}-{service}"
        cases.append(_catalog_case("root-user", variant, service, "user",
                                   lambda c, _s=service, _u=user: svc(c, _s).update(user=_u)))
    # unquoted scalars that look like zero; YAML 1.1 reads most of them as the integer 0
    # (hex, binary, octal, underscores, signs), the rest must still be refused as a user
    for raw in rng.sample(["0x0", "0x00000000", "0o0", "0b0", "0_000", "+0", "-0", "000",
                           "0b0_0", "+0x0"], 6):
        service = rng.choice(services)
        placeholder = f"ADVRAWUSER{spell(raw).upper().replace('-', '')}"
        case = _catalog_case("root-user", f"yaml-scalar-{spell(raw)}-{service}", service, "user",
                             lambda c, _s=service, _p=placeholder: svc(c, _s).update(user=_p))
        cases.append(replace(case, catalog_raw=((placeholder, raw),)))
    return cases


# -- class: admin allowlist too broad -----------------------------------------------------------

def allowlist_cases() -> list[Case]:
    rng = _rng("admin-allowlist")
    dev = list(stack_document("dev")["config"]["rampart:adminAllowlist"])
    cases: list[Case] = []

    def case(variant: str, networks: list[str], fld: str, words: str | tuple[str, ...],
             extra: Mapping[str, Any] | None = None) -> None:
        def mutate(doc: dict[str, Any], _n: list[str] = networks) -> None:
            doc["config"]["rampart:adminAllowlist"] = list(_n)
            doc["config"].update(extra or {})

        cases.append(Case(cls="admin-allowlist", variant=variant,
                          commands=MODEL_SETTINGS_READERS, stack=mutate,
                          fragments=(("Pulumi.dev.yaml",), (f"field '{fld}'",),
                                     (words,) if isinstance(words, str) else words)))

    def mixed(bad: list[str]) -> tuple[list[str], int]:
        """`bad` inserted among the reviewed entries at a seeded position; index of bad[0]."""
        at = rng.randrange(len(dev) + 1)
        return dev[:at] + bad + dev[at:], at

    for prefix in rng.sample(range(1, 8), 4):  # all of IPv4 in 2^prefix pieces, too short
        pieces = [str(n) for n in ipaddress.IPv4Network("0.0.0.0/0").subnets(new_prefix=prefix)]
        networks, at = mixed(rng.sample(pieces, len(pieces)))
        case(f"ipv4-split-into-{len(pieces)}-slash{prefix}", networks,
             f"adminAllowlist[{at}]", "wider than a /8")
    eights = [str(n) for n in ipaddress.IPv4Network("0.0.0.0/0").subnets(new_prefix=8)]
    case("ipv4-all-256-slash8", rng.sample(eights, 256), "adminAllowlist", "all of IPv4")
    for count in rng.sample(range(17, 120), 2):  # more than the share, each one /8
        case(f"ipv4-{count}-slash8", rng.sample(eights, count), "adminAllowlist",
             "more than the")
    v6_eights = [str(n) for n in ipaddress.IPv6Network("::/0").subnets(new_prefix=8)]
    # all of IPv6 cannot be listed without ::/8, which holds every IPv4-mapped address
    networks = rng.sample(v6_eights, 256)
    case("ipv6-all-256-slash8", networks, f"adminAllowlist[{networks.index('::/8')}]",
         "matches every IPv4 client")
    case("ipv6-255-slash8-without-v4-mapped", [n for n in networks if n != "::/8"],
         "adminAllowlist", "more than the")
    for prefix in rng.sample(range(1, 8), 2):
        pieces = [str(n) for n in ipaddress.IPv6Network("::/0").subnets(new_prefix=prefix)]
        networks, at = mixed(rng.sample(pieces, len(pieces)))
        case(f"ipv6-split-slash{prefix}", networks, f"adminAllowlist[{at}]",
             ("wider than a /8", "matches every IPv4 client"))
    for variant, bad, words in (("everything-v4", "0.0.0.0/0", "allows every address"),
                                ("everything-v6", "::/0", "allows every address"),
                                ("v4-mapped-all", "::ffff:0:0/96", "IPv4-mapped"),
                                ("v4-mapped-wider", "::fffe:0:0/95", "matches every IPv4"),
                                ("v4-mapped-half", "::ffff:0.0.0.0/97", "IPv4-mapped")):
        networks, at = mixed([bad])
        case(variant, networks, f"adminAllowlist[{at}]", words)
    # netmask notation: the same /1s, spelled differently
    networks, at = mixed(rng.sample(["0.0.0.0/128.0.0.0", "128.0.0.0/128.0.0.0"], 2))
    case("netmask-notation-halves", networks, f"adminAllowlist[{at}]", "wider than a /8")
    networks, at = mixed(["0.0.0.0/127.255.255.255"])
    case("hostmask-notation-half", networks, f"adminAllowlist[{at}]", "wider than a /8")
    # IPv4 and IPv4-mapped IPv6 count together
    firsts = rng.sample(range(11, 223), 18)
    mixed_share = [f"{n}.0.0.0/8" for n in firsts[:9]] + [
        f"::ffff:{n}.0.0.0/104" for n in firsts[9:]]
    case("v4-and-v4-mapped-share", rng.sample(mixed_share, 18), "adminAllowlist",
         "more than the")
    # a stack may only narrow the bounds
    case("min-prefix-relaxed", ["0.0.0.0/1", "128.0.0.0/1"], "adminAllowlistMinPrefix",
         "at least 8", {"rampart:adminAllowlistMinPrefix": rng.randrange(0, 8)})
    case("max-share-relaxed", rng.sample(eights, 200), "adminAllowlistMaxShare", "at most",
         {"rampart:adminAllowlistMaxShare": rng.choice([0.75, 1, 2])})
    return cases


# -- class: CORS -----------------------------------------------------------------------------

def cors_cases() -> list[Case]:
    rng = _rng("cors")
    cases: list[Case] = []
    prod_origins = list(stack_document("prod")["config"]["rampart:corsOrigins"])
    dev_origins = list(stack_document("dev")["config"]["rampart:corsOrigins"])
    hosts = ["app.erp.example.com", "erp.example.com", "admin.erp.example.com", "localhost",
             "app.localhost", "partner.example.org"]
    ports = ["", ":80", ":8080", ":3000"]

    def case(variant: str, base: str, origins: list[str] | str, at: int, words: str) -> None:
        def mutate(doc: dict[str, Any], _o: Any = origins) -> None:
            doc["config"]["rampart:corsOrigins"] = _o

        cases.append(Case(cls="cors", variant=variant, commands=MODEL_SETTINGS_READERS,
                          base=base, stack_name=base, stack=mutate,
                          fragments=((f"Pulumi.{base}.yaml",), (f"field 'corsOrigins[{at}]'",),
                                     (words,))))

    for host, port in rng.sample(list(itertools.product(hosts, ports)), 6):
        extra = [f"https://{h}" for h in rng.sample(hosts[:3], rng.randrange(0, 3))
                 if f"https://{h}" not in prod_origins]
        origins = prod_origins + extra
        at = rng.randrange(len(origins) + 1)
        origins.insert(at, f"http://{host}{port}")
        case(f"prod-http-{host}{'-port' + port[1:] if port else ''}-at-{at}", "prod", origins, at,
             "plain HTTP")
    # the engine's form: a JSON list in a string
    case("prod-http-json-string", "prod", json.dumps(["http://app.erp.example.com"]), 0,
         "plain HTTP")
    for host in rng.sample(["app.erp.example.com", "partner.example.org", "10.0.0.5"], 2):
        origins = dev_origins + [f"http://{host}"]
        case(f"dev-http-non-loopback-{_slug(host)}", "dev", origins, len(origins) - 1,
             "only loopback origins")
    for spelled in rng.sample(["HTTP://app.erp.example.com", "http://APP.erp.example.com",
                               "https://app.erp.example.com/", "null",
                               "https://app.erp.example.com:99999"], 3):
        origins = prod_origins + [spelled]
        case(f"prod-spelled-{spell(spelled)}", "prod", origins, len(origins) - 1,
             "is not an origin")
    wildcards = {"*": "bare-star", "https://*.erp.example.com": "https-star-subdomain",
                 "http://*": "http-star", "https://*": "https-star",
                 "https://app.*.example.com": "https-star-label"}
    for base, wild in rng.sample(list(itertools.product(["dev", "prod"], sorted(wildcards))), 4):
        origins = (dev_origins if base == "dev" else prod_origins) + [wild]
        case(f"{base}-wildcard-{wildcards[wild]}", base, origins, len(origins) - 1, "'*'")
    return cases


# -- class: bad stack files ---------------------------------------------------------------------

def _config_key_lines(text: str) -> list[int]:
    """0-based line numbers of the `config:` mapping's own keys in a dumped stack file."""
    return [i for i, line in enumerate(text.splitlines())
            if line.startswith("  ") and not line.startswith("   ") and line[2:3] not in "-#"]


def _insert_lines(text: str, new: list[str], position: str) -> tuple[str, int]:
    """Insert `new` lines at a config-key boundary (first, middle, end); 1-based line of the
    first inserted line."""
    lines = text.splitlines()
    keys = _config_key_lines(text)
    at = {"first": keys[0], "middle": keys[len(keys) // 2], "end": len(lines)}[position]
    return "\n".join(lines[:at] + new + lines[at:]) + "\n", at + 1


def bad_stack_cases() -> list[Case]:
    rng = _rng("bad-stack-file")
    from infra.stack.file import KNOWN_TYPES  # the keys the product declares typed

    base_text = dump_yaml(stack_document("dev"))
    cases: list[Case] = []

    def case(variant: str, rewrite: Callable[[str, str], bytes], *words: tuple[str, ...],
             line_of: bytes | None = None) -> None:
        """`line_of`: the planted bytes whose line the refusal must name."""
        secret = canary(f"bad-stack-file-{variant}")
        if line_of is not None:
            data = rewrite(base_text, secret)
            line = data[:data.index(line_of)].count(b"\n") + 1
            # file:line:column, or "line N" inside a message that names two places
            words = (*words, (f"Pulumi.dev.yaml:{line}:", f"line {line}"))
        cases.append(Case(cls="bad-stack-file", variant=variant, commands=ALL_COMMANDS,
                          stack_text=lambda text, _r=rewrite, _s=secret: _r(text, _s),
                          canaries=(secret,), fragments=(("Pulumi.dev.yaml",), *words)))

    # duplicate keys: the later line would silently override the reviewed one
    keys = ["adminAllowlist", "corsOrigins", "domain", "tls", "environment", "target",
            "catalog", "policyWaivers"]
    for key, spelling, position in rng.sample(list(itertools.product(
            keys, ["namespaced", "bare"], ["first", "middle", "end"])), 9):
        name = f"rampart:{key}" if spelling == "namespaced" else key

        def duplicate(text: str, secret: str, _n: str = name, _p: str = position) -> bytes:
            value = f'["{secret}.example.com"]' if _n.endswith(
                ("Allowlist", "Origins", "Waivers")) else f'"{secret}.example.com"'
            return _insert_lines(text, [f"  {_n}: {value}"], _p)[0].encode()

        case(f"duplicate-{spelling}-{key}-{position}", duplicate, ("duplicate key",),
             (f"rampart:{key}",))

    def nested_duplicate(text: str, secret: str) -> bytes:
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip().startswith("expires:"))
        lines.insert(at + 1, lines[at].split("expires:")[0] + f'expires: "{secret}"')
        return ("\n".join(lines) + "\n").encode()

    case("duplicate-inside-a-waiver", nested_duplicate, ("duplicate key 'expires'",))
    case("duplicate-config-block", lambda t, s: (
        t + f"config:\n  rampart:domain: {s.lower()}.example.com\n").encode(),
         ("duplicate key 'config'",))

    # alias bombs, bounded: fan-out^levels far beyond the node bound, in a few hundred bytes
    for fanout, levels, target in rng.sample(list(itertools.product(
            [2, 3, 9, 16], [5, 8], ["policyAllowedCapabilities", "alerts", "x-bomb"])), 6):
        while fanout ** levels <= 50_000:
            levels += 1

        def bomb(text: str, secret: str, _f: int = fanout, _l: int = levels,
                 _t: str = target) -> bytes:
            anchors = [f'&l0 ["{secret}"]'] + [
                f"&l{i} [" + ", ".join([f"*l{i - 1}"] * _f) + "]" for i in range(1, _l)]
            use = f"*l{_l - 1}" if _t != "alerts" else "{x: " + f"*l{_l - 1}" + "}"
            block = [f"  rampart:anchors-{_t}:", *(f"    - {a}" for a in anchors),
                     f"  rampart:{_t}: {use}"]
            return _insert_lines(text, block, "end")[0].encode()

        case(f"alias-bomb-{fanout}x{levels}-{_slug(target)}", bomb, ("alias bomb",))
    case("alias-recursive", lambda t, s: _insert_lines(
        t, [f"  rampart:alerts: &a {{x: *a, y: {s}}}"], "middle")[0].encode(),
         ("recursive YAML alias",))

    # non-UTF-8 bytes, each refused naming its line
    bad_bytes = {"ff": b"\xff", "fe": b"\xfe", "c3-28": b"\xc3\x28", "lone-continuation": b"\x80",
                 "surrogate": b"\xed\xa0\x80", "overlong-slash": b"\xc0\xaf",
                 "five-byte": b"\xf8\x88\x80\x80\x80", "truncated-3": b"\xe2\x28\xa1",
                 "latin1-e-acute": "\u00e9".encode("latin-1")}
    places = ["comment", "value", "key", "first-line", "last-line"]
    labels = rng.sample(sorted(bad_bytes), len(bad_bytes))
    for label, place in zip(labels, itertools.cycle(rng.sample(places, len(places))),
                            strict=False):
        raw = bad_bytes[label]
        def garble(text: str, secret: str, _b: bytes = raw, _p: str = place) -> bytes:
            lines = [line.encode() for line in text.splitlines()]
            keys = _config_key_lines(text)
            token = secret.encode()
            if _p == "comment":
                lines.insert(keys[1], b"  # reviewed by ops " + _b + b" " + token)
            elif _p == "value":
                lines.insert(keys[-1], b"  rampart:acmeEmail: ops-" + token + _b + b"@example.com")
            elif _p == "key":
                lines.insert(keys[2], b"  rampart:dom" + _b + b"ain: " + token.lower())
            elif _p == "first-line":
                lines[0] = _b + lines[0] + b" # " + token
            else:
                lines.append(b"  rampart:ipStrategyDepth: 0 # " + token + _b)
            return b"\n".join(lines) + b"\n"

        case(f"non-utf8-{label}-in-{place}", garble, ("not UTF-8",), line_of=raw)
    case("utf16-with-bom", lambda t, s: b"\xff\xfe" + (t + f"# {s}\n").encode("utf-16-le"),
         ("not UTF-8",), ("Pulumi.dev.yaml:1:", "line 1"))

    # wrong types for the keys Rampart knows
    wrong: dict[str, list[tuple[str, Callable[[str], Any]]]] = {
        "a string": [("list", lambda s: [s]), ("mapping", lambda s: {"value": s}),
                     ("int", lambda s: 5), ("bool", lambda s: True)],
        "true or false": [("word", lambda s: f"maybe-{s}"), ("int", lambda s: 5),
                          ("list", lambda s: [True])],
        "an integer": [("word", lambda s: f"five-{s}"), ("float", lambda s: 1.5),
                       ("bool", lambda s: True), ("list", lambda s: [1])],
        "a number": [("word", lambda s: f"half-{s}"), ("list", lambda s: [0.1]),
                     ("bool", lambda s: False)],
        "a list of strings": [("int", lambda s: 5), ("plain-string", lambda s: s),
                              ("ints", lambda s: [1, 2]), ("mappings", lambda s: [{"k": s}])],
        "a mapping": [("int", lambda s: 5), ("string", lambda s: s), ("list", lambda s: [s])],
        "a list": [("int", lambda s: 7), ("string", lambda s: f"waive-{s}"),
                   ("mapping", lambda s: {"id": s})],
    }
    for key, expected in rng.sample(sorted(KNOWN_TYPES.items()), 12):
        label, make = rng.choice(wrong[expected])

        def retype(text: str, secret: str, _k: str = key, _m: Any = make) -> bytes:
            doc = yaml.safe_load(text)
            doc["config"][f"rampart:{_k}"] = _m(secret)
            return dump_yaml(doc).encode()

        case(f"wrong-type-{key}-{label}", retype, (f"rampart:{key}",), ("must be",))

    # bounds and YAML-level tricks
    case("oversized-by-comments", lambda t, s: (
        t + f"# {s}\n" + "#" * 79 + "\n" * 1 + ("# padding " + "x" * 69 + "\n") * 13_200
    ).encode(), ("larger than",))
    depth = rng.randrange(40, 200)
    case(f"nested-{depth}-deep", lambda t, s, _d=depth: _insert_lines(
        t, ["  rampart:alerts: " + "[" * _d + s + "]" * _d], "end")[0].encode(),
         ("nested more than",))
    case("two-documents", lambda t, s: (t + f"---\nconfig:\n  rampart:domain: {s}\n").encode(),
         ("not valid YAML",))
    for label, char in rng.sample([("nul", "\x00"), ("escape", "\x1b"), ("bell", "\x07"),
                                   ("backspace", "\x08")], 2):
        case(f"control-character-{label}", lambda t, s, _c=char: _insert_lines(
            t, [f"  rampart:acmeEmail: ops{_c}{s}@example.com"], "middle")[0].encode(),
             ("not valid YAML",), line_of=char.encode())
    case("tab-indentation", lambda t, s: _insert_lines(
        t, [f"\trampart:acmeEmail: {s}@example.com"], "middle")[0].encode(),
         ("not valid YAML",))

    # the document's shape
    case("shape-top-level-list", lambda t, s: f"- config\n# {s}\n".encode(),
         ("must be a mapping",))
    case("shape-config-is-a-boolean", lambda t, s: f"config: yes\n# {s}\n".encode(),
         ("'config' must be a mapping",))
    case("shape-unknown-top-level-key", lambda t, s: (t + f"secretz: {{token: {s}}}\n").encode(),
         ("unknown top-level key 'secretz'",))
    case("shape-unquoted-boolean-key", lambda t, s: _insert_lines(
        t, [f"  yes: {s}"], "middle")[0].encode(), ("not a string",))
    case("shape-binary-tag", lambda t, s: _insert_lines(
        t, ["  rampart:acmeEmail: !!binary Q0FOQVJZ"], "end")[0].encode(),
         ("unsupported YAML type",))
    case("shape-waiver-impossible-date", lambda t, s: t.replace(
        "expires: 2027-05-31", "expires: 2027-13-45", 1).encode(), ("2027-13-45",))
    case("shape-encrypted-value", lambda t, s: _insert_lines(
        t, [f"  rampart:acmeEmail: {{secure: v1:{s}}}"], "end")[0].encode(),
         ("encrypted config values",))
    return cases


_SYMBOLS = {" ": "space", "/": "slash", "\x00": "nul", "*": "star", "~": "tilde", ".": "dot",
            "|": "pipe", "$": "dollar", "^": "caret", "?": "qmark", "%": "percent",
            "[": "lbracket", "]": "rbracket", "{": "lbrace", "}": "rbrace", ",": "comma",
            ":": "colon"}


def spell(text: str) -> str:
    """An id-safe, collision-free spelling of a name full of symbols ('../dev' ->
    'dot-dot-slash-dev')."""
    parts: list[str] = []
    word = ""
    for c in text:
        if c.isascii() and (c.isalnum() or c in "-_"):
            word += c
            continue
        if word:
            parts.append(word)
            word = ""
        parts.append(_SYMBOLS.get(c, f"u{ord(c):04x}"))
    if word:
        parts.append(word)
    return "-".join(parts) or "empty"


def unknown_stack_cases() -> list[Case]:
    rng = _rng("unknown-stack")
    names: set[str] = set()
    for base in ("dev", "prod"):
        for i in range(len(base)):
            names.add(base[:i] + base[i + 1:])  # deletion
            if i + 1 < len(base):
                names.add(base[:i] + base[i + 1] + base[i] + base[i + 2:])  # transposition
            names.add(base[:i] + rng.choice("aeiouxz") + base[i + 1:])  # substitution
        names.update({base.upper(), base.capitalize(), base + "2", base + "-old",
                      base + ".bak", base + "_copy", "../" + base, "./" + base, base + "/",
                      " " + base, base + " ", "." + base, base.replace("e", "\u0435"),
                      base + "\x00", "*", base + "*", "~" + base})
    names -= {"dev", "prod", ""}
    picked = rng.sample(sorted(names), 16)
    cases = []
    for name in picked:
        shown = "".join(c if 0x20 <= ord(c) <= 0x7E else "?" for c in name)
        alternatives = tuple(dict.fromkeys((name, shown, repr(name).strip("'"))))
        cases.append(Case(cls="unknown-stack", variant=spell(name), commands=ALL_COMMANDS,
                          stack_name=name, fragments=(alternatives,)))
    return cases


# -- class: over-broad waivers (policy check, exit 1) --------------------------------------------

def waiver_cases() -> list[Case]:
    rng = _rng("waiver")
    today = dt.date.today()
    soon = today + dt.timedelta(days=rng.randrange(30, 200))
    cases: list[Case] = []
    # findings to waive: a read-write host mount on an application service, and the
    # read-write Docker socket on an exporter (never waivable)
    app_service = rng.choice(sorted(n for n, s in _services().items()
                                    if s["group"] in ("core", "business")))
    host_dir = rng.choice(["/srv/reports", "/var/lib/erp-data", "/mnt/shared"])

    def with_host_mount(catalog: dict[str, Any], _v: Any = None) -> None:
        svc(catalog, app_service).setdefault("volumes", {})["host-share"] = {
            "path": "/data/share", "host_path": host_dir, "read_only": False}

    def with_socket(service: str) -> Mutation:
        def mutate(catalog: dict[str, Any], _v: Any = None) -> None:
            svc(catalog, service).setdefault("volumes", {})["runtime"] = {
                "path": "/var/run/docker.sock", "host_path": "/var/run/docker.sock",
                "read_only": False}
        return mutate

    def case(variant: str, waiver: dict[str, Any], words: str, *,
             catalog: Mutation | None = None, target: tuple[str, str, str] | None = None,
             extra: Mapping[str, Any] | None = None, wid: str | None = None) -> None:
        entry = {"id": f"adv-{_slug(variant)}", "rule": "no-host-mounts",
                 "resource": app_service, "subject": host_dir,
                 "reason": "generated by the adversarial corpus", "expires": soon, **waiver}
        entry = {k: v for k, v in entry.items() if v is not None}

        def mutate(doc: dict[str, Any], _e: dict[str, Any] = entry) -> None:
            doc["config"]["rampart:policyWaivers"].append(dict(_e))
            doc["config"].update(extra or {})

        cases.append(Case(cls="waiver", variant=variant, commands=(POLICY,), exit_code=1,
                          catalog=catalog, stack=mutate,
                          waiver=WaiverExpect(wid or entry["id"], words, target)))

    target = ("no-host-mounts", app_service, host_dir)
    for pattern in rng.sample(["*", f"{app_service[:3]}*", "erp-*-container", ".*",
                               f"{app_service}|node-exporter", "[a-z]*", "%", f"^{app_service}",
                               f"{app_service}$", "{a,b}", "?"], 3):
        case(f"resource-pattern-{spell(pattern)}", {"resource": pattern}, "pattern",
             catalog=with_host_mount, target=target)
    for word in rng.sample(["all", "ANY", "Every", "everything"], 1):
        case(f"resource-everything-{word}", {"resource": word}, "names everything",
             catalog=with_host_mount, target=target)
    for pattern in rng.sample(["*", "/srv/*", "/**", "/[a-z]*", "any"], 2):
        case(f"subject-pattern-{spell(pattern)}", {"subject": pattern},
             "names everything" if pattern == "any" else "pattern",
             catalog=with_host_mount, target=target)
    for days in rng.sample(range(370, 20000), 1):
        case(f"expiry-in-{days}-days", {"expires": today + dt.timedelta(days=days)},
             "more than one year", catalog=with_host_mount, target=target)
    case("expiry-9999-12-31", {"expires": dt.date(9999, 12, 31)}, "more than one year",
         catalog=with_host_mount, target=target)
    case("expiry-not-a-date", {"expires": "when the migration is done"}, "not a YYYY-MM-DD",
         catalog=with_host_mount, target=target)
    case("expiry-missing", {"expires": None}, "no expiry", catalog=with_host_mount, target=target)
    reason = rng.choice([None, "   ", ""])
    case(f"reason-{'missing' if reason is None else 'blank'}", {"reason": reason}, "no reason",
         catalog=with_host_mount, target=target)
    for service in rng.sample(["node-exporter", "traefik", "prometheus", app_service], 1):
        case(f"never-waivable-rw-docker-socket-{service}",
             {"resource": service, "subject": "/var/run/docker.sock"}, "never waivable",
             catalog=with_socket(service),
             target=("no-host-mounts", service, "/var/run/docker.sock"))
    sockets = ["/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/run/docker",
               "/run/containerd", "/run/containerd/containerd.sock", "/run/podman/podman.sock",
               "/var/run/crio/crio.sock", "/run/user/1000/docker.sock",
               "/var/run/docker.sock/"]
    for path in rng.sample(sockets, 4):
        service = rng.choice(["node-exporter", "traefik", "grafana", app_service])
        normal = posixpath.normpath(path)

        def socket_mount(catalog: dict[str, Any], _v: Any = None, _s: str = service,
                         _p: str = path) -> None:
            svc(catalog, _s).setdefault("volumes", {})["runtime"] = {
                "path": "/host/runtime", "host_path": _p, "read_only": False}

        case(f"never-waivable-socket-{spell(path)}-{service}",
             {"resource": service, "subject": path}, "never waivable", catalog=socket_mount,
             target=("no-host-mounts", service, normal))
    rule = "no-host-mounts"
    for typo in rng.sample(sorted({rule[:i] + rule[i + 1:] for i in range(len(rule))}
                                  | {rule.upper(), rule.replace("-", "_"), rule + "s",
                                     "No-Host-Mounts", " no-host-mounts-"}), 2):
        case(f"unknown-rule-{spell(typo)}", {"rule": typo}, "unknown rule",
             catalog=with_host_mount, target=target)
    for rule in rng.sample(["no-privileged", "policy-waivers-valid",
                            "policy-waivers-in-force"], 2):
        case(f"never-waivable-rule-{rule}", {"rule": rule, "subject": "privileged"},
             "never", catalog=None)
    for days in rng.sample([0, -5, 367, 9999, 100000], 1):
        case(f"max-days-{days}", {}, "rampart:policyWaiverMaxDays", catalog=with_host_mount,
             extra={"rampart:policyWaiverMaxDays": days}, wid="policyWaiverMaxDays")
    return cases


# -- class: unsafe --out -------------------------------------------------------------------------

OUT_KINDS = {
    # kind: commands it applies to
    "existing-file": OUT_WRITERS,
    "symlink-to-file": OUT_WRITERS,
    "broken-symlink": OUT_WRITERS,
    "below-a-file": OUT_WRITERS,
    "under-proc": OUT_WRITERS,
    "under-proc-self": OUT_WRITERS,
    "under-sys": OUT_WRITERS,
    "below-dev-null": OUT_WRITERS,
    "dev-null": (RENDER, OBSERVABILITY),
    "a-directory-as-report": (POLICY,),
    "foreign-file-in-the-way": OUT_WRITERS,
    "directory-in-the-way": (RENDER, OBSERVABILITY),
    "symlink-in-the-way": OUT_WRITERS,
    "symlinked-subdirectory": (RENDER, OBSERVABILITY),
    "malformed-manifest": OUT_WRITERS,
    "forged-manifest-wrong-checksum": OUT_WRITERS,
    "manifest-of-another-command": OUT_WRITERS,
    "manifest-path-traversal": OUT_WRITERS,
    "stale-entry-through-symlinked-directory": (RENDER, OBSERVABILITY),
}
# Bugs the corpus found in --out handling, by kind and command (none open).
OUT_BUGS: dict[str, dict[str, str]] = {}


def out_cases() -> list[Case]:
    rng = _rng("unsafe-out")
    cases = []
    for kind, commands in OUT_KINDS.items():
        repeats = 2 if kind in ("foreign-file-in-the-way", "symlink-in-the-way",
                                "forged-manifest-wrong-checksum") else 1
        for n in range(repeats):
            variant = f"{kind}-{n}" if repeats > 1 else kind
            secret = canary(f"unsafe-out-{variant}")
            cases.append(Case(cls="unsafe-out", variant=variant, commands=commands,
                              out=OutSpec(kind, pick=rng.randrange(10_000)),
                              canaries=(secret,), bugs=OUT_BUGS.get(kind, {})))
    return cases


# -- the corpus ---------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], list[Case]]] = {
    "literal-secret": literal_secret_cases,
    "data-store-exposed": exposure_cases,
    "root-user": root_user_cases,
    "admin-allowlist": allowlist_cases,
    "cors": cors_cases,
    "bad-stack-file": bad_stack_cases,
    "unknown-stack": unknown_stack_cases,
    "waiver": waiver_cases,
    "unsafe-out": out_cases,
}


@cache
def corpus() -> tuple[Case, ...]:
    return tuple(case for make in GENERATORS.values() for case in make())


def write_inputs(case: Case, project: Path, vault_port: int | None = None) -> list[Path]:
    """Write the case's catalog, versions and stack file into `project` (a copy of the
    repository's project files); return the files that now hold planted values."""
    planted: list[Path] = []
    if case.catalog is not None:
        catalog, versions = catalog_data()
        case.catalog(catalog, versions)
        text = dump_yaml(catalog)
        for placeholder, raw in case.catalog_raw:
            assert placeholder in text, placeholder
            text = text.replace(placeholder, raw)
        (project / CATALOG_REL).write_text(text, encoding="utf-8")
        (project / VERSIONS_REL).write_text(dump_yaml(versions), encoding="utf-8")
        planted += [project / CATALOG_REL, project / VERSIONS_REL]
    doc = stack_document(case.base)
    if case.stack is not None:
        case.stack(doc)
    text = dump_yaml(doc)
    if VAULT_PORT in text:
        assert vault_port is not None, f"{case.id} names a Vault address: pass the port"
        text = text.replace(VAULT_PORT, str(vault_port))
    data = case.stack_text(text) if case.stack_text is not None else text.encode()
    stack_file = project / f"Pulumi.{case.base}.yaml"
    stack_file.write_bytes(data)
    planted.append(stack_file)
    return planted
