"""Filters of the traefik role: the files the edge reads, as rampart_managed_files entries
read from the controller's build directory, and the check's --stage arguments for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Read by the check as they are named in the configuration, not staged in its place.
CONFIGURATION = ("traefik.yml", "dynamic/edge.yml")


def traefik_file(name: str, build_dir: str, dest_dir: str, group: str) -> dict[str, Any]:
    """One generated file (`name` relative to the build directory) for `dest_dir`, readable
    by Traefik's group only."""
    content = (Path(build_dir) / name).read_text(encoding="utf-8")
    return {"dest": f"{dest_dir}/{name}", "content": content, "group": group, "mode": "0640"}


def traefik_stage_args(names: list[str], config_dir: str) -> list[str]:
    """--stage LIVE=STAGED for every staged file the dynamic configuration names."""
    return [f"--stage={config_dir}/{name}={config_dir}/staging/{name}"
            for name in names if name not in CONFIGURATION]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"rampart_traefik_file": traefik_file,
                "rampart_traefik_stage_args": traefik_stage_args}
