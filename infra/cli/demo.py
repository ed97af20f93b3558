"""`rampart demo`: the main job on the embedded default (see infra/demo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where outputs and logs go.")] = Path(
        "out/demo"),
    hosts: Annotated[bool, typer.Option(help="Include the lab, site.yml and host tests.")] = True,
) -> None:
    """Lab up, Vault dev server + secret bootstrap, site.yml, host verification, dev stack
    render + policy check, observability build, then a summary."""
    from infra.demo import run_demo

    raise typer.Exit(run_demo(out, with_hosts=hosts))
