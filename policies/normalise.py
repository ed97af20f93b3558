"""One normalisation layer: every rule judges the canonical form of a resource's inputs.

Rules read pulumi-docker 5.x / pulumi-kubernetes 4.x inputs in wire (camelCase) form. A
`pulumi preview` can send the same setting spelled in ways the provider, Docker or the
kubelet treat alike (or that a careless or hostile program hopes the pack reads differently):

- booleans as strings or numbers: `privileged: "true"`, `"True"`, `"yes"`, `"1"`, `1`;
- keys in another case or style: `Privileged`, `NetworkMode`, `network_mode`, `read-only`,
  and the usual aliases (`environment` for `envs`, `cap_add`, `entrypoint`, `test`, ...);
- enum values in another case: `networkMode: HOST`, mount `type: BIND`;
- equivalent fields: a network named `host` in `networksAdvanced` is `networkMode: host`;
  a host path arrives as a `mounts` bind, as a local-driver volume mount bound to a host
  directory, as `volumes[].hostPath` or a compose-style `"/src:/dst:ro"` string, or as a
  `devices` entry; Kubernetes containers inherit the pod's `securityContext`;
- numbers as strings (`runAsUser: "0"`, `" 0"`, `"+0"`), users by name or by any numeric
  spelling (`root`, `00:00`, `0000`), image references with stray spaces or an upper-case
  digest, argument lists given as one string, env and labels given as a mapping.

`normalise()` rewrites all of these into the one spelling the rules read, so a rule only
handles the canonical form and there is no per-rule parsing of odd spellings. Two choices
keep it on the safe side:

- a security flag whose value cannot be read (neither true nor false, or hidden behind a
  Pulumi secret) takes its *unsafe* reading: an unreadable `privileged` is privileged, an
  unreadable `readOnly` is writable;
- when one setting is given under several spellings (`privileged: false` next to
  `Privileged: "yes"`), the worst one wins: the pack cannot know which spelling a provider
  honours, so it judges the most dangerous. Lists given twice are joined.

Kubernetes is the one place where a spelling is not a synonym: the API server reads field
names exactly, and drops (or refuses) any other spelling before the kubelet sees the pod. A
misspelled key is therefore judged only in the unsafe direction there (`Privileged: "true"` is
privileged; `allowprivilegeescalation: false` or `RunAsNonRoot: true` claims nothing), and
capability names and seccomp profile types keep their exact spelling, as Pod Security
admission compares them (`drop: [all]` does not drop `ALL`).

Values unknown during a preview stay `UNKNOWN` (judged once known). Keys the layer does not
know are kept as given. The result is a `Normalised` mapping: normalising it again returns it
unchanged, and a `Plain` input (the offline check's) remembers its normal form, so each
resource is normalised once per run, not once per rule.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

from policies.core import (
    CONTAINER,
    SECRET,
    UNKNOWN,
    Plain,
    k8s_kind,
    pod_spec_path,
)

DOCKER_VOLUME = "docker:index/volume:Volume"

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0", ""})

# uids the kernel accepts (runc and the kubelet refuse anything outside 0..2^31-1).
MAX_UID = 2**31 - 1
ROOT_NAMES = frozenset({"root"})


class Normalised(Plain):
    """Inputs already in canonical form (see the module docstring)."""


# ---------------------------------------------------------------------------------------------
# Scalars


def fold(key: object) -> str:
    """The spelling-insensitive form of a key: `Network_Mode`, `network-mode` -> `networkmode`."""
    return re.sub(r"[\s_.\-]", "", str(key)).lower()


def to_bool(value: Any, unsafe: bool) -> Any:
    """True/False for every spelling Docker, Go or YAML accept; None and UNKNOWN unchanged;
    anything else (a secret, garbage) is the unsafe reading."""
    if value is None or value is UNKNOWN or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value != SECRET:
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return unsafe


_INT = re.compile(r"[+-]?\d+")


def to_int(value: Any) -> Any:
    """`"0"`, `" 00"`, `"+0"`, `0.0` -> 0 (Go's Atoi accepts a sign and leading zeros);
    anything that is not an integer is returned unchanged."""
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    return value


def uid_of(value: Any) -> Any:
    """A user or uid as a number when it names one: `0`, `"0000"`, `"+0"`, `"root"` -> 0;
    other names (resolved only inside the image) are returned stripped."""
    number = to_int(value)
    if isinstance(number, int):
        return number
    if isinstance(value, str) and value != SECRET:
        name = value.strip()
        return 0 if name.lower() in ROOT_NAMES else name
    return value


def docker_user(value: Any) -> Any:
    """Docker's `user` (`name|uid[:group|gid]`) with each part resolved: `"00:00"` -> `"0:0"`,
    `"root:root"` -> `"0:0"`, `" 0"` -> `"0"`; empty means "not set" (None)."""
    if value is None or value is UNKNOWN or value == SECRET:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(to_int(value))
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    user, sep, group = text.partition(":")
    parts = [str(uid_of(user))]
    if sep:
        parts.append(str(uid_of(group)))
    return ":".join(parts)


def enum(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) and value != SECRET else value


# Namespace modes: the keyword part is case-insensitive (`HOST`), a container or network name
# after `container:` keeps its case.
_MODE_WORDS = frozenset({"host", "bridge", "none", "default", "private", "shareable"})


def mode(value: Any) -> Any:
    if not isinstance(value, str) or value == SECRET:
        return value
    text = value.strip()
    word, sep, rest = text.partition(":")
    if sep and word.lower() in ("container", "service"):
        return f"{word.lower()}:{rest.strip()}"
    return text.lower() if text.lower() in _MODE_WORDS else text


def host_path(value: Any) -> Any:
    """`//var/run/./docker.sock/` -> `/var/run/docker.sock`; `\\\\.\\pipe\\x` -> `/pipe/x`."""
    if not isinstance(value, str) or value == SECRET:
        return value
    path = value.strip().replace("\\", "/")
    if not path:
        return path
    absolute = path.startswith("/")
    path = posixpath.normpath(path)
    return "/" + path.lstrip("/") if absolute else path


def looks_like_host_path(source: str) -> bool:
    """Compose-style volume sources: a path (`/srv`, `./data`, `~/x`), not a volume name."""
    return source.startswith(("/", ".", "~", "\\")) or "/" in source


def image_ref(value: Any) -> Any:
    """Stray spaces removed, the digest (algorithm and hex) in lower case."""
    if not isinstance(value, str) or value == SECRET:
        return value
    name, at, digest = value.strip().partition("@")
    if not at:
        return name.strip()
    return f"{name.strip()}@{digest.strip().lower()}"


def argv(value: Any) -> Any:
    """An argument list; a single string is split as a shell would split it."""
    if value is None or value is UNKNOWN or value == SECRET:
        return value
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError:  # unbalanced quotes: still judge every word
            return value.split()
    if isinstance(value, Sequence):
        return [v if isinstance(v, str) or v is UNKNOWN else str(v) for v in value]
    return value


def str_list(value: Any) -> Any:
    """A list of strings; one string (`"a,b"` too) becomes a list."""
    if value is None or value is UNKNOWN or value == SECRET:
        return value
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, Sequence):
        return [v.strip() if isinstance(v, str) else v for v in value]
    return value


def capabilities(value: Any) -> Any:
    """`CAP_net_admin ` -> `NET_ADMIN`."""
    items = str_list(value)
    if not isinstance(items, list):
        return items
    return [str(c).strip().upper().removeprefix("CAP_") if c is not UNKNOWN else c
            for c in items]


# ---------------------------------------------------------------------------------------------
# Keys


class Spellings(list):  # type: ignore[type-arg]
    """(key, value) pairs of one object given under several spellings of its key (e.g.
    `capabilities` and `Capabilities`): judged as one object, every pair kept."""


def _items(obj: Mapping[Any, Any] | Spellings) -> Iterable[tuple[Any, Any]]:
    return obj.items() if isinstance(obj, Mapping) else obj


def is_object(value: Any) -> TypeGuard[Mapping[Any, Any] | Spellings]:
    return isinstance(value, Mapping | Spellings)


class Keys:
    """Canonical keys of one object kind, matched by `fold()`, plus aliases."""

    def __init__(self, canonical: Iterable[str], aliases: Mapping[str, str] | None = None):
        self.table = {fold(k): k for k in canonical}
        self.table.update({fold(a): k for a, k in (aliases or {}).items()})

    def group(self, obj: Mapping[Any, Any] | Spellings,
              ) -> tuple[dict[str, list[Any]], dict[Any, Any]]:
        """({canonical key: values under every spelling, the exact spelling first}, the keys
        this kind does not know, as given)."""
        known: dict[str, list[Any]] = {}
        exact: dict[str, bool] = {}
        unknown: dict[Any, Any] = {}
        for key, value in _items(obj):
            canon = self.table.get(fold(key))
            if canon is None:
                unknown[key] = value
                continue
            values = known.setdefault(canon, [])
            if key == canon and not exact.get(canon):
                values.insert(0, value)
                exact[canon] = True
            else:
                values.append(value)
        return known, unknown

    def spelled(self, obj: Mapping[Any, Any] | Spellings,
                ) -> tuple[dict[str, list[tuple[bool, Any]]], dict[Any, Any]]:
        """Like `group`, each value with whether its key was spelled exactly (canonically);
        exact spellings first."""
        known: dict[str, list[tuple[bool, Any]]] = {}
        unknown: dict[Any, Any] = {}
        for key, value in _items(obj):
            canon = self.table.get(fold(key))
            if canon is None:
                unknown[key] = value
            else:
                known.setdefault(canon, []).append((key == canon, value))
        for values in known.values():
            values.sort(key=lambda pair: not pair[0])  # stable: exact ones first, in order
        return known, unknown


def _first(values: list[Any]) -> Any:
    """The exact spelling's value when there is one, else the first non-empty value."""
    for v in values:
        if v is not None:
            return v
    return None


def _any_true(unsafe: bool) -> Callable[[list[Any]], Any]:
    """Merge a flag given under several spellings: the unsafe reading wins."""

    def merge(values: list[Any]) -> Any:
        read = [to_bool(v, unsafe) for v in values]
        if unsafe in read:
            return unsafe
        if UNKNOWN in read:
            return UNKNOWN
        return _first(read)

    return merge


def _objects(values: list[Any]) -> Any:
    """An object given under several spellings: all its pairs, judged together."""
    objects = [v for v in values if v is not None]
    if len(objects) <= 1 or not all(is_object(v) for v in objects):
        return _first(values)
    return Spellings(pair for obj in objects for pair in _items(obj))


def _joined(values: list[Any]) -> Any:
    """Lists given under several spellings are judged together."""
    lists = [v for v in values if v is not None]
    if len(lists) <= 1:
        return lists[0] if lists else None
    if any(v is UNKNOWN for v in lists):
        return UNKNOWN
    out: list[Any] = []
    for v in lists:
        out.extend(v if isinstance(v, list) else [v])
    return out


def _worst_mode(values: list[Any]) -> Any:
    read = [mode(v) for v in values]
    return "host" if "host" in read else _first(read)


def _worst_image(values: list[Any]) -> Any:
    """An image given under several spellings: judge one that is not pinned, if any."""
    from policies.images.refs import DIGEST, is_exact_tag, parse  # refs needs only core

    read = [image_ref(v) for v in values]
    for ref in read:
        if not isinstance(ref, str):
            continue
        parsed = parse(ref)
        if not (parsed.is_image_id or (parsed.digest and DIGEST.fullmatch(parsed.digest))
                or (parsed.tag and is_exact_tag(parsed.tag))):
            return ref
    return _first(read)


def _worst_user(values: list[Any]) -> Any:
    read = [docker_user(v) for v in values]
    for user in read:
        if isinstance(user, str) and user.partition(":")[0] == "0":
            return user
    return _first(read)


# ---------------------------------------------------------------------------------------------
# Docker (pulumi-docker 5.x `docker:index/container:Container`)

CONTAINER_KEYS = Keys(
    (
        "attach", "capabilities", "cgroupnsMode", "command", "cpuPeriod", "cpuQuota", "cpuSet",
        "cpuShares", "cpus", "destroyGraceSeconds", "devices", "dns", "dnsOpts", "dnsSearches",
        "domainname", "entrypoints", "envs", "gpus", "groupAdds", "healthcheck", "hostname",
        "hosts", "image", "init", "ipcMode", "labels", "logDriver", "logOpts", "logs",
        "maxRetryCount", "memory", "memoryReservation", "memorySwap", "mounts", "mustRun",
        "name", "networkMode", "networksAdvanced", "pidMode", "ports", "privileged",
        "publishAllPorts", "readOnly", "removeVolumes", "restart", "rm", "runtime",
        "securityOpts", "shmSize", "start", "stdinOpen", "stopSignal", "stopTimeout",
        "storageOpts", "sysctls", "tmpfs", "tty", "ulimits", "uploads", "user", "usernsMode",
        "volumes", "wait", "waitTimeout", "workingDir",
    ),
    {
        # Docker CLI / compose / API spellings of the same settings.
        "env": "envs", "environment": "envs", "entrypoint": "entrypoints", "cmd": "command",
        "mount": "mounts", "volume": "volumes", "binds": "volumes", "device": "devices",
        "label": "labels", "securityOpt": "securityOpts", "pid": "pidMode", "ipc": "ipcMode",
        "net": "networkMode", "network": "networkMode", "userns": "usernsMode",
        "networks": "networksAdvanced", "readOnlyRootFilesystem": "readOnly",
        "healthCheck": "healthcheck",
        # compose's cap_add/cap_drop: folded into `capabilities` below
        "capAdd": "capAdd", "capDrop": "capDrop",
    },
)

MOUNT_KEYS = Keys(
    ("type", "source", "target", "readOnly", "bindOptions", "volumeOptions", "tmpfsOptions"),
    {"src": "source", "destination": "target", "dst": "target", "dest": "target",
     "ro": "readOnly", "readonly": "readOnly"},
)
VOLUME_KEYS = Keys(
    ("hostPath", "containerPath", "readOnly", "volumeName", "fromContainer"),
    {"ro": "readOnly", "host": "hostPath"},
)
DEVICE_KEYS = Keys(("hostPath", "containerPath", "permissions"))
NETWORK_KEYS = Keys(("name", "aliases", "ipv4Address", "ipv6Address"))
LABEL_KEYS = Keys(("label", "value"), {"key": "label", "name": "label"})
HEALTH_KEYS = Keys(("tests", "interval", "timeout", "startPeriod", "startInterval", "retries"),
                   {"test": "tests"})
CAPS_KEYS = Keys(("adds", "drops"), {"add": "adds", "drop": "drops", "capAdd": "adds",
                                     "capDrop": "drops"})
PORT_KEYS = Keys(("internal", "external", "ip", "protocol"))

CONTAINER_MERGE: dict[str, Callable[[list[Any]], Any]] = {
    "privileged": _any_true(True),
    "publishAllPorts": _any_true(True),
    "readOnly": _any_true(False),
    "attach": _any_true(False),
    "networkMode": _worst_mode,
    "pidMode": _worst_mode,
    "ipcMode": _worst_mode,
    "usernsMode": _worst_mode,
    "cgroupnsMode": _worst_mode,
    "user": _worst_user,
    "image": _worst_image,
}
for _key in ("mounts", "volumes", "devices", "envs", "labels", "ports", "securityOpts",
             "networksAdvanced", "capAdd", "capDrop", "uploads", "groupAdds"):
    CONTAINER_MERGE[_key] = _joined
for _key in ("capabilities", "healthcheck", "logOpts", "sysctls"):
    CONTAINER_MERGE[_key] = _objects


def _records(value: Any, keys: Keys, parse: Callable[[str], dict[str, Any]] | None = None,
             ) -> Any:
    """A list of objects, keys canonical; strings parsed by `parse` when given."""
    if value is None or value is UNKNOWN or value == SECRET:
        return value
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str):
        value = [value] if isinstance(value, str) else []
    out: list[Any] = []
    for item in value:
        if isinstance(item, str) and parse is not None:
            item = parse(item)
        if isinstance(item, Mapping):
            known, unknown = keys.group(item)
            out.append({**unknown, **{k: _first(v) for k, v in known.items()}})
        else:
            out.append(item)
    return out


