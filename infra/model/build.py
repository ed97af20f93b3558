"""Catalog + pins + stack settings -> a validated, hardened `Platform`.

Two passes: each service is read and hardened on its own (`_read_service`), then the
cross-service rules run (`_check_platform`): dependencies exist and form no cycle, shared
networks, port collisions, route hosts, backup jobs. Every failure is one
`ValidationError` naming the file, the service and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from infra.model import defaults as d
from infra.model import secret_scan
from infra.model.errors import ValidationError
from infra.model.images import Pin, image_from_pin, tag_problem
from infra.model.kinds import admin_ui, data_store_reason
from infra.model.quantities import QuantityError, format_memory, parse_cpu, parse_memory
from infra.model.reader import Fields, show_key, type_name
from infra.model.settings import (
    HOSTNAME,
    RESOURCE_KEYS,
    Settings,
    unknown_resource_service,
)
from infra.model.types import (
    Condition,
    Exposure,
    Group,
    HealthCheck,
    Image,
    LogPolicy,
    Network,
    Platform,
    Resources,
    Route,
    SecretKind,
    SecretRef,
    Security,
    Service,
    Volume,
)

DNS_1123_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
SECRET_NAME = r"[A-Z][A-Z0-9_]{0,62}"  # noqa: S105 - a name pattern, not a secret
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_.]{0,127}"
ABS_PATH = r"/(?:[A-Za-z0-9._@+-]+/?)*"
URL_PATH = r"/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*"
USER = r"(?:[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31})(?::(?:[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31}))?"
# uids wrap at 2^32 in the kernel's and runtimes' parsing: 4294967296 is uid 0 again
UID_SPACE = 2**32
MAX_REPLICAS = 100
# Linux capabilities a service may add back after `cap_drop: ALL` (SYS_ADMIN & co are
# deliberately absent: they amount to root on the host).
CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK",
    "KILL", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
    "SYS_CHROOT", "SYS_NICE", "SYS_RESOURCE",
})
SERVICE_KEYS_DOC = "docs/configuration.md#catalog"


SERVICE_KEYS = frozenset({
    "backup", "backup_exempt", "cap_add", "command", "depends_on", "description",
    "entrypoint", "environment", "exposure", "group", "health", "image", "metrics",
    "networks", "one_shot", "port", "replicas", "resources", "route", "secrets", "stateful",
    "stop_grace_s", "user", "volumes", "writable_paths", "writable_root",
})


def build(
    catalog: Any,
    pins: Mapping[str, Pin],
    settings: Settings,
    *,
    catalog_file: str,
    versions_file: str,
    settings_source: str,
) -> Platform:
    top = Fields(catalog, file=catalog_file, what="the catalog")
    name = top.str_("platform", pattern=DNS_1123_LABEL, hint="a DNS-1123 label such as 'erp'")
    top.raw("versions", None)  # resolved by the caller (where the pins file lives)
    top.raw("description", None)
    services_block = top.sub("services", required=True, what="'services'")
    # `x-*` keys hold YAML anchors shared by services (the docker-compose convention)
    top.done(ignore_prefix="x-")
    assert services_block is not None
    if not services_block.data:
        raise services_block.error("defines no services", field="services")

    services: list[Service] = []
    dep_fields: dict[str, dict[str, str]] = {}  # service -> dependency -> catalog field
    for svc_name in services_block.data:
        services_block.seen.add(svc_name)
        services.append(
            _read_service(svc_name, services_block.data[svc_name], pins, settings,
                          catalog_file=catalog_file, versions_file=versions_file,
                          dep_fields=dep_fields)
        )
    unknown_resource_service(settings, {svc.name for svc in services}, settings_source)
    _check_platform(services, catalog_file, dep_fields)
    _check_unused_pins(pins, versions_file)
    return Platform(
        name=name,
        source=catalog_file,
        services=_with_shared_secret_kinds(services),
        edge=settings.edge,
        require_digests=settings.require_digests,
        pins=tuple((pin.key, Image(pin.repository, pin.tag or "", pin.digest))
                   for _, pin in sorted(pins.items()) if pin.tag or pin.digest),
        versions_source=versions_file,
    )


# -- one service ----------------------------------------------------------------------------

def _read_service(
    name: Any, data: Any, pins: Mapping[str, Pin], settings: Settings, *,
    catalog_file: str, versions_file: str, dep_fields: dict[str, dict[str, str]] | None = None,
) -> Service:
    if not isinstance(name, str) or not re.fullmatch(DNS_1123_LABEL, name):
        shown = show_key(name)
        raise ValidationError(
            catalog_file,
            f"'{shown}' is not a DNS-1123 label (lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)",
            service=shown, field="name",
        )
    f = Fields(data, file=catalog_file, service=name, what=f"service '{name}'")
    # First, before any read could quote a value or key back: no literal secret anywhere.
    _no_literal_secrets(f)
    f.only(SERVICE_KEYS)
    f.raw("description", None)
    group = Group(f.choice("group", tuple(g.value for g in Group)))
    exposure = Exposure(f.choice("exposure", tuple(e.value for e in Exposure), "internal"))
    image = _image(f, pins, settings, versions_file)
    data_store = data_store_reason(group, image)
    _exposure_fits_kind(f, exposure, image, data_store)
    port = f.int_("port", None, minimum=1, maximum=65535)
    stateful = f.bool_("stateful", False)
    dependencies = _dependencies(f)
    depends_on = tuple(dependencies)
    completed = tuple(dep for dep, (cond, _) in dependencies.items()
                      if cond is Condition.COMPLETED)
    if dep_fields is not None:
        dep_fields[name] = {dep: field for dep, (_, field) in dependencies.items()}
    networks = _networks(f, exposure, data_store)
    health = _health(f, port, exposure)
    resources = _resources(f, settings.resources.get(name, {}), settings.source)
    security = _security(f)
    environment = _environment(f, settings.edge.domain)
    secrets = _secrets(f)
    _no_declared_secret_in_environment(f, environment, secrets)
    volumes = _volumes(f)
    metrics_path, metrics_port = _metrics(f, port)
    route = _route(f, exposure, settings.edge.domain)
    replicas, max_replicas = _replicas(f)
    entrypoint = _entrypoint(f)
    command = f.str_list("command", (), unique=False)
    stop_grace = f.int_("stop_grace_s", d.STOP_GRACE_S, minimum=1, maximum=600)
    backup = f.str_("backup", None, pattern=DNS_1123_LABEL, hint="the name of a backup service")
    exempt = f.str_("backup_exempt", None)
    one_shot = f.str_("one_shot", None)  # why it runs once and exits
    f.done()
    if one_shot is not None:
        _check_one_shot(f, port=port, health=health, stateful=stateful, exposure=exposure,
                        metrics=metrics_port is not None,
                        replicas=replicas if max_replicas is None else 0)

    if stateful and not volumes:
        raise f.fail("volumes", "a stateful service needs a volume, or its data dies with the "
                                "container")
    if stateful and backup is None and exempt is None:
        raise f.fail("backup", "a stateful service names its backup job (or says why it needs "
                               "none with `backup_exempt: <reason>`)")
    if backup is not None and exempt is not None:
        raise f.fail("backup_exempt", "give either `backup` or `backup_exempt`, not both")
    if not stateful and (backup is not None or exempt is not None):
        raise f.fail("backup" if backup else "backup_exempt",
                     "only stateful services are backed up; set `stateful: true` or remove it")

    labels = {
        "rampart.service": name,
        "rampart.group": group.value,
        "rampart.exposure": exposure.value,
        "rampart.stateful": "true" if stateful else "false",
    }
    # The catalog's reasons travel with the workload, so policies can tell a decided
    # exception (`backup_exempt`, `writable_root`) from an omission.
    if backup:
        labels["rampart.backup"] = backup
    if exempt:
        labels["rampart.backup-exempt"] = " ".join(exempt.split())
    writable_root = f.data.get("writable_root")
    if isinstance(writable_root, str):
        labels["rampart.writable-root"] = " ".join(writable_root.split())
    if one_shot is not None:
        # `job` is a role policies know as one-shot (policies/core.py, is_one_shot): no
        # health check, restart policy, backup or scrape is expected of it.
        labels["rampart.role"] = "job"
        labels["rampart.one-shot"] = " ".join(one_shot.split())
    return Service(
        name=name, group=group, image=image, port=port, exposure=exposure,
        networks=networks, depends_on=depends_on, stateful=stateful, health=health,
        resources=resources, security=security,
        logs=LogPolicy(driver=d.LOG_DRIVER, max_size=d.LOG_MAX_SIZE, max_file=d.LOG_MAX_FILE),
        restart=d.RESTART if one_shot is None else d.RESTART_ONE_SHOT, stop_grace_s=stop_grace,
        environment=environment, secrets=secrets,
        volumes=volumes, metrics_path=metrics_path, metrics_port=metrics_port, route=route,
        replicas=replicas, max_replicas=max_replicas, entrypoint=entrypoint, command=command,
        backup=backup,
        labels=tuple(sorted(labels.items())), one_shot=one_shot,
        completed_dependencies=completed,
    )


def _dependencies(f: Fields) -> dict[str, tuple[Condition, str]]:
    """`depends_on`: a list of service names (each started first), or a mapping of service
    name to condition (`started`, or `completed` for a one-shot job that must have exited 0).
    Returns {dependency: (condition, catalog field)} in catalog order."""
    raw = f.raw("depends_on", None)
    if raw is None or isinstance(raw, list):
        names = f.str_list("depends_on", ())
        return {dep: (Condition.STARTED, f"depends_on[{i}]") for i, dep in enumerate(names)}
    if not isinstance(raw, Mapping):
        raise f.fail("depends_on", "must be a list of strings (service names) or a mapping "
                                   f"of service name to condition, got {type_name(raw)}")
    block = Fields(raw, file=f.file, service=f.service, prefix="depends_on",
                   what="'depends_on'")
    found: dict[str, tuple[Condition, str]] = {}
    for dep in block.data:
        block.seen.add(dep)
        value = block.data[dep]
        choices = tuple(c.value for c in Condition)
        if not isinstance(value, str) or value not in choices:
            shown = show_key(value) if isinstance(value, str) else type_name(value)
            raise block.fail(dep, f"condition '{shown}' is not one of: {', '.join(choices)}")
        found[dep] = (Condition(value), block.path(dep))
    return found


def _replicas(f: Fields) -> tuple[int, int | None]:
    """`replicas: N` (a fixed count) or `replicas: {min: N, max: M}` (a range a target that
    scales may autoscale within; a target that cannot runs `min`)."""
    if not isinstance(f.raw("replicas", None), Mapping):
        return f.int_("replicas", 1, minimum=1, maximum=MAX_REPLICAS), None
    r = f.sub("replicas", what="'replicas'")
    assert r is not None
    low = r.int_("min", minimum=1, maximum=MAX_REPLICAS)
    high = r.int_("max", minimum=1, maximum=MAX_REPLICAS)
    r.done()
    if high <= low:
        raise r.fail("max", f"must be greater than min ({low}); for a fixed count write "
                            f"`replicas: {low}`")
    return low, high


def _check_one_shot(f: Fields, *, port: int | None, health: HealthCheck | None, stateful: bool,
                    exposure: Exposure, metrics: bool, replicas: int) -> None:
    """A one-shot job runs to completion and exits: nothing listens, nothing to keep
    healthy, route or scrape, and no data of its own to back up."""
    why = "a one-shot job runs to completion and exits"
    if health is not None:
        raise f.fail("health", f"{why}: there is nothing to keep healthy; remove `health` "
                               "(the deploy fails when the job exits non-zero)")
    if port is not None:
        raise f.fail("port", f"{why}: it serves nothing; remove `port`")
    if metrics:
        raise f.fail("metrics", f"{why}: nothing would be scraped; remove `metrics`")
    if exposure is not Exposure.INTERNAL:
        raise f.fail("exposure", f"{why}: it is never routed; remove `exposure`")
    if stateful:
        raise f.fail("stateful", f"{why}: it keeps no data of its own")
    if replicas != 1:
        raise f.fail("replicas", f"{why}, one instance; remove `replicas`")


def _no_literal_secrets(f: Fields) -> None:
    """Every value that reaches a container, judged by the one detector (infra/secrets/
    literals.py) on the raw mapping; the first finding is the error (never the value)."""
    findings = secret_scan.service_findings(f.data)
    if findings:
        raise f.error(secret_scan.message(findings[0]), field=findings[0].where or None)


def _exposure_fits_kind(f: Fields, exposure: Exposure, image: Image,
                        data_store: str | None) -> None:
    """Exposure follows from what the service is (infra/model/kinds.py), whatever the
    `exposure`, `route` or `networks` fields say."""
    if data_store is not None:
        if exposure is not Exposure.INTERNAL:
            raise f.fail("exposure", f"a data store is never `exposure: {exposure.value}` "
                                     f"({data_store}): it stays internal, on the backend "
                                     "network only; its clients reach it there")
        if f.has("route"):
            raise f.fail("route", f"a data store is never routed by the edge proxy "
                                  f"({data_store}); remove the route")
    if exposure is Exposure.ADMIN and admin_ui(image) is None:
        raise f.fail("exposure", "`admin` exposure is only for the admin UIs the model knows "
                                 "(the Traefik dashboard, Grafana, Prometheus, Alertmanager); "
                                 f"this service runs '{image.repository}'; make it internal, "
                                 "or public behind its own authentication")


def _who(exposure: Exposure) -> str:
    """'a public service' / 'an admin service', for messages."""
    article = "an" if exposure.value[0] in "aeiou" else "a"
    return f"{article} {exposure.value} service"


def _image(f: Fields, pins: Mapping[str, Pin], settings: Settings, versions_file: str) -> Image:
    key = f.raw("image")
    if isinstance(key, Mapping) or (isinstance(key, str) and (":" in key or "/" in key)):
        raise f.fail("image", "name an image key from the versions file (CONVENTIONS 4: pins "
                              "live in one file), not a repository or tag")
    if not isinstance(key, str) or not key:
        raise f.fail("image", f"must be an image key, got {type_name(key)}")
    pin = pins.get(key)
    if pin is None:
        raise f.fail("image", f"no image '{show_key(key)}' in {versions_file}")
    return image_from_pin(pin, require_digest=settings.require_digests, file=versions_file,
                          service=f.service)


def _networks(f: Fields, exposure: Exposure, data_store: str | None) -> tuple[Network, ...]:
    routed = exposure in (Exposure.PUBLIC, Exposure.ADMIN)
    declared = f.str_list("networks", None)
    if declared is None:
        # Routed services meet the edge proxy on `edge` and their dependencies on `backend`;
        # everything else stays on the internal backend network.
        return (Network.EDGE, Network.BACKEND) if routed else (Network.BACKEND,)
    if not declared:
        raise f.fail("networks", "must list at least one network")
    valid = tuple(n.value for n in Network)
    for index, net in enumerate(declared):
        if net not in valid:
            raise f.fail(f"networks[{index}]", f"'{show_key(net)}' is not one of: "
                                               f"{', '.join(valid)}")
    networks = tuple(Network(n) for n in valid if n in declared)  # canonical order
    if data_store is not None and Network.EDGE in networks:
        raise f.fail("networks", "data stores and brokers stay on the backend network only")
    if routed and Network.EDGE not in networks:
        raise f.fail("networks", f"{_who(exposure)} is routed by the edge proxy and must "
                                 "join the edge network")
    return networks


def _health(f: Fields, port: int | None, exposure: Exposure) -> HealthCheck | None:
    h = f.sub("health", what="'health'")
    routed = exposure in (Exposure.PUBLIC, Exposure.ADMIN)
    if h is None:
        if routed:
            raise f.fail("health.ready", f"{_who(exposure)} needs a health path (e.g. "
                                         "/health/ready) so the edge routes only to ready "
                                         "instances")
        return None
    ready = h.str_("ready", None, pattern=URL_PATH, hint="an absolute URL path")
    live = h.str_("live", None, pattern=URL_PATH, hint="an absolute URL path")
    probe_port = h.int_("port", port, minimum=1, maximum=65535)
    command = h.str_list("command", None, unique=False)
    interval = h.int_("interval_s", d.HEALTH_INTERVAL_S, minimum=1, maximum=3600)
    timeout = h.int_("timeout_s", d.HEALTH_TIMEOUT_S, minimum=1, maximum=3600)
    retries = h.int_("retries", d.HEALTH_RETRIES, minimum=1, maximum=100)
    start = h.int_("start_period_s", d.HEALTH_START_PERIOD_S, minimum=0, maximum=3600)
    h.done()
    if routed and ready is None:
        raise h.fail("ready", f"{_who(exposure)} needs a health path (e.g. /health/ready) so "
                              "the edge routes only to ready instances")
    if timeout >= interval:
        raise h.fail("timeout_s", f"must be shorter than interval_s ({interval})")
    if command is not None:
        if not command:
            raise h.fail("command", "must not be empty")
        if command[0] in ("CMD-SHELL", "NONE"):
            raise h.fail("command", "use an exec-form command (a list of arguments), not "
                                    f"{command[0]}")
        probe = command if command[0] == "CMD" else ("CMD", *command)
        if len(probe) < 2:
            raise h.fail("command", "names no program to run")
    elif ready is not None:
        if probe_port is None:
            raise h.fail("port", "an HTTP health path needs a port (the service has none)")
        probe = ("CMD", *d.HTTP_PROBE, f"http://127.0.0.1:{probe_port}{ready}")
    else:
        raise h.fail("command", "give a `command` or a `ready` path to probe")
    return HealthCheck(
        command=probe, interval_s=interval, timeout_s=timeout, retries=retries,
        start_period_s=start, ready_path=ready, live_path=live,
        port=probe_port if ready is not None else None,
    )


def _quantity(f: Fields, key: str, raw: Any, parse: Any, source: Fields | None = None) -> Any:
    try:
        return parse(raw)
    except QuantityError as exc:
        raise (source or f).fail(key, str(exc)) from None


def _resources(f: Fields, override: Mapping[str, float | int], stack_source: str) -> Resources:
    r = f.sub("resources", what="'resources'")
    values: dict[str, Any] = {
        "cpu_limit": d.CPU_LIMIT, "memory_limit": d.MEMORY_LIMIT,
        "cpu_reservation": d.CPU_RESERVATION, "memory_reservation": d.MEMORY_RESERVATION,
    }
    parsers = {"cpu_limit": parse_cpu, "cpu_reservation": parse_cpu,
               "memory_limit": parse_memory, "memory_reservation": parse_memory}
    if r is not None:
        for key, parse in parsers.items():
            if r.has(key):
                values[key] = _quantity(r, key, r.raw(key), parse)
        r.done()
    values.update(override)  # already parsed and checked by the settings

    def inconsistent(reservation: str, limit: str, shown: str) -> ValidationError:
        # Blame the stack when its override made the pair inconsistent, else the catalog.
        if reservation in override or limit in override:
            camel = {v: k for k, v in RESOURCE_KEYS.items()}
            key = reservation if reservation in override else limit
            return ValidationError(stack_source, shown,
                                   field=f"resources.{f.service}.{camel[key]}")
        return f.fail(f"resources.{reservation}", shown)

    # A reservation above the limit can never be honoured; the scheduler would refuse it.
    if values["cpu_reservation"] > values["cpu_limit"]:
        raise inconsistent("cpu_reservation", "cpu_limit",
                           f"CPU reservation {values['cpu_reservation']:g} exceeds the limit "
                           f"{values['cpu_limit']:g}")
    if values["memory_reservation"] > values["memory_limit"]:
        raise inconsistent("memory_reservation", "memory_limit",
                           f"memory reservation {format_memory(values['memory_reservation'])} "
                           f"exceeds the limit {format_memory(values['memory_limit'])}")
    return Resources(**values)


def _security(f: Fields) -> Security:
    writable = f.str_list("writable_paths", (), pattern=ABS_PATH, hint="an absolute path")
    for index, path in enumerate(writable):
        if path.rstrip("/") == "" or ".." in path.split("/"):
            raise f.fail(f"writable_paths[{index}]", f"'{path}' would make the whole root "
                                                     "writable; list the directories instead")
    writable_root = f.str_("writable_root", None)  # the reason the image cannot run read-only
    cap_add = f.str_list("cap_add", ())
    for index, cap in enumerate(cap_add):
        if cap not in CAPABILITIES:
            raise f.fail(f"cap_add[{index}]", f"'{show_key(cap)}' is not a capability a "
                                              "service may add (allowed: "
                                              f"{', '.join(sorted(CAPABILITIES))})")
    if _is_root(f.raw("user", None)):
        raise f.fail("user", "runs as root (uid 0, however it is spelled); name the image's "
                             "unprivileged user (uid[:gid]) or leave `user` out to keep the "
                             "image default")
    user = f.str_("user", None, pattern=USER, hint="uid[:gid] or a user name")
    paths = tuple(dict.fromkeys((*d.DEFAULT_TMPFS, *(p.rstrip("/") or p for p in writable))))
    return Security(
        read_only_root=writable_root is None,
        writable_paths=paths,
        cap_drop=d.CAP_DROP,
        cap_add=tuple(sorted(cap_add)),
        no_new_privileges=True,
        user=user,
    )


def _is_root(user: Any) -> bool:
    """True when `user` resolves to uid 0: the name `root` or any numeric spelling of 0
    (`0`, `00`, `+0`, ` 0 `, int 0, `4294967296`), with or without a group. The group is
    not judged: gid 0 grants no privilege by itself (files group-owned by root stay as
    writable as their mode says), and the official Elasticsearch and Grafana images run as
    `<uid>:0` by design."""
    if isinstance(user, bool):
        return False
    if isinstance(user, int):
        return user % UID_SPACE == 0
    if not isinstance(user, str):
        return False
    uid = user.strip().split(":", 1)[0].strip()
    if uid.lower() == "root":
        return True
    return bool(re.fullmatch(r"[+-]?[0-9]+", uid)) and int(uid) % UID_SPACE == 0


def _environment(f: Fields, domain: str) -> tuple[tuple[str, str], ...]:
    env = f.sub("environment", what="'environment'")
    if env is None:
        return ()
    pairs: dict[str, str] = {}
    for key in env.data:
        env.seen.add(key)
        if not re.fullmatch(ENV_NAME, key):
            raise env.fail(key, "is not a valid environment variable name")
        value = env.data[key]
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            raise env.fail(key, f"must be a string, number or boolean, got {type_name(value)}")
        pairs[key] = text.replace("{domain}", domain)
    return tuple(sorted(pairs.items()))


def _secrets(f: Fields) -> tuple[SecretRef, ...]:
    block = f.raw("secrets", None)
    if block is None:
        return ()
    s = Fields(block, file=f.file, service=f.service, prefix="secrets", what="'secrets'")
    refs: list[SecretRef] = []
    for name in s.data:
        s.seen.add(name)
        value = s.data[name]
        if not re.fullmatch(SECRET_NAME, name):
            raise s.fail(name, "secret names are UPPER_SNAKE_CASE (e.g. POSTGRES_PASSWORD)")
        if value is not None and not isinstance(value, Mapping):
            # Never echo the value: it may be the real secret.
            raise s.fail(name, "secret declared with a literal value; secrets are named here "
                               "and their values come from Vault at deploy time")
        entry = Fields(value or {}, file=f.file, service=f.service, prefix=f"secrets.{name}")
        for literal in ("value", "default", "literal"):
            if entry.has(literal):
                raise entry.fail(literal, "secret declared with a literal value; secrets are "
                                          "named here and their values come from Vault at "
                                          "deploy time")
        owner = entry.str_("from", None, pattern=DNS_1123_LABEL, hint="a service name")
        kind_raw = entry.choice("kind", tuple(k.value for k in SecretKind), None)
        if owner is None and kind_raw is None:
            raise entry.fail("kind", "is required for a secret this service owns (or use "
                                     "`from: <service>` to share another service's secret)")
        if owner is not None and kind_raw is not None:
            raise entry.fail("kind", "a shared secret takes its kind from the owner; drop "
                                     "`kind` or `from`")
        file = entry.str_("file", f"{d.SECRETS_DIR}/{name.lower()}", pattern=ABS_PATH,
                          hint="an absolute path")
        env = entry.str_("env", None, pattern=ENV_NAME, hint="an environment variable name")
        entry.done()
        # kind of a shared secret is filled in once the owner is known (_check_platform)
        refs.append(SecretRef(name=name, kind=SecretKind(kind_raw or SecretKind.PASSWORD),
                              file=file, env=env, shared_from=owner))
    return tuple(refs)


def _no_declared_secret_in_environment(f: Fields, environment: tuple[tuple[str, str], ...],
                                       secrets: tuple[SecretRef, ...]) -> None:
    """A secret listed under `secrets` is delivered as a file; the same name as a variable
    would be a second, literal copy. (Every other literal is judged by the detector in
    `_no_literal_secrets`, before this.)"""
    names = {ref.name for ref in secrets}
    for key, _ in environment:
        if key in names:
            raise f.fail(f"environment.{key}", "secret declared with a literal value; it is "
                                               "listed under `secrets`, so it must not also "
                                               "be set here")


def _entrypoint(f: Fields) -> tuple[str, ...]:
    """Replaces the image's entrypoint; `command` stays its arguments. For images whose
    program reads a credential from the environment only: a shell reads the secret file and
    execs the program (`[/bin/sh, -c, <script>, <program>]`, arguments from `command`)."""
    entrypoint: tuple[str, ...] = f.str_list("entrypoint", (), unique=False)
    if f.has("entrypoint") and not entrypoint:
        raise f.fail("entrypoint", "must not be empty; leave `entrypoint` out to keep the "
                                   "image's")
    return entrypoint


def _volumes(f: Fields) -> tuple[Volume, ...]:
    v = f.sub("volumes", what="'volumes'")
    if v is None:
        return ()
    volumes: list[Volume] = []
    mount_paths: dict[str, str] = {}
    for vol_name in v.data:
        v.seen.add(vol_name)
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,62}", vol_name):
            raise v.fail(vol_name, "volume names are lower-case letters, digits, '-', '_', '.'")
        value = v.data[vol_name]
        if isinstance(value, str):
            spec = Fields({"path": value}, file=f.file, service=f.service,
                          prefix=f"volumes.{vol_name}")
        else:
            spec = Fields(value, file=f.file, service=f.service, prefix=f"volumes.{vol_name}",
                          what=f"volume '{vol_name}'")
        path = spec.str_("path", pattern=ABS_PATH, hint="an absolute container path")
        host_path = spec.str_("host_path", None, pattern=ABS_PATH, hint="an absolute host path")
        read_only = spec.bool_("read_only", host_path is not None)
        spec.done()
        if path in mount_paths:
            raise spec.fail("path", f"'{path}' is already mounted by volume "
                                    f"'{mount_paths[path]}'")
        mount_paths[path] = vol_name
        volumes.append(Volume(name=vol_name, path=path, host_path=host_path,
                              read_only=read_only))
    return tuple(volumes)


def _metrics(f: Fields, port: int | None) -> tuple[str | None, int | None]:
    m = f.sub("metrics", what="'metrics'")
    if m is None:
        return None, None
    path = m.str_("path", "/metrics", pattern=URL_PATH, hint="an absolute URL path")
    metrics_port = m.int_("port", port, minimum=1, maximum=65535)
    m.done()
    if metrics_port is None:
        raise m.fail("port", "is required when the service has no port")
    return path, metrics_port


def _route(f: Fields, exposure: Exposure, domain: str) -> Route | None:
    r = f.sub("route", what="'route'")
    routed = exposure in (Exposure.PUBLIC, Exposure.ADMIN)
    if r is None:
        if routed:
            raise f.fail("route", f"{_who(exposure)} needs a route (host) for the edge proxy")
        return None
    if not routed:
        raise f.fail("route", "an internal service is never routed; set exposure to public "
                              "or admin, or remove the route")
    host_tpl = r.str_("host")
    host = host_tpl.replace("{domain}", domain)
    if not re.fullmatch(HOSTNAME, host):
        raise r.fail("host", f"'{show_key(host)}' is not a DNS name (use e.g. 'api.{{domain}}')")
    prefix = r.str_("path_prefix", "/", pattern=URL_PATH, hint="an absolute URL path")
    login = r.str_list("login_paths", (), pattern=URL_PATH, hint="an absolute URL path")
    r.done()
    return Route(host=host, path_prefix=prefix, login_paths=login)


# -- the whole platform ---------------------------------------------------------------------

def _check_platform(services: list[Service], file: str,
                    dep_fields: Mapping[str, Mapping[str, str]] | None = None) -> None:
    by_name = {svc.name: svc for svc in services}

    def err(service: str, field: str, message: str) -> ValidationError:
        return ValidationError(file, message, service=service, field=field)

    for svc in by_name.values():
        fields = (dep_fields or {}).get(svc.name, {})
        for index, dep in enumerate(svc.depends_on):
            field = fields.get(dep, f"depends_on[{index}]")
            if dep == svc.name:
                raise err(svc.name, field, f"dependency cycle: {svc.name} -> {svc.name}")
            target = by_name.get(dep)
            if target is None:
                raise err(svc.name, field, f"unknown dependency '{show_key(dep)}' (no such "
                                           "service in the catalog)")
            if not set(svc.networks) & set(target.networks):
                raise err(svc.name, field, f"'{dep}' is unreachable: the two services share "
                                           "no network")
            waits = dep in svc.completed_dependencies
            if waits and target.one_shot is None:
                raise err(svc.name, field, f"'{dep}' is a long-running service and never "
                                           "completes; `completed` is for one-shot jobs "
                                           "(`one_shot: <reason>`), use `started`")
            if not waits and target.one_shot is not None:
                raise err(svc.name, field, f"'{dep}' is a one-shot job: wait for it with "
                                           f"`depends_on: {{{dep}: completed}}` (starting "
                                           "after it started proves nothing)")
        if svc.backup is not None:
            job = by_name.get(svc.backup)
            if job is None or job.name == svc.name:
                raise err(svc.name, "backup", f"backup job '{svc.backup}' is not a service in "
                                              "the catalog")
        for ref in svc.secrets:
            if ref.shared_from is None:
                continue
            owner = by_name.get(ref.shared_from)
            owned = None if owner is None else next(
                (o for o in owner.secrets if o.name == ref.name and o.shared_from is None), None)
            if owned is None:
                raise err(svc.name, f"secrets.{ref.name}.from",
                          f"service '{ref.shared_from}' does not own a secret '{ref.name}'")

    _check_cycles(by_name, file)
    _check_ports(services, file)
    _check_routes(services, file)


def _check_cycles(by_name: Mapping[str, Service], file: str) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in by_name:
        if state.get(root):
            continue
        # iterative DFS: catalogs are small, but recursion limits are no way to fail
        path: list[str] = [root]
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            deps = by_name[node].depends_on
            if index == len(deps):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, index + 1)
            dep = deps[index]
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep):], dep]
                raise ValidationError(
                    file, f"dependency cycle: {' -> '.join(cycle)}",
                    service=node, field=f"depends_on[{index}]",
                )
            if not state.get(dep):
                state[dep] = 1
                path.append(dep)
                stack.append((dep, 0))


def _check_ports(services: list[Service], file: str) -> None:
    # Two services answering on one port of a shared network make service addresses
    # ambiguous for targets that flatten a network (host ports, a Kubernetes pod).
    taken: dict[tuple[Network, int], tuple[str, str]] = {}
    for svc in services:
        listens: dict[int, str] = {}
        for field, port in (("port", svc.port), ("metrics.port", svc.metrics_port),
                            ("health.port", svc.health.port if svc.health else None)):
            if port is not None and port not in listens:
                listens[port] = field
        for port, field in listens.items():
            for net in svc.networks:
                owner = taken.get((net, port))
                if owner is not None and owner[0] != svc.name:
                    raise ValidationError(
                        file,
                        f"port collision: {port} is already used by service '{owner[0]}' "
                        f"({owner[1]}) on the {net.value} network",
                        service=svc.name, field=field,
                    )
                taken[(net, port)] = (svc.name, field)


def _check_routes(services: list[Service], file: str) -> None:
    seen: dict[tuple[str, str], str] = {}
    for svc in services:
        route = svc.route
        if route is None:
            continue
        key = (route.host, route.path_prefix)
        if key in seen:
            raise ValidationError(
                file, f"route {route.host}{route.path_prefix} is already routed to service "
                      f"'{seen[key]}'", service=svc.name, field="route.host")
        seen[key] = svc.name


def _with_shared_secret_kinds(services: list[Service]) -> tuple[Service, ...]:
    """A shared secret takes its owner's kind (the draft carried a placeholder)."""
    owned = {(svc.name, ref.name): ref.kind for svc in services for ref in svc.secrets
             if ref.shared_from is None}
    result = []
    for svc in services:
        refs = tuple(
            ref if ref.shared_from is None
            else replace(ref, kind=owned[(ref.shared_from, ref.name)])
            for ref in svc.secrets
        )
        result.append(replace(svc, secrets=refs))
    return tuple(result)


def _check_unused_pins(pins: Mapping[str, Pin], file: str) -> None:
    # Unused pins are allowed (e.g. kept for the Kubernetes target), but they still must be
    # exact: a floating tag in the pins file is a trap waiting for its first user.
    for pin in pins.values():
        if pin.tag is not None:
            problem = tag_problem(pin.tag)
            if problem:
                raise ValidationError(file, f"image '{pin.key}': {problem}",
                                      field=f"images.{pin.key}.tag")
