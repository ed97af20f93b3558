"""Stack configuration: the one module that reads it.

Under the Pulumi engine the `rampart:` namespace comes from the engine's config (what
`pulumi config` and `Pulumi.<stack>.yaml` hold). For the offline render, `stack_file_config`
reads the same keys from `Pulumi.<stack>.yaml` and hands them to the mock engine in the form
the CLI would, so the program reads them back through exactly the same path.

Values are passed on as a plain dict (camelCase keys); the model parses and validates them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.config as runtime_config

from infra import stackfile
from infra.model.errors import ValidationError

NAMESPACE = "rampart"
DEFAULT_TARGET = "docker"
PROJECT_FILE = "Pulumi.yaml"


# Settings of the secrets provider, not of the model: where Vault is (credentials come from
# the environment, never from config).
SECRETS_KEYS = frozenset({"vaultAddr", "vaultMount", "vaultAllowInsecureHttp"})


def check_secrets_settings(settings: Mapping[str, Any], source: str) -> None:
    """Refuse a credential in the secrets provider's settings (`vaultAddr`, `vaultMount`)
    before anything contacts Vault: Vault credentials come from VAULT_TOKEN or AppRole
    (VAULT_ROLE_ID + VAULT_SECRET_ID), never from the stack file. The message names the
    file and key, never the value. Keys may be given with or without the namespace."""
    from urllib.parse import urlsplit

    from infra.secrets.literals import scan_text

    for key in sorted(SECRETS_KEYS):
        full = f"{NAMESPACE}:{key}"
        value = settings.get(key, settings.get(full))
        if not isinstance(value, str):
            continue
        found = scan_text(value, full)
        if found:
            raise ValidationError(
                source, f"secret declared with a literal value ({found[0].why}); Vault "
                        "credentials come from VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID, "
                        "never from the stack file", field=full)
        if key == "vaultAddr":
            try:
                userinfo = "@" in urlsplit(value.strip()).netloc
            except ValueError:
                userinfo = False  # not a URL at all: the Vault client refuses it
            if userinfo:
                raise ValidationError(
                    source, "the Vault address carries user info (user@host); Vault "
                            "credentials come from VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID,"
                            " never from the address", field=full)


@dataclass(frozen=True)
class StackConfig:
    stack: str
    target: str
    settings: dict[str, Any]  # the `rampart:` namespace for the model, key without the prefix
    source: str  # where the settings came from, for error messages
    project_dir: Path
    secrets_settings: dict[str, Any] = field(default_factory=dict)  # SECRETS_KEYS only

    @property
    def catalog(self) -> Path | None:
        """The stack's catalog file, relative paths resolved against the project directory."""
        value = self.settings.get("catalog")
        if not isinstance(value, str) or not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.project_dir / path


def project_dir(start: Path | None = None) -> Path:
    """The directory holding Pulumi.yaml: the working directory or a parent, else the checkout
    this package was imported from."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return Path(__file__).resolve().parent.parent


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


def stack_file_config(stack: str, root: Path | None = None) -> dict[str, str]:
    """Every config key of `Pulumi.<stack>.yaml`, encoded as the engine passes config to a
    program: strings as is, everything else as JSON.

    The file is read by the strict reader (infra/stackfile.py): a missing file, non-UTF-8
    bytes, duplicate keys, an alias bomb or a wrongly typed known key is a `ValidationError`
    naming the file (and key and line)."""
    root = root or project_dir()
    path = stack_file(check_stack_name(stack), root)
    shown = _display(path, root)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        more = ", ..." if len(known) > 10 else ""
        hint = f"; stacks here: {', '.join(known[:10])}{more}" if known else ""
        raise ValidationError(shown, f"no such stack file (stack '{stack}'{hint})")
    values = stackfile.read_stack_config(path, shown)
    check_secrets_settings(values, shown)
    encoded: dict[str, str] = {}
    for full, value in values.items():
        encoded[full] = value if isinstance(value, str) else json.dumps(
            value, sort_keys=True, default=_yaml_scalar)
    return encoded


def _yaml_scalar(value: object) -> str:
    """YAML reads an unquoted `2027-05-31` (a waiver's expiry) as a date; the engine passes
    it on as the text that was written."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a config value")


def _decode(raw: Any) -> Any:
    """Engine config values are strings; structured and scalar values arrive JSON-encoded."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _settings_from(encoded: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix):]: (value if key[len(prefix):] in _STRING_KEYS else _decode(value))
        for key, value in sorted(encoded.items()) if key.startswith(prefix)
    }


def _split(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    model = {k: v for k, v in settings.items() if k not in SECRETS_KEYS}
    secrets = {k: v for k, v in settings.items() if k in SECRETS_KEYS}
    return model, secrets


def stack_settings(stack: str, root: Path | None = None) -> dict[str, Any]:
    """The model's `rampart:` settings of `Pulumi.<stack>.yaml`, as the program sees them."""
    return _split(_settings_from(stack_file_config(stack, root)))[0]


def _namespace_keys() -> list[str]:
    prefix = f"{NAMESPACE}:"
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    return sorted(k[len(prefix):] for k in keys if k.startswith(prefix))


def load(root: Path | None = None) -> StackConfig:
    """Read the stack's `rampart:` namespace from the running engine (real or mocked)."""
    root = root or project_dir()
    stack = pulumi.get_stack()
    cfg = pulumi.Config(NAMESPACE)
    raw = {f"{NAMESPACE}:{key}": cfg.get(key) for key in _namespace_keys()}
    settings, secrets = _split(_settings_from({k: v for k, v in raw.items() if v is not None}))
    target = settings.get("target", DEFAULT_TARGET)
    source = _display(stack_file(stack, root), root)
    check_secrets_settings(secrets, source)
    return StackConfig(stack=stack, target=str(target), settings=settings, source=source,
                       project_dir=root, secrets_settings=secrets)


# Keys whose values are strings even when they look like numbers or booleans.
_STRING_KEYS = frozenset({
    "target", "environment", "domain", "tls", "acmeEmail", "acmeCaServer", "acmeChallenge",
    "minTlsVersion", "catalog", "vaultAddr", "vaultMount",
})