def _volume_string(text: str) -> dict[str, Any]:
    """Compose/`docker run -v` form: `src:dst[:opts]` or an anonymous `dst`."""
    parts = text.strip().split(":")
    if len(parts) == 1:
        return {"containerPath": parts[0]}
    source, target = parts[0], parts[1]
    read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    key = "hostPath" if looks_like_host_path(source) else "volumeName"
    return {key: source, "containerPath": target, "readOnly": read_only}


def _device_string(text: str) -> dict[str, Any]:
    """`--device /dev/sda[:/dev/xvda[:rwm]]`."""
    parts = text.strip().split(":")
    out: dict[str, Any] = {"hostPath": parts[0], "containerPath": parts[0]}
    if len(parts) > 1:
        out["containerPath"] = parts[1]
    if len(parts) > 2:
        out["permissions"] = parts[2]
    return out


def _local_bind_device(options: Any) -> str | None:
    """A `local`-driver volume with `o: bind` and `device: /path` is a host-path bind."""
    if not isinstance(options, Mapping):
        return None
    opts = {fold(k): v for k, v in options.items()}
    o = opts.get("o")
    device = opts.get("device")
    binds = isinstance(o, str) and "bind" in [p.strip().lower() for p in o.split(",")]
    if binds and isinstance(device, str) and device.strip():
        return str(host_path(device))
    return None


