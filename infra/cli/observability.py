"""`rampart observability`: Prometheus, Alertmanager and Grafana files from the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.cli.errors import INPUT_ERROR, fail

# The model and infra.observability (Grafana dashboards, rule builders) are imported by the
# command that uses them, not by every `rampart` invocation.

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  rich_markup_mode=None)  # help shown literally, as under `rampart`


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
    """A YAML mapping shaped like the `rampart:` namespace (for runs without a stack), read
    as strictly as a stack file (infra/stackfile.py)."""
    from infra.stackfile import read_settings_file

    return read_settings_file(path, str(path))


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
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite or delete files in OUT that Rampart did not "
                     "write (or that changed since it wrote them)."),
    ] = False,
) -> None:
    """Write prometheus.yml, rule files, alertmanager.yml and Grafana provisioning to OUT.

    OUT keeps a manifest (.rampart-manifest.json) of the files Rampart wrote: a re-run
    replaces those, removes the ones it no longer generates, and refuses to overwrite or
    delete anything else unless --force. Exit 2 with one line naming the file, key or path
    when the settings are invalid or OUT cannot be written (nothing written)."""
    from infra.model import DEFAULT_CATALOG, build_platform
    from infra.model.errors import ValidationError
    from infra.observability import CONFIG_KEYS, build_files, settings_from_stack
    from infra.observability.rules import alert_names, rule_files
    from infra.outdir import OutputError, write_files

    if (stack is None) == (settings is None):
        raise fail("give exactly one of --stack or --settings", INPUT_ERROR)
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
        raise fail(exc, INPUT_ERROR) from None
    files = build_files(platform, obs)
    try:
        result = write_files(out, files, writer="observability build", force=force)
    except OutputError as exc:
        raise fail(exc, INPUT_ERROR) from None
    removed = result.removed
    rules = rule_files(platform, obs)
    print(
        f"wrote {len(files)} files to {out}: {len(rules)} rule files, "
        f"{len(alert_names(rules))} alerts, "
        f"{sum(1 for p in files if p.endswith('.json'))} dashboards"
        + (f"; removed {len(removed)} stale files" if removed else "")
    )
