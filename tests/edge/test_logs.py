"""Traefik's log and access log: JSON, no errors, and no credentials in the access log."""

from __future__ import annotations

import secrets
import time

import pytest

from . import harness as h

pytestmark = pytest.mark.integration


def test_log_is_json_without_errors(edge: h.Edge) -> None:
    records = edge.log_records()
    assert any(r.get("message", "").startswith("Traefik version") for r in records), (
        f"{edge.name}: not Traefik's start-up log")
    assert not edge.problems(), f"{edge.name}: {edge.problems()}"


def test_access_log_has_no_credentials(edge: h.Edge) -> None:
    token, cookie = secrets.token_hex(16), secrets.token_hex(16)
    path = f"/access-log-probe/{secrets.token_hex(4)}"
    got = edge.request("GET", edge.host("api-gateway"), path, headers={
        "Authorization": f"Bearer {token}", "Cookie": f"session={cookie}"})
    assert got.status == 200, f"{edge.name}: {got.status}"
    # The values did travel: the upstream needs them.
    forwarded = dict(got.echo()["headers"])
    assert forwarded.get("Authorization") == f"Bearer {token}", forwarded
    assert forwarded.get("Cookie") == f"session={cookie}", forwarded
    deadline = time.monotonic() + h.REQUEST_TIMEOUT_S
    while True:
        lines = [r for r in edge.log_records() if r.get("RequestPath") == path]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) == 1, f"{edge.name}: access log lines for {path}: {lines}"
    line = lines[0]
    assert line["DownstreamStatus"] == 200 and line["RequestHost"] == edge.host("api-gateway")
    text = edge.log_text()
    assert token not in text and cookie not in text, f"{edge.name}: a credential was logged"
    leaked = [k for k in line if "authorization" in k.lower() or "cookie" in k.lower()]
    assert not leaked, f"{edge.name}: access log fields {leaked}"