def _mounts(value: Any) -> Any:
    mounts = _records(value, MOUNT_KEYS)
    if not isinstance(mounts, list):
        return mounts
    out = []
    for m in mounts:
        if not isinstance(m, dict):
            out.append(m)
            continue
        m["type"] = enum(m.get("type"))
        m["readOnly"] = to_bool(m.get("readOnly"), False)
        source = m.get("source")
        options = m.get("volumeOptions")
        options = {fold(k): v for k, v in options.items()} \
            if isinstance(options, Mapping) else {}
        device = _local_bind_device(options.get("driveroptions", options.get("driveropts")))
        if device is not None:
            # A volume whose local driver binds a host directory: a bind by another name.
            m["type"], m["source"] = "bind", device
        elif m["type"] not in ("bind", "volume", "tmpfs", "npipe", "cluster") and \
                isinstance(source, str) and looks_like_host_path(source.strip()):
            m["type"] = "bind"  # no (or an unknown) type with a path source: judge as a bind
        if m["type"] in ("bind", "npipe"):
            m["source"] = host_path(m.get("source"))
        out.append(m)
    return out


def _volumes(value: Any) -> Any:
    volumes = _records(value, VOLUME_KEYS, _volume_string)
    if not isinstance(volumes, list):
        return volumes
    for v in volumes:
        if isinstance(v, dict):
            v["readOnly"] = to_bool(v.get("readOnly"), False)
            if v.get("hostPath") is not None:
                v["hostPath"] = host_path(v["hostPath"])
    return volumes


