"""The edge on a real Traefik: one per stack variant (dev, prod-shaped), started on first use
and stopped by PID at the end of the session."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from . import harness as h


@pytest.fixture(scope="session")
def edge_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], h.Edge]]:
    """`edge_of(variant)`: the running edge of 'dev' or 'prod', shared by every test."""
    started: dict[str, h.Edge] = {}
    with contextlib.ExitStack() as stack:
        def get(name: str) -> h.Edge:
            if name not in started:
                started[name] = stack.enter_context(h.running_edge(
                    name, h.variant_platform(name), tmp_path_factory.mktemp(f"edge-{name}"),
                    key_type=h.KEY_TYPES[name]))
            return started[name]
        yield get


@pytest.fixture(params=h.VARIANTS)
def edge(request: pytest.FixtureRequest, edge_of: Callable[[str], h.Edge]) -> h.Edge:
    """Each variant's edge in turn."""
    return edge_of(request.param)


@pytest.fixture
def dev_edge(edge_of: Callable[[str], h.Edge]) -> h.Edge:
    return edge_of("dev")
