"""The stack, read once: `Pulumi.<stack>.yaml` (or the engine's config) into one frozen `Stack`.

This is the composition root's input. Every consumer — the program (`infra.program`), the
policy pack (offline and under `pulumi preview --policy-pack`), `rampart render`, `policy
check`, `secrets`, `observability`, the demo and the CI workflow through them — reads the
`Stack`, never the YAML, so they cannot judge one stack differently.

Each section is parsed and validated by the module that owns it, from the same decoded
`rampart:` namespace and the same defaults (infra/model/defaults.py):

    model         infra.model.settings     environment, digests, edge, resources, catalog, target
    secrets       infra.secrets.settings   vaultAddr, vaultMount, vaultAllowInsecureHttp
    observability infra.observability      alerts, observability
    policy        policies.settings        policyWaivers, policyWaiverMaxDays,
                                           policyAllowedCapabilities (+ the model's figures)
    kubernetes    infra.targets.kubernetes.settings   kubernetes (the Kubernetes target's block)

Two front doors, one parser: `load(name)` reads the stack file strictly (infra/stack/file.py,
with YAML positions for messages and reports); `from_engine()` reads what the Pulumi CLI
hands a program or an analyzer. `engine_config(stack)` is the inverse of the latter (the
offline engine and tests hand it to the mock engine).

May import: infra.model, infra.secrets.settings, infra.observability (settings), the policy
pack's settings module, infra.targets.kubernetes.settings (a leaf: the block's parser); never
the targets themselves, the offline engine or the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.model import DEFAULT_CATALOG
from infra.model.errors import ValidationError
from infra.model.settings import Settings, parse_settings
from infra.observability.settings import Settings as ObservabilitySettings
from infra.secrets import settings as secrets_settings
from infra.stack import file as stackfile
from infra.stack.file import Positions
from infra.targets.kubernetes import settings as kubernetes_settings

NAMESPACE = "rampart"
PROJECT_FILE = "Pulumi.yaml"
ENGINE_SOURCE = "<engine config>"


@dataclass(frozen=True)
class Stack:
    """One stack's settings, every section parsed and validated by its owner."""

    name: str
    source: str  # the stack file as messages and reports show it (relative to the project)
    project_dir: Path
    values: Mapping[str, Any]  # the decoded `rampart:` namespace, keys without the prefix
    model: Settings
    secrets: secrets_settings.SecretsSettings
    observability: ObservabilitySettings
    policy: Any  # policies.settings.StackSettings (typed loosely: the pack imports this module)
    positions: Positions = field(default_factory=dict)  # key path -> (line, column) in the file
    # The `rampart:kubernetes` block; None unless the stack targets (or configures) Kubernetes.
    kubernetes: kubernetes_settings.KubernetesSettings | None = None

    @property
    def target(self) -> str:
        return self.model.target

    @property
    def environment(self) -> str:
        return self.model.environment

    @property
    def catalog(self) -> Path:
        """The stack's catalog file (relative paths against the project), else the built-in."""
        if not self.model.catalog:
            return Path(DEFAULT_CATALOG)
        path = Path(self.model.catalog)
        return path if path.is_absolute() else self.project_dir / path

    @property
    def catalog_is_default(self) -> bool:
        return not self.model.catalog

    def located(self, exc: ValidationError) -> ValidationError:
        """`exc` at the parser's position of the stack key it names, when it names this
        stack's file (errors raised later, e.g. a resources entry for an unknown service)."""
        if exc.file != self.source:
            return exc
        return exc.located(_short_keys(self.positions), "config")

    def position(self, key: str) -> tuple[int, int] | None:
        """(line, column) of a `rampart:` key in the stack file, when read from one (the
        reader keys every position by the full name, however the file spelled it)."""
        return self.positions.get(("config", f"{NAMESPACE}:{key}"))