def _devices(value: Any) -> Any:
    devices = _records(value, DEVICE_KEYS, _device_string)
    if not isinstance(devices, list):
        return devices
    for d in devices:
        if isinstance(d, dict) and d.get("hostPath") is not None:
            d["hostPath"] = host_path(d["hostPath"])
    return devices


NAME_VALUE_KEYS = Keys(("name", "value"), {"key": "name"})


def _envs(value: Any) -> Any:
    """`["K=V"]`; a mapping or a list of {name, value} becomes that form."""
    if value is None or value is UNKNOWN or value == SECRET:
        return value
    if isinstance(value, Mapping):
        return [f"{k}={'' if v is None else v}" for k, v in value.items()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, Mapping):
            known, _ = NAME_VALUE_KEYS.group(item)
            name, val = _first(known.get("name", [])), _first(known.get("value", []))
            out.append(f"{name}={'' if val is None else val}")
        else:
            out.append(item if isinstance(item, str) or item is UNKNOWN else str(item))
    return out


def _labels(value: Any) -> Any:
    if isinstance(value, Mapping) and not ({fold(k) for k in value} <= {"label", "value"}):
        return [{"label": str(k), "value": v} for k, v in value.items()]
    labels = _records(value, LABEL_KEYS)
    if not isinstance(labels, list):
        return labels
    return [{**lbl, "value": str(lbl["value"])}
            if isinstance(lbl, dict) and lbl.get("value") is not None
            and not isinstance(lbl["value"], str) and lbl["value"] is not UNKNOWN else lbl
            for lbl in labels]


