"""`rampart observability`: Prometheus, Alertmanager and Grafana files from the catalog."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

# The model and infra.observability (Grafana dashboards, rule builders) are imported by the
# command that uses them, not by every `rampart` invocation.

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

# Top-level directories `build` owns inside OUT; stale files there are removed so OUT is
# exactly the generated set (a rule file dropped from the code disappears from disk too).
OWNED_DIRS = ("prometheus", "alertmanager", "grafana")


def _decode(raw: Any) -> Any:
    """Stack-file values arrive as the engine passes them: structured ones JSON-encoded."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _stack_namespace(stack: str) -> tuple[dict[str, Any], str, Path]:
    """The stack's `rampart:` namespace via infra/config.py (the one config reader)."""
    from infra import config

    root = config.project_dir()
    encoded = config.stack_file_config(stack, root)
    prefix = f"{config.NAMESPACE}:"
    namespace = {k[len(prefix) :]: _decode(v) for k, v in encoded.items() if k.startswith(prefix)}
    return namespace, f"Pulumi.{stack}.yaml", root


def _settings_file(path: Path) -> dict[str, Any]:
    """A YAML mapping shaped like the `rampart:` namespace (for runs without a stack)."""
    import yaml

    from infra.model.errors import ValidationError

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(str(path), f"cannot read settings: {exc}") from None
    if not isinstance(doc, Mapping):
        raise ValidationError(str(path), "must be a mapping of rampart settings")
    return {str(k).removeprefix("rampart:"): v for k, v in doc.items()}


def write_tree(files: Mapping[str, str], out: Path) -> list[Path]:
    """Write `files` under OUT; remove files in the owned directories that are not in it."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {out / rel for rel in files}
    removed = []
    for top in OWNED_DIRS:
        for path in sorted((out / top).rglob("*")) if (out / top).is_dir() else []:
            if path.is_file() and path not in wanted:
                path.unlink()
                removed.append(path)
    for rel, content in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.write_text(content, encoding="utf-8")
    return removed


@app.callback()
def main() -> None:
    """Observability as code: generate and check the monitoring configuration."""


@app.command()
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the files into.")],
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Stack name: reads Pulumi.<stack>.yaml (rampart:alerts, "
            "rampart:observability, rampart:catalog).",
        ),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", help="Instead of a stack: a YAML file with the same keys."),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="Catalog file (default: the stack's, else the ERP one)."),
    ] = None,
) -> None:
    """Write prometheus.yml, rule files, alertmanager.yml and Grafana provisioning to OUT."""
    from infra.model import DEFAULT_CATALOG, build_platform
    from infra.model.errors import ValidationError
    from infra.observability import CONFIG_KEYS, build_files, settings_from_stack
    from infra.observability.rules import alert_names, rule_files

    if (stack is None) == (settings is None):
        print("give exactly one of --stack or --settings", file=sys.stderr)
        raise typer.Exit(2)
    try:
        if stack is not None:
            namespace, source, root = _stack_namespace(stack)
        else:
            assert settings is not None
            namespace, source, root = _settings_file(settings), str(settings), Path.cwd()
        model_settings = {k: v for k, v in namespace.items() if k not in CONFIG_KEYS}
        chosen = catalog or (
            root / namespace["catalog"] if namespace.get("catalog") else DEFAULT_CATALOG
        )
        platform = build_platform(chosen, model_settings, settings_source=source)
        obs = settings_from_stack(namespace, source)
    except ValidationError as exc:
        # One line naming file and key; nothing written.
        print(str(exc).splitlines()[0], file=sys.stderr)
        raise typer.Exit(2) from None
    files = build_files(platform, obs)
    removed = write_tree(files, out)
    rules = rule_files(platform, obs)
    print(
        f"wrote {len(files)} files to {out}: {len(rules)} rule files, "
        f"{len(alert_names(rules))} alerts, "
        f"{sum(1 for p in files if p.endswith('.json'))} dashboards"
        + (f"; removed {len(removed)} stale files" if removed else "")
    )
