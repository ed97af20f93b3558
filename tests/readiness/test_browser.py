"""The HTML report in a real browser: headless Chromium renders the file the CLI wrote for the
shipped catalog, the verdict and every category chart are visible, a screenshot is taken and
is not blank, and the page makes no network request at all (a control page that does make
one proves the recorder sees requests)."""

from __future__ import annotations

import datetime as dt
import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.readiness import catalog

from .browser import chromium
from .support import NOW, measured, rec, run_cli, write_evidence

pytestmark = pytest.mark.integration

PROBE = """(() => {
  const shown = el => {
    if (!el) return false;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden"
      && style.display !== "none" && Number(style.opacity) > 0;
  };
  const verdict = document.getElementById("verdict");
  return {
    verdict: verdict ? verdict.textContent.trim() : null,
    verdictShown: shown(verdict),
    verdictAboveTheFold: verdict ? verdict.getBoundingClientRect().bottom < innerHeight : false,
    score: document.getElementById("score").textContent.trim(),
    categories: [...document.querySelectorAll(".category")].map(c => ({
      id: c.dataset.category, shown: shown(c), bar: shown(c.querySelector("svg.bar")),
      segments: c.querySelectorAll("svg.bar rect").length})),
    trend: shown(document.getElementById("trend")),
    failedRow: shown(document.getElementById("HOST-2")),
    resources: performance.getEntriesByType("resource").map(e => e.name),
    fetching: document.querySelectorAll("script,link,img,iframe,object,embed,[src]").length,
  };
})()"""


def _png_is_not_blank(png: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values of the decompressed image data)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, data, size = 8, b"", (0, 0)
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    return size[0], size[1], len(set(zlib.decompress(data)))


@pytest.fixture
def report_html(tmp_path: Path) -> Path:
    """The HTML the CLI writes for the shipped catalog over evidence of every kind: proven,
    failed (a blocker: the Lynis index below the owners' 85), stale, not run, a problem."""
    ev = tmp_path / "evidence"
    old = NOW - dt.timedelta(days=30)
    write_evidence(ev, "old.json", [rec("tests/edge/test_tls.py::test_tls_version", at=old,
                                        run="old")])
    write_evidence(ev, "recent.json", [
        rec("tests/edge/test_redirect.py::test_http_is_redirected_to_https"),
        rec("tests/unit/test_traefik.py::test_general_rate_limit"),
        rec("audit:lynis", kind="audit", host="db1",
            measurements=[measured("hardening_index", 79)]),
        rec("restore-drill", kind="restore-drill", host="db1",
            measurements=[measured("rto_seconds", 61.5, "s"), measured("rpo_seconds", 2, "s")]),
    ])
    (ev / "broken.json").write_text('{"schema": "rampart-readiness-evidence", "vers',
                                    encoding="utf-8")
    out = tmp_path / "site" / "readiness.html"
    result = run_cli("--evidence", str(ev), "--out", str(out))
    assert result.exit_code == 1, result.output  # HOST-2 failed: a blocker
    return out


def test_the_report_renders_with_its_verdict_and_charts_and_fetches_nothing(
        report_html: Path, tmp_path: Path) -> None:
    url = report_html.as_uri()
    shot = tmp_path / "readiness.png"
    with chromium() as browser:
        page, session = browser.render(url)
        seen = browser.evaluate(PROBE, session)
        png = browser.screenshot(session, shot)
    assert page.requests == [url], f"the report requested more than itself: {page.requests}"
    assert seen["resources"] == [] and seen["fetching"] == 0
    assert not [c for c in page.console if "Content Security Policy" in c or "error" in c], \
        page.console
    assert seen["verdict"] == "not ready"
    assert seen["verdictShown"] and seen["verdictAboveTheFold"]
    categories = [c.id for c in catalog.load().categories]
    assert [c["id"] for c in seen["categories"]] == categories
    assert all(c["shown"] and c["bar"] and c["segments"] >= 1 for c in seen["categories"]), \
        seen["categories"]
    assert seen["trend"] and seen["failedRow"]
    width, height, distinct = _png_is_not_blank(png)
    assert (width, height) == (1280, 1600)
    assert distinct > 50, f"the screenshot {shot} looks blank ({distinct} distinct bytes)"


class _Pixel(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the handler's required name)
        type(self).hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Pixel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_recorder_sees_a_page_that_does_fetch(tmp_path: Path, loopback_server: str) -> None:
    page_file = tmp_path / "fetching.html"
    page_file.write_text(f'<!DOCTYPE html><html><body><p id="verdict">x</p>'
                         f'<img src="{loopback_server}/pixel.png"></body></html>',
                         encoding="utf-8")
    _Pixel.hits.clear()
    with chromium() as browser:
        page, _ = browser.render(page_file.as_uri())
    assert f"{loopback_server}/pixel.png" in page.requests
    assert _Pixel.hits == ["/pixel.png"]