HEALTH_KEYWORDS = ("CMD", "CMD-SHELL", "NONE")


def _health_test(tests: Any) -> Any:
    """One `test`: a string runs in a shell (CMD-SHELL); the keyword in upper case."""
    if isinstance(tests, str) and tests != SECRET:
        tests = ["CMD-SHELL", tests]
    tests = argv(tests)
    if isinstance(tests, list) and tests and isinstance(tests[0], str) and \
            tests[0].strip().upper() in HEALTH_KEYWORDS:
        tests = [tests[0].strip().upper(), *tests[1:]]
    return tests


def _health_tests(values: list[Any]) -> Any:
    """Tests given under several spellings: NONE (disabled) wins; otherwise the commands
    are judged together (the first keeps its keyword, the others add their items)."""
    tests = [_health_test(v) for v in values if v is not None]
    lists = [t for t in tests if isinstance(t, list)]
    if len(lists) != len(tests) or len(lists) <= 1:
        return _first(tests)
    if any(t[:1] == ["NONE"] for t in lists):
        return ["NONE"]
    out = list(lists[0])
    for t in lists[1:]:
        out += t[1:] if t[:1] and t[0] in HEALTH_KEYWORDS else t
    return out


def _healthcheck(value: Any) -> Any:
    if not is_object(value):
        return value
    known, unknown = HEALTH_KEYS.group(value)
    hc = {**unknown, **{k: _health_tests(v) if k == "tests" else _first(v)
                        for k, v in known.items()}}
    return hc


def _capabilities(value: Any, adds: Any, drops: Any) -> Any:
    if value is UNKNOWN or value == SECRET:
        return value
    caps: dict[str, Any] = {}
    if is_object(value):
        known, unknown = CAPS_KEYS.group(value)
        caps = {**unknown, **{k: _joined(v) for k, v in known.items()}}
    for key, extra in (("adds", adds), ("drops", drops)):
        if extra is not None:
            caps[key] = _joined([caps.get(key), extra])
    if not caps and value is None:
        return None
    for key in ("adds", "drops"):
        if key in caps:
            caps[key] = capabilities(caps[key])
    return caps


def _security_opts(value: Any) -> Any:
    """`no-new-privileges` in every spelling Docker accepts becomes `no-new-privileges:true`
    (or `:false`); other options are trimmed, their key in lower case."""
    items = str_list(value)
    if not isinstance(items, list):
        return items
    out: list[Any] = []
    for opt in items:
        if not isinstance(opt, str):
            out.append(opt)
            continue
        m = re.fullmatch(r"\s*([^:=]*?)\s*([:=])(.*)", opt, flags=re.DOTALL)
        key, sep, val = (m.group(1), m.group(2), m.group(3).strip()) if m else (opt, "", "")
        key = key.strip().lower()
        if key == "no-new-privileges":
            flag = to_bool(val, False) if sep else True
            out.append(f"no-new-privileges:{'true' if flag is True else 'false'}")
        else:
            out.append(f"{key}{sep}{val}")
    return out


def _ports(value: Any) -> Any:
    ports = _records(value, PORT_KEYS)
    if not isinstance(ports, list):
        return ports
    for p in ports:
        if isinstance(p, dict):
            for key in ("internal", "external"):
                if key in p:
                    p[key] = to_int(p[key])
            if "protocol" in p:
                p["protocol"] = enum(p["protocol"])
    return ports


def _networks(value: Any) -> Any:
    if isinstance(value, str) and value != SECRET:
        value = [value]
    if isinstance(value, list):
        value = [{"name": v} if isinstance(v, str) else v for v in value]
    return _records(value, NETWORK_KEYS)


def normalise_container(props: Mapping[str, Any]) -> dict[str, Any]:
    # Lists become canonical per spelling first, so spellings in different forms (`envs` as a
    # list, `environment` as a mapping) join into one canonical list.
    list_converters: dict[str, Callable[[Any], Any]] = {
        "mounts": _mounts, "volumes": _volumes, "devices": _devices, "envs": _envs,
        "labels": _labels, "securityOpts": _security_opts, "ports": _ports,
        "networksAdvanced": _networks,
    }
    known, unknown = CONTAINER_KEYS.group(props)
    out: dict[str, Any] = dict(unknown)
    for key, values in known.items():
        if key in list_converters:
            values = [list_converters[key](v) for v in values]
        out[key] = CONTAINER_MERGE.get(key, _first)(values)
    cap_add, cap_drop = out.pop("capAdd", None), out.pop("capDrop", None)
    for key in ("logOpts", "sysctls"):
        if isinstance(out.get(key), Spellings):
            out[key] = dict(out[key])  # given twice: judged as one mapping

    for key in ("privileged", "publishAllPorts"):
        if key in out:
            out[key] = to_bool(out[key], True)
    for key in ("readOnly", "attach"):
        if key in out:
            out[key] = to_bool(out[key], False)
    for key in ("networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode"):
        if key in out:
            out[key] = mode(out[key])
    for key in ("restart", "logDriver", "runtime"):
        if key in out:
            out[key] = enum(out[key])
    if "user" in out:
        out["user"] = docker_user(out["user"])
    if "image" in out:
        out["image"] = image_ref(out["image"])
    for key in ("command", "entrypoints"):
        if key in out:
            out[key] = argv(out[key])
    if "healthcheck" in out:
        out["healthcheck"] = _healthcheck(out["healthcheck"])
    if "capabilities" in out or cap_add is not None or cap_drop is not None:
        out["capabilities"] = _capabilities(out.get("capabilities"), cap_add, cap_drop)

    # Joining the network called `host` is host networking, whatever networkMode says.
    networks = out.get("networksAdvanced")
    if isinstance(networks, list) and any(
            isinstance(n, Mapping) and mode(n.get("name")) == "host" for n in networks):
        out["networkMode"] = "host"
    return out


