"""`rampart demo`: the main job on the embedded default (see infra/demo.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where outputs and logs go.")] = Path(
        "out/demo"),
    hosts: Annotated[bool, typer.Option(
        help="Include the lab: lab up, site.yml, audit, reachability, backup + restore drill, "
             "live targets.")] = True,
) -> None:
    """Lab up, Vault dev server + secret bootstrap, site.yml, then a focused verification
    (audit figures, cross-host reachability, a backup + restore drill), dev stack render +
    policy check, observability build and live targets, then a summary. Stops at the first
    failed step, shows its log tail and a hint, and exits 1."""
    from infra.demo import run_demo

    raise typer.Exit(run_demo(out, with_hosts=hosts))