def project_dir(start: Path | None = None) -> Path:
    """The directory holding Pulumi.yaml: the working directory or a parent, else the checkout
    this package was imported from."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return Path(__file__).resolve().parents[2]


# Stack names become file names (`Pulumi.<stack>.yaml`): no path separators, no leading dot.
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or project_dir()) / f"Pulumi.{stack}.yaml"


def check_stack_name(stack: str) -> str:
    """Refuse a `--stack` value that is not a plain stack name (it names a file)."""
    if not _STACK_NAME.fullmatch(stack):
        shown = re.sub(r"[^\x20-\x7e]", "?", stack)[:60]
        raise ValidationError("--stack", f"'{shown}' is not a stack name (letters, digits, "
                                         "'.', '_', '-'; it names Pulumi.<stack>.yaml)")
    return stack


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def from_values(values: Mapping[str, Any], *, name: str = "", source: str = ENGINE_SOURCE,
                root: Path | None = None, positions: Positions | None = None,
                today: dt.date | None = None) -> Stack:
    """The one parser: a `rampart:` namespace (keys with or without the prefix, values as
    YAML or the engine decodes them) into a `Stack`. Raises `ValidationError` naming
    `source` and the key."""
    from infra.observability import settings_from_stack
    from policies import settings as policy_settings  # the pack's module, imports this one

    namespace = _namespace(values)
    where = _short_keys(positions or {})
    # The same type checks whichever door the values came through (a file, the engine).
    for key, value in namespace.items():
        stackfile.check_type(key, value, source, where.get(("config", key)),
                             f"{NAMESPACE}:{key}")
    try:
        model = parse_settings(namespace, source)
        secrets = secrets_settings.parse(namespace, source)
        observability = settings_from_stack(namespace, source)
        kubernetes = kubernetes_settings.parse(namespace, source, target=model.target)
    except ValidationError as exc:
        raise exc.located(where, "config") from None
    policy = policy_settings.from_namespace(
        namespace, model, stack=name, source=source, positions=positions or {}, today=today)
    return Stack(name=name, source=source, project_dir=root or project_dir(),
                 values=MappingProxyType(dict(namespace)), model=model, secrets=secrets,
                 observability=observability, policy=policy, positions=positions or {},
                 kubernetes=kubernetes)


def _short_keys(positions: Positions) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Positions under both spellings of a key (`rampart:domain` and `domain`): sections
    name their fields without the namespace."""
    out = dict(positions)
    for path, where in positions.items():
        if path[:1] == ("config",) and len(path) > 1 and str(path[1]).startswith(
                f"{NAMESPACE}:"):
            out.setdefault(("config", str(path[1])[len(NAMESPACE) + 1:], *path[2:]), where)
    return out


def load(name: str, root: Path | None = None, *, today: dt.date | None = None) -> Stack:
    """`Pulumi.<name>.yaml` read strictly (infra/stack/file.py) and parsed into a `Stack`."""
    root = root or project_dir()
    path = stack_file(check_stack_name(name), root)
    shown = _display(path, root)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        more = ", ..." if len(known) > 10 else ""
        hint = f"; stacks here: {', '.join(known[:10])}{more}" if known else ""
        raise ValidationError(shown, f"no such stack file (stack '{name}'{hint})")
    values, positions = stackfile.read_stack_config(path, shown)
    return from_values(values, name=name, source=shown, root=root, positions=positions,
                       today=today)


def from_engine(root: Path | None = None) -> Stack:
    """The stack the Pulumi engine runs (program or analyzer): its `rampart:` config."""
    import pulumi
    import pulumi.runtime.config as runtime_config

    root = root or project_dir()
    try:
        name = pulumi.get_stack()
    except Exception:  # noqa: BLE001 - an analyzer before its first request: no stack name yet
        name = ""
    prefix = f"{NAMESPACE}:"
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    cfg = pulumi.Config(NAMESPACE)
    values = {}
    for full in sorted(k for k in keys if k.startswith(prefix)):
        key = full[len(prefix):]
        raw = cfg.get(key)
        if raw is not None:
            values[key] = raw if key in _STRING_KEYS else stackfile.decoded(raw)
    source = _display(stack_file(name, root), root) if name else ENGINE_SOURCE
    return from_values(values, name=name, source=source, root=root)


def engine_policy_provider(root: Path | None = None) -> Callable[[], Any]:
    """The pack's settings under the engine (what policies/__main__.py hands the pack): the
    whole stack parsed from the engine's config as the program parses it, read lazily (the
    analyzer only receives the config once analysis starts) and once."""
    cache: dict[str, Any] = {}

    def provider() -> Any:
        if "policy" not in cache:
            cache["policy"] = from_engine(root).policy
        return cache["policy"]

    return provider


def engine_config(stack: Stack) -> dict[str, str]:
    """The stack's namespace encoded as the engine passes config to a program: strings as
    is, everything else as JSON (what `pulumi up` hands `from_engine`)."""
    return {f"{NAMESPACE}:{key}": value if isinstance(value, str) else json.dumps(
        value, sort_keys=True, default=_yaml_scalar) for key, value in stack.values.items()
        if value is not None}  # an empty key means the default, as if it were not written


def _namespace(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keys without the prefix; values as the engine would hand them to the program (a
    quoted "5" in a stack file is 5, as after `pulumi config set`), so a stack file and the
    engine's config of the same stack parse alike."""
    prefix = f"{NAMESPACE}:"
    out: dict[str, Any] = {}
    for key, value in values.items():
        if ":" in key and not key.startswith(prefix):
            continue  # another namespace (a provider's config): not Rampart's
        short = key.removeprefix(prefix)
        if short in _STRING_KEYS or value is None:
            out[short] = value
        else:
            out[short] = stackfile.decoded(value if isinstance(value, str) else json.dumps(
                value, sort_keys=True, default=_yaml_scalar))
    return out


def _yaml_scalar(value: object) -> str:
    """YAML reads an unquoted `2027-05-31` (a waiver's expiry) as a date; the engine passes
    it on as the text that was written."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a config value")


# Keys whose values are strings even when they look like numbers or booleans.
_STRING_KEYS = frozenset({
    "target", "environment", "domain", "tls", "acmeEmail", "acmeCaServer", "acmeChallenge",
    "minTlsVersion", "catalog", "vaultAddr", "vaultMount",
})