def normalise_volume(props: Mapping[str, Any]) -> dict[str, Any]:
    """`docker:index/volume:Volume`: the local driver's bind options, keys canonical."""
    keys = Keys(("name", "driver", "driverOpts", "labels"), {"driverOptions": "driverOpts"})
    known, unknown = keys.group(props)
    out: dict[str, Any] = {**unknown, **{k: _first(v) for k, v in known.items()}}
    if "driver" in out:
        out["driver"] = enum(out["driver"])
    opts = out.get("driverOpts")
    if isinstance(opts, Mapping):
        out["driverOpts"] = {str(k).strip().lower(): v for k, v in opts.items()}
    return out


# ---------------------------------------------------------------------------------------------
# Kubernetes (pulumi-kubernetes 4.x): every kind that carries a pod spec
#
# The API server reads field names exactly as written: `AllowPrivilegeEscalation: false` or
# `runasuser: 1000` is an unknown field, dropped (or refused) before the kubelet sees the pod.
# So a misspelled key counts only in the unsafe direction: `Privileged: "true"` is judged as
# privileged (the worst reading), but `allowprivilegeescalation: false`, `RunAsNonRoot: true`,
# `Drop: [ALL]`, `seccompprofile: {type: RuntimeDefault}`, a misspelled non-root `runAsUser`,
# `automountServiceAccountToken: false`, `serviceAccountName`, `resources` or probes under
# another spelling claim nothing: the field stays unset, as it will be in the cluster.

POD_KEYS = Keys((
    "containers", "initContainers", "ephemeralContainers", "hostNetwork", "hostPID", "hostIPC",
    "hostUsers", "securityContext", "volumes", "automountServiceAccountToken",
    "serviceAccountName", "serviceAccount", "shareProcessNamespace", "restartPolicy", "nodeName",
))
K8S_CONTAINER_KEYS = Keys((
    "name", "image", "command", "args", "env", "envFrom", "ports", "securityContext",
    "volumeMounts", "resources", "readinessProbe", "livenessProbe", "startupProbe",
    "imagePullPolicy", "workingDir", "lifecycle",
))
SECURITY_CONTEXT_KEYS = Keys((
    "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot",
    "runAsUser", "runAsGroup", "capabilities", "procMount", "seccompProfile", "seLinuxOptions",
    "windowsOptions", "appArmorProfile", "fsGroup", "supplementalGroups", "sysctls",
))
K8S_CAPS_KEYS = Keys(("add", "drop"))
SECCOMP_KEYS = Keys(("type", "localhostProfile"))
ENV_KEYS = Keys(("name", "value", "valueFrom"))
K8S_PORT_KEYS = Keys(("containerPort", "hostPort", "hostIP", "name", "protocol"))
K8S_VOLUME_MOUNT_KEYS = Keys(("name", "mountPath", "readOnly", "subPath", "subPathExpr",
                              "mountPropagation", "recursiveReadOnly"))
# Settings a container inherits from the pod's securityContext unless it sets its own.
INHERITED = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "seLinuxOptions",
             "windowsOptions", "appArmorProfile")
SC_BOOLS = {"privileged": True, "allowPrivilegeEscalation": True,
            "readOnlyRootFilesystem": False, "runAsNonRoot": False}
# Seccomp profile types Pod Security "restricted" accepts (the API's enum is case-sensitive).
SECCOMP_CONFINED = ("RuntimeDefault", "Localhost")
# Fields whose mere presence is a claim some rule credits (limits, probes, writable paths, the
# ServiceAccount): only their exact spelling counts.
K8S_EXACT_ONLY = frozenset({"resources", "readinessProbe", "livenessProbe", "startupProbe",
                            "volumeMounts", "serviceAccountName", "serviceAccount"})

Spelled = list[tuple[bool, Any]]  # (key spelled exactly?, value) for one canonical key


def _exact_only(values: Spelled) -> Any:
    return next((v for exact, v in values if exact), None)


