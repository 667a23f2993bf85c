"""ReplayWeb.page in headless Chromium, for the WACZ's browser test (tests/test_wacz.py).

ReplayWeb.page is the static files of the ``replaywebpage`` npm package (index.html, ui.js, and
sw.js, its service worker); .ci/run unpacks them into the git-ignored ``.replaywebpage/``. They
and the WACZ are served on 127.0.0.1 (a service worker needs a secure context: localhost is
one) by a server that answers byte ranges, as any static host does: ReplayWeb.page reads a
WACZ's index and records by range. Chromium is driven through the DevTools protocol (its
websocket, with aiohttp, which Scrapy already needs): the replayed page sits in an iframe
inside the app's shadow roots, which ``--dump-dom`` does not show.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp

ROOT = Path(__file__).parent.parent
REPLAYWEBPAGE = Path(os.environ.get("REPLAYWEBPAGE_DIR", ROOT / ".replaywebpage"))
APP_FILES = ("index.html", "ui.js", "sw.js")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Every document of the page, through shadow roots and same-origin iframes: [where, its text].
# A shadow root's text is its textContent (innerText skips what sits in shadow roots).
DOCUMENTS = """(() => {
  const found = [[location.href, document.body ? document.body.innerText : ""]];
  const walk = (root) => {
    for (const element of root.querySelectorAll("*")) {
      if (element.shadowRoot) {
        found.push(["shadow:" + element.tagName.toLowerCase(), element.shadowRoot.textContent]);
        walk(element.shadowRoot);
      }
      if (element.tagName === "IFRAME" && element.contentDocument) {
        const inner = element.contentDocument;
        found.push([inner.location.href, inner.body ? inner.body.innerText : ""]);
        walk(inner);
      }
    }
  };
  walk(document);
  return JSON.stringify(found);
})()"""


def replaywebpage_files() -> Path | None:
    """The folder with ReplayWeb.page's static files, or None when they are not unpacked."""
    return REPLAYWEBPAGE if all((REPLAYWEBPAGE / name).is_file() for name in APP_FILES) else None


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files, with single byte ranges (``Range: bytes=a-b``) answered as 206."""

    def log_message(self, format, *args):
        """Quiet."""

    def send_head(self):
        path = self.translate_path(self.path)
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not match or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
        if start > end:
            self.send_error(416)
            return None
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as file:
            file.seek(start)
            return _Slice(file.read(end - start + 1))


class _Slice:
    """What copyfile reads the answer's body from."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return data

    def close(self) -> None:
        pass


class StaticServer:
    """``directory`` on 127.0.0.1, on a free port, in a daemon thread."""

    def __init__(self, directory: Path):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_RangeHandler, directory=str(directory)))
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> StaticServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """Headless Chromium on ``url``, with its DevTools endpoint on a free port."""

    def __init__(self, chromium: str, profile: Path, url: str):
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", url]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        endpoint = None
        for line in self.process.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
            self.log.append(line)
            if match := re.search(r"DevTools listening on ws://([\d.:]+)/", line):
                endpoint = match[1]
                break
        if endpoint is None:
            self.close()
            raise RuntimeError("chromium did not start: " + "".join(self.log[-20:]))
        threading.Thread(target=self._drain, daemon=True).start()  # a full stderr pipe would stall it
        with urllib.request.urlopen(f"http://{endpoint}/json/list", timeout=30) as answer:
            targets = json.load(answer)
        self.page = next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)

    def call(self, method: str, **params) -> dict:
        """One DevTools command on the page; its result."""
        return asyncio.run(self._call(method, params))

    async def _call(self, method: str, params: dict) -> dict:
        async with aiohttp.ClientSession() as session, session.ws_connect(self.page, max_msg_size=0) as socket:
            await socket.send_json({"id": 1, "method": method, "params": params})
            while (message := await socket.receive_json(timeout=60)).get("id") != 1:
                pass
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message["result"]

    def documents(self) -> list[tuple[str, str]]:
        """(address or shadow host, text) of every document and shadow root of the page."""
        result = self.call("Runtime.evaluate", expression=DOCUMENTS, returnByValue=True)
        return [tuple(pair) for pair in json.loads(result["result"]["value"])]

    def wait_for(self, found, timeout: float = 60) -> list[tuple[str, str]]:
        """The page's documents once ``found(documents)`` is true; the last seen if it never is."""
        deadline = time.monotonic() + timeout
        while not found(documents := self.documents()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return documents

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve_app(directory: Path, files: Path) -> None:
    """Copy ReplayWeb.page's files into ``directory`` (served beside the WACZ)."""
    for name in APP_FILES:
        shutil.copy(files / name, directory / name)
