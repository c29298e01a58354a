"""A real headless Chromium and a real ``streamlit run`` for browser tests.

Chromium is driven over the DevTools protocol with the ``websockets`` client we already ship (a few
messages: open a tab, evaluate JavaScript, capture a screenshot), rather than adding a browser-automation
stack whose own browser downloads this machine cannot reach.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import poll

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def streamlit_dashboard(db: Path, log_dir: Path, **env: str) -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port over ``db``; yields its base URL. The settings file is the one
    named in ``env`` (PATHWATCH_SETTINGS), never one inherited from the caller's environment."""
    port = _free_port()
    child_env = {k: v for k, v in os.environ.items() if k != "PATHWATCH_SETTINGS"} | {"PATHWATCH_DB": str(db), **env}
    log_path = log_dir / "streamlit.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            poll(lambda: proc.poll() is not None or _http_ok(f"http://127.0.0.1:{port}/_stcore/health"), deadline_s=60, every_s=0.2)
            assert proc.poll() is None, log_path.read_text()
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait(10)


@contextmanager
def chromium(profile: Path) -> Iterator[int]:
    """Headless Chromium with remote debugging on loopback; yields the DevTools port."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs the Debian package `chromium`")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "--window-size=1400,1600", "--no-first-run", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        poll(lambda: port_file.exists() and port_file.read_text().strip(), deadline_s=30, every_s=0.1)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        proc.terminate()
        proc.wait(10)


class DevTools:
    """Just enough of the Chrome DevTools protocol: one tab, evaluate, navigate, screenshot."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = count(1)

    def call(self, method: str, **params: object) -> dict:  # type: ignore[type-arg]
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def charts_drawn(self) -> int:
        return int(self.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") or 0)

    def text_containing(self, *needles: str) -> str | None:
        """The page's text once it holds every needle and its charts have drawn."""
        text = self.text()
        return text if all(n in text for n in needles) and self.charts_drawn() else None


@contextmanager
def tab(devtools_port: int, url: str) -> Iterator[DevTools]:
    req = urllib.request.Request(f"http://127.0.0.1:{devtools_port}/json/new?{url}", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        info = json.loads(r.read())
    with connect(info["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=10) as ws:
        yield DevTools(ws)