def _claim_flag(values: Spelled, unsafe: bool) -> Any:
    """A flag under any spelling: the unsafe reading from any of them; the safe one only
    from the exact spelling (a misspelled safe value is dropped by the API server)."""
    read = [(exact, to_bool(v, unsafe)) for exact, v in values]
    if any(r is unsafe for _, r in read):
        return unsafe
    if any(r is UNKNOWN for _, r in read):
        return UNKNOWN
    return next((r for exact, r in read if exact and r is not None), None)


def _claim_uid(values: Spelled) -> Any:
    """uid 0 from any spelling (root wins); any other uid only from the exact spelling."""
    read = [(exact, uid_of(v)) for exact, v in values]
    if any(isinstance(r, int) and r == 0 for _, r in read):
        return 0
    return next((r for exact, r in read if exact and r is not None), None)


def _raw_list(value: Any) -> Any:
    """A list of strings as the API reads it: no trimming, no case change ("all" is not
    "ALL" to Pod Security admission); a lone string counts as one item."""
    if value is None or value is UNKNOWN:
        return value
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return []


def _k8s_capabilities(values: Spelled) -> Any:
    """`add` from every spelling (joined: the worst); `drop` only where both `capabilities`
    and `drop` are spelled exactly. Values keep their exact spelling."""
    adds: list[Any] = []
    drops: list[Any] = []
    seen: set[str] = set()
    other: dict[Any, Any] = {}
    for exact_obj, obj in values:
        if obj is UNKNOWN:
            return UNKNOWN
        if not is_object(obj):
            continue
        spelled, unknown = K8S_CAPS_KEYS.spelled(obj)
        other.update(unknown)
        for key, out, needs_exact in (("add", adds, False), ("drop", drops, True)):
            for exact_key, v in spelled.get(key, []):
                if needs_exact and not (exact_obj and exact_key):
                    continue
                items = _raw_list(v)
                if items is UNKNOWN:
                    return UNKNOWN
                seen.add(key)
                out.extend(items or [])
    caps: dict[str, Any] = dict(other)
    if "add" in seen:
        caps["add"] = adds
    if "drop" in seen:
        caps["drop"] = drops
    return caps or None


def _k8s_seccomp(values: Spelled) -> Any:
    """A profile type Pod Security refuses (Unconfined, or any other word) from any spelling
    wins; a confining one counts only when `seccompProfile` and `type` are spelled exactly."""
    confined: dict[str, Any] | None = None
    for exact_obj, obj in values:
        if obj is UNKNOWN:
            return UNKNOWN
        if not is_object(obj):
            if obj is not None:
                return {"type": obj}  # not an object: the API refuses it, judge it as such
            continue
        spelled, _ = SECCOMP_KEYS.spelled(obj)
        for exact_key, kind in spelled.get("type", []):
            if kind is UNKNOWN:
                return UNKNOWN
            if kind not in SECCOMP_CONFINED:
                return {"type": kind}
            if exact_obj and exact_key and confined is None:
                confined = {"type": kind}
                profile = _exact_only(spelled.get("localhostProfile", []))
                if profile is not None:
                    confined["localhostProfile"] = profile
    return confined


def _security_context(values: Spelled) -> Any:
    """One securityContext from every spelling of its key (see the section's comment)."""
    objects = [(exact, v) for exact, v in values if v is not None]
    if not objects:
        return None
    if any(v is UNKNOWN for _, v in objects):
        return UNKNOWN
    if not any(is_object(v) for _, v in objects):
        return objects[0][1]  # not an object (a secret, garbage): left as given
    by_key: dict[str, Spelled] = {}
    sc: dict[str, Any] = {}
    for exact_obj, obj in objects:
        if not is_object(obj):
            continue
        spelled, unknown = SECURITY_CONTEXT_KEYS.spelled(obj)
        for key, pairs in spelled.items():
            by_key.setdefault(key, []).extend((exact_obj and e, v) for e, v in pairs)
        for key, value in unknown.items():
            sc.setdefault(key, value)
    for key, pairs in by_key.items():
        pairs.sort(key=lambda pair: not pair[0])
        if key in SC_BOOLS:
            value = _claim_flag(pairs, SC_BOOLS[key])
        elif key in ("runAsUser", "runAsGroup"):
            value = _claim_uid(pairs)
        elif key == "capabilities":
            value = _k8s_capabilities(pairs)
        elif key == "seccompProfile":
            value = _k8s_seccomp(pairs)
        else:
            value = _first([v for _, v in pairs])
        if value is not None:
            sc[key] = value
    return sc


def _k8s_env(value: Any) -> Any:
    if isinstance(value, Mapping):
        return [{"name": str(k), "value": v} for k, v in value.items()]
    return _records(value, ENV_KEYS)


