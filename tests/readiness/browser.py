"""Headless Chromium (Debian `chromium`) driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: fd 3 carries commands in, fd 4 answers and events out, each a
JSON message ended by NUL), so no port is opened at all. Used to render a page, record every
network request it makes, evaluate expressions in it and take a screenshot."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--remote-debugging-pipe"]
TIMEOUT = 60.0


class BrowserError(RuntimeError):
    pass


@dataclass
class Page:
    """What a page did while it loaded."""

    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


class Chromium:
    def __init__(self, proc: subprocess.Popen[bytes], to_browser: int, from_browser: int
                 ) -> None:
        self.proc = proc
        self.out = to_browser
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, args=(from_browser,), daemon=True)
        self.reader.start()

    def _read(self, fd: int) -> None:
        buffer = b""
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                buffer += chunk
                while b"\0" in buffer:
                    message, buffer = buffer.split(b"\0", 1)
                    self.messages.put(json.loads(message))
        self.messages.put(None)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._next(deadline, method)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise BrowserError(f"no answer from Chromium for {waiting_for}") from None
        if message is None:
            raise BrowserError(f"Chromium closed the pipe while waiting for {waiting_for}")
        return message

    def wait_event(self, method: str, session: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        deadline = time.monotonic() + TIMEOUT
        while True:
            event = self._next(deadline, method)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    def render(self, url: str, width: int = 1280, height: int = 1600
               ) -> tuple[Page, str]:
        """Open `url` in a new tab; returns what it requested and logged, and the session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session)
        # Give late requests (fonts, images, prefetches) a moment to show up.
        time.sleep(0.5)
        self.evaluate("document.readyState", session)
        page = Page()
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Log.entryAdded":
                page.console.append(f"{params['entry'].get('source')}: "
                                    f"{params['entry'].get('text')}")
            elif method == "Runtime.consoleAPICalled":
                page.console.append(" ".join(str(a.get("value")) for a in params["args"]))
        return page, session

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, session: str, path: Path) -> bytes:
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        png = base64.b64decode(data)
        path.write_bytes(png)
        return png


@contextmanager
def chromium() -> Iterator[Chromium]:
    if not Path(CHROMIUM).is_file():
        raise BrowserError(f"{CHROMIUM} is missing: install Debian's chromium "
                           "(scripts/system-deps.sh)")
    profile = tempfile.mkdtemp(prefix="rampart-chromium-")
    cmd_r, cmd_w = os.pipe()  # we write commands, Chromium reads them on fd 3
    out_r, out_w = os.pipe()  # Chromium writes on fd 4, we read

    def fds() -> None:  # in the child, before exec: the pipe ends become fds 3 and 4
        high_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.dup2(high_in, 3)
        os.dup2(high_out, 4)

    proc = subprocess.Popen(  # noqa: S603 (a fixed binary and fixed flags)
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=False, preexec_fn=fds)  # noqa: PLW1509 (single-threaded at this point)
    os.close(cmd_r)
    os.close(out_w)
    browser = Chromium(proc, cmd_w, out_r)
    try:
        yield browser
    finally:
        with suppress(BrowserError, OSError):
            browser.send("Browser.close")
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(cmd_w)
        shutil.rmtree(profile, ignore_errors=True)
