"""`rampart observability`: Prometheus, Alertmanager and Grafana files from the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.errors import INPUT_ERROR, fail

if TYPE_CHECKING:
    from infra.stack import Stack

# The model and infra.observability (Grafana dashboards, rule builders) are imported by the
# command that uses them, not by every `rampart` invocation.

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__,
                  rich_markup_mode=None)  # help shown literally, as under `rampart`


def _stack(stack: str | None, settings: Path | None) -> Stack:
    """The stack (infra/stack, the one reader), or a settings file with the same keys read
    as strictly as a stack file and parsed the same way."""
    from infra import stack as stacks
    from infra.stack.file import read_settings_file

    if stack is not None:
        return stacks.load(stack)
    assert settings is not None
    return stacks.from_values(read_settings_file(settings, str(settings)), source=str(settings),
                              root=Path.cwd())


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
    from infra.model import build_platform
    from infra.model.errors import ValidationError
    from infra.observability import build_files
    from infra.observability.rules import alert_names, rule_files
    from infra.offline.outdir import OutputError, write_files

    if (stack is None) == (settings is None):
        raise fail("give exactly one of --stack or --settings", INPUT_ERROR)
    try:
        parsed = _stack(stack, settings)
        platform = build_platform(catalog or parsed.catalog, parsed.model,
                                  settings_source=parsed.source)
        obs = parsed.observability
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
