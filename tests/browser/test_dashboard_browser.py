"""The running dashboard in a real headless Chromium: the overview renders the status and the incident sentence.

Chromium is driven over the DevTools protocol with the ``websockets`` client we already ship (a
few messages: open a tab, evaluate ``innerText``, capture a screenshot), rather than adding a
browser-automation stack whose own browser downloads this machine cannot reach.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import poll

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.browser


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


@pytest.fixture
def dashboard(story_db: Path, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PATHWATCH_DB": str(story_db), "PATHWATCH_READ_ONLY": "1"}
    env.pop("PATHWATCH_SETTINGS", None)
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        poll(lambda: proc.poll() is not None or _http_ok(f"http://127.0.0.1:{port}/_stcore/health"), deadline_s=60, every_s=0.2)
        assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


class DevTools:
    """Just enough of the Chrome DevTools protocol: one tab, evaluate, screenshot."""

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

    def text(self) -> str:
        res = self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''", returnByValue=True)
        return str(res["result"].get("value") or "")

    def text_containing(self, *needles: str) -> str | None:
        """The page's text once it holds every needle and its charts have drawn."""
        text = self.text()
        charts = self.call("Runtime.evaluate", expression="document.querySelectorAll('.js-plotly-plot .main-svg').length", returnByValue=True)
        return text if all(n in text for n in needles) and charts["result"].get("value") else None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[int]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs the Debian package `chromium`")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    profile = tmp_path / "chromium-profile"
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


def test_overview_renders_status_and_incident_in_chromium(dashboard: str, browser: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{browser}/json/new?{dashboard}", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        tab = json.loads(r.read())
    with connect(tab["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=10) as ws:
        dt = DevTools(ws)
        text = poll(lambda: dt.text_containing("The golden path works on all 3 targets", "Internal error"), deadline_s=90, every_s=0.25)
        assert "Golden path: now" in text
        assert "Last incident INC-" in text and "1011 Internal error" in text and "before agent_thinking" in text
        OUTPUT.mkdir(exist_ok=True)
        shot = dt.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        (OUTPUT / "overview.png").write_bytes(png)
