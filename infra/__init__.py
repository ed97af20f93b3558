"""Rampart's Python side: the stack and model in, hardened resources and checks out.

The flow, as docs/architecture.md draws it: `stack` (the stack file, read once) and the
catalog -> `model` (validated platform) -> `program` -> `targets` (+ `edge`, `observability`,
`backups`, `secrets`) -> resources; `offline` runs the program without the Pulumi CLI and the
policy pack (`policies`) over what it declared; `lab` and `hosts` are the host-facing side;
`cli` and `demo` sit on top. tests/unit/test_architecture.py holds each package to the imports
its docstring allows.

This module owns the project's metadata that code needs (its source URL); it imports only
the standard library.
"""

from __future__ import annotations

PLACEHOLDER_SOURCE = "https://rampart.invalid/rampart/blob/main"


def source_url() -> str:
    """The project's browsable source (pyproject `[project.urls] Source`), no trailing '/'."""
    # Imported here: importlib.metadata pulls in email/zipfile/socket, which importing any
    # `infra` module (the literal detector on its own, `rampart --help`) must not pay for.
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("rampart").get_all("Project-URL") or []
    except PackageNotFoundError:  # a checkout never installed (`make setup` installs it)
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "source" and url.strip():
            return url.strip().rstrip("/")
    return PLACEHOLDER_SOURCE
