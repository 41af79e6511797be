"""Headless Chromium driven over the Chrome DevTools Protocol, for the report's browser tests.

:func:`chromium_binary` finds (or, as root, installs: ``scripts/chromium.sh``) Debian's
chromium and skips the test with the script's one-line reason when it cannot.
:class:`Browser` starts it with ``--remote-debugging-port=0`` (the port it picks is read from
``DevToolsActivePort`` in its profile folder; it listens on 127.0.0.1 only), talks to it over
one WebSocket (``websocket-client``) in flat-session mode, and :meth:`Browser.open` loads a
page and reports what a person would notice: uncaught script errors, console and log errors,
images that did not decode, the requests the page made, and a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "chromium.sh"
INSTALL_TIMEOUT_S = 600  # apt-get install chromium on a bare machine (about 15 s here)
START_TIMEOUT_S = 30
CALL_TIMEOUT_S = 60

# Every image's state once it has had the chance to decode: img.decode() rejects for an image
# that cannot be decoded, and naturalWidth stays 0.
_IMAGES_JS = """
Promise.all(Array.from(document.images).map(function (img) {
  return img.decode().then(function () { return true; }, function () { return false; }).then(function (ok) {
    return {src: img.getAttribute("src").slice(0, 40), decoded: ok, complete: img.complete,
            naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight};
  });
}))
"""


def chromium_binary() -> str:
    """The chromium path from ``scripts/chromium.sh`` (installing it when missing and root);
    skips the calling test with the script's reason when there is none."""
    try:
        proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.skip(f"headless chromium: scripts/chromium.sh did not finish within {INSTALL_TIMEOUT_S} s")
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        pytest.skip(f"headless chromium: {lines[-1] if lines else f'scripts/chromium.sh exit status {proc.returncode}'}")
    return proc.stdout.strip().splitlines()[-1]


@dataclass
class PageResult:
    """What loading one page showed."""

    url: str
    errors: List[str] = field(default_factory=list)  # uncaught exceptions, console.error, log errors
    images: List[Dict[str, Any]] = field(default_factory=list)  # src (start), decoded, naturalWidth, ...
    requests: List[str] = field(default_factory=list)  # URLs the page asked for (data: URIs shortened)
    screenshot: bytes = b""

    @property
    def broken_images(self) -> List[Dict[str, Any]]:
        return [i for i in self.images if not (i["decoded"] and i["complete"] and i["naturalWidth"] > 0)]


class Browser:
    """One headless chromium for several pages (a context manager)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self._ids = itertools.count(1)
        self._events: List[Dict[str, Any]] = []

    def __enter__(self) -> "Browser":
        import websocket  # the test extra's websocket-client

        self._profile = tempfile.TemporaryDirectory(prefix="htsweep-chromium-")
        profile = Path(self._profile.name)
        self._log = open(profile / "stderr.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self._log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                tail = (profile / "stderr.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"chromium did not start its DevTools endpoint: {tail}")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        # suppress_origin: chromium refuses DevTools WebSockets whose Origin header it does not allow
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=CALL_TIMEOUT_S, suppress_origin=True)
        return self

    def __exit__(self, *exc: object) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._profile.cleanup()

    # ---------------------------------------------------------------------------------------
    # the protocol

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, session: Optional[str] = None) -> Dict[str, Any]:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        msg_id = next(self._ids)
        msg: Dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while time.monotonic() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)
        raise TimeoutError(f"{method}: no answer within {CALL_TIMEOUT_S} s")

    def wait_event(self, method: str, session: str) -> Dict[str, Any]:
        """The first event ``method`` of ``session`` (already received or still to come)."""
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while True:
            for e in self._events:
                if e.get("method") == method and e.get("sessionId") == session:
                    return e
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {CALL_TIMEOUT_S} s")
            self._events.append(json.loads(self.ws.recv()))

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    # ---------------------------------------------------------------------------------------
    # pages

    def open(self, url: str, width: int = 1280, height: int = 900) -> "OpenPage":
        """Load ``url`` in a new tab of ``width`` x ``height`` CSS pixels (scale 1) and wait for
        its load event; the tab stays open for :meth:`OpenPage.evaluate`."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        nav = self.call("Page.navigate", {"url": url}, session)
        if nav.get("errorText"):
            raise RuntimeError(f"navigating to {url}: {nav['errorText']}")
        self.wait_event("Page.loadEventFired", session)
        return OpenPage(self, session, target, url)


@dataclass
class OpenPage:
    """A loaded tab: :meth:`check` collects what it showed."""

    browser: Browser
    session: str
    target: str
    url: str

    def evaluate(self, expression: str) -> Any:
        return self.browser.evaluate(self.session, expression)

    def check(self) -> PageResult:
        """Images (after decoding), the screenshot, then every error and request so far."""
        out = PageResult(url=self.url)
        out.images = self.evaluate(_IMAGES_JS)
        shot = self.browser.call("Page.captureScreenshot", {"format": "png"}, self.session)
        out.screenshot = base64.b64decode(shot["data"])
        for e in self.browser._events:
            if e.get("sessionId") != self.session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.errors.append((d.get("exception") or {}).get("description") or d.get("text", "exception"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
            elif e["method"] == "Network.requestWillBeSent":
                url = p["request"]["url"]
                out.requests.append(url[:40] if url.startswith("data:") else url)
        return out

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})


def file_url(path: Path) -> str:
    return Path(os.path.abspath(path)).as_uri()
