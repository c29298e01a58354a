"""The running dashboard in a real headless Chromium: the overview renders the status and the incident sentence."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import OUTPUT, chromium, streamlit_dashboard, tab
from tests.conftest import poll

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard(story_db: Path, tmp_path: Path) -> Iterator[str]:
    with streamlit_dashboard(story_db, tmp_path, PATHWATCH_READ_ONLY="1") as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[int]:
    with chromium(tmp_path / "chromium-profile") as port:
        yield port


def test_overview_renders_status_and_incident_in_chromium(dashboard: str, browser: int) -> None:
    with tab(browser, dashboard) as dt:
        text = poll(lambda: dt.text_containing("The golden path works on all 3 targets", "main mode error"), deadline_s=90, every_s=0.25)
        assert "Golden path: now" in text
        assert "Last incident INC-" in text and "1011 main mode error" in text and "before agent_thinking" in text
        OUTPUT.mkdir(exist_ok=True)
        shot = dt.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        (OUTPUT / "overview.png").write_bytes(png)