def _k8s_container(value: Any, pod_sc: Mapping[str, Any]) -> Any:
    if not isinstance(value, Mapping):
        return value
    spelled, unknown = K8S_CONTAINER_KEYS.spelled(value)
    merge: dict[str, Callable[[list[Any]], Any]] = {
        "image": _worst_image, "env": _joined, "envFrom": _joined, "ports": _joined,
        "command": _joined, "args": _joined}
    c: dict[str, Any] = dict(unknown)
    for key, pairs in spelled.items():
        if key == "securityContext":
            continue
        if key in K8S_EXACT_ONLY:
            exact = _exact_only(pairs)
            if exact is not None:
                c[key] = exact
            continue
        c[key] = merge.get(key, _first)([v for _, v in pairs])
    if "image" in c:
        c["image"] = image_ref(c["image"])
    for key in ("command", "args"):
        if key in c:
            c[key] = argv(c[key])
    if "env" in c:
        c["env"] = _k8s_env(c["env"])
    if "ports" in c:
        ports = _records(c["ports"], K8S_PORT_KEYS)
        for p in ports if isinstance(ports, list) else []:
            if isinstance(p, dict):
                for key in ("containerPort", "hostPort"):
                    if key in p:
                        p[key] = to_int(p[key])
        c["ports"] = ports
    if "volumeMounts" in c:
        mounts = _records(c["volumeMounts"], K8S_VOLUME_MOUNT_KEYS)
        for m in mounts if isinstance(mounts, list) else []:
            if isinstance(m, dict) and "readOnly" in m:
                m["readOnly"] = to_bool(m["readOnly"], False)
        c["volumeMounts"] = mounts
    sc = _security_context(spelled.get("securityContext", []))
    if sc is not UNKNOWN and (pod_sc or sc is not None):
        sc = dict(sc) if isinstance(sc, Mapping) else {}
        for key in INHERITED:
            if sc.get(key) is None and pod_sc.get(key) is not None:
                sc[key] = pod_sc[key]
        c["securityContext"] = sc
    elif sc is UNKNOWN:
        c["securityContext"] = UNKNOWN
    return c


def _k8s_volumes(value: Any) -> Any:
    volumes = _records(value, Keys(("name", "hostPath")))
    if not isinstance(volumes, list):
        return volumes
    for v in volumes:
        if isinstance(v, dict) and isinstance(v.get("hostPath"), str):
            v["hostPath"] = {"path": v["hostPath"]}  # a bare path means the same directory
        if isinstance(v, dict) and isinstance(v.get("hostPath"), Mapping):
            known, other = Keys(("path", "type")).group(v["hostPath"])
            hp = {**other, **{k: _first(x) for k, x in known.items()}}
            if "path" in hp:
                hp["path"] = host_path(hp["path"])
            v["hostPath"] = hp
    return volumes


def normalise_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    spelled, unknown = POD_KEYS.spelled(spec)
    out: dict[str, Any] = dict(unknown)
    pod_sc: Any = None
    for key, pairs in spelled.items():
        values = [v for _, v in pairs]
        if key in ("hostNetwork", "hostPID", "hostIPC"):
            out[key] = to_bool(_any_true(True)(values), True)
        elif key == "automountServiceAccountToken":
            claim = _claim_flag(pairs, True)
            if claim is not None:
                out[key] = claim
        elif key in K8S_EXACT_ONLY:
            exact = _exact_only(pairs)
            if exact is not None:
                out[key] = exact
        elif key in ("containers", "initContainers", "ephemeralContainers", "volumes"):
            out[key] = _joined(values)
        elif key == "securityContext":
            pod_sc = _security_context(pairs)
            out[key] = pod_sc
        else:
            out[key] = _first(values)
    inherited = pod_sc if isinstance(pod_sc, Mapping) else {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        if isinstance(out.get(key), Mapping):
            out[key] = [out[key]]
        if isinstance(out.get(key), list):
            out[key] = [_k8s_container(c, inherited) for c in out[key]]
    if "volumes" in out:
        out["volumes"] = _k8s_volumes(out["volumes"])
    return out


def _with_pod_spec(props: Mapping[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """A copy of `props` with the pod spec at `path` (keys matched by fold) normalised."""
    out = dict(props)
    step = path[0]
    key = next((k for k in out if k == step), None) or \
        next((k for k in out if fold(k) == fold(step)), None)
    if key is None:
        return out
    value = out.pop(key)
    if len(path) == 1:
        out[step] = normalise_pod_spec(value) if isinstance(value, Mapping) else value
    else:
        out[step] = _with_pod_spec(value, path[1:]) if isinstance(value, Mapping) else value
    return out


# ---------------------------------------------------------------------------------------------
# Entry point


def normalise(resource_type: str, props: Mapping[str, Any]) -> Normalised:
    """The canonical form of one resource's inputs (see the module docstring)."""
    if isinstance(props, Normalised):
        return props
    cached = getattr(props, "_rampart_normal", None)
    # A copy (copy.deepcopy of a Plain copies its attributes) is not the input cached.
    if cached is not None and cached[0] == (resource_type, id(props)):
        return cached[1]  # type: ignore[no-any-return]
    if resource_type == CONTAINER:
        result = Normalised(normalise_container(props))
    elif resource_type == DOCKER_VOLUME:
        result = Normalised(normalise_volume(props))
    elif k8s_kind(resource_type) is not None and (path := pod_spec_path(resource_type)):
        result = Normalised(_with_pod_spec(props, path))
    else:
        result = Normalised(props)
    if isinstance(props, Plain):
        # Offline inputs are built once per resource and shared by every rule.
        props._rampart_normal = ((resource_type, id(props)), result)  # type: ignore[attr-defined]
    return result
