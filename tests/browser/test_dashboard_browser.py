"""The running dashboard in a real headless Chromium: what a newcomer sees.

Each test starts its own ``streamlit run``, because the file-name sidebar Streamlit shows for a ``pages/`` folder
appears only for a server's first visitor: the first paint of ``/`` and of ``/deploys`` is watched from before the
page's own scripts run. Every page is then opened, checked (no Deploy button, code spans without backslashes, the
Deploys bars and the Impact axis as drawn) and photographed into test-output/.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from analysis import failures, impact
from analysis.frame import COLUMNS, runs_frame
from pages._nav import PAGES
from store.sqlite import open_store
from tests.browser.harness import OUTPUT, DevTools, chromium, streamlit_dashboard, tab
from tests.conftest import copy_store, poll

pytestmark = pytest.mark.browser

TITLES = [p.title for p in PAGES]
#: Every page's address, title, and words drawn near its end (so the page has finished drawing).
PAGE_NEEDLES = {"overview": ("Golden path: now", "Runs by outcome over time"), "latency": ("Latency per phase", "One run's waterfall"),
                "failures": ("Failures", "Failed phase"), "runs": ("Runs", "Server log lines around this run"),
                "incidents": ("Incidents", "Download the five whys"), "alerting": ("What Pathwatch told whom", "Deliveries"),
                "silences": ("Maintenance windows", "Past ("), "deploys": ("Deploys and fix validation", "Deploys entered by hand"),
                "impact": ("Business impact", "Trend (CSV)")}
#: Installed before the page's own scripts: records every link text the sidebar ever shows, from the first paint on.
WATCH_SIDEBAR = """
window.__pwSidebar = [];
new MutationObserver(() => {
  document.querySelectorAll('[data-testid="stSidebar"] a').forEach(a => {
    const t = a.innerText.trim().split('\\n').pop().trim();
    if (t && !window.__pwSidebar.includes(t)) window.__pwSidebar.push(t);
  });
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[int]:
    with chromium(tmp_path / "chromium-profile") as port:
        yield port


def _crashed_run(db: Path) -> str:
    with open_store(db, read_only=True) as s:
        df = runs_frame(s.run_rows(COLUMNS))
    return str(df[df["close_code"] == 1011]["run_id"].iloc[-1])


@contextmanager
def first_visit(port: int, url: str) -> Iterator[DevTools]:
    """A tab that watches the sidebar from the first paint (before the page's own scripts run), then opens ``url``."""
    with tab(port, "about:blank") as dt:
        dt.call("Page.enable")
        dt.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_SIDEBAR)
        dt.call("Page.navigate", url=url)
        yield dt


def _wait_for(dt: DevTools, *needles: str, charts: bool = True) -> str:
    """The page's text once it holds every needle, has stopped running, and (``charts``) has drawn its charts."""
    last = [""]

    def ready() -> str | None:
        """... and its text is the same as a poll ago (the elements after the needles have been drawn too)."""
        text = dt.text() + json.dumps(dt.evaluate("[...document.querySelectorAll('code')].map(c => c.innerText).join('|')"))
        done = all(n in text for n in needles) and "Running..." not in text and (dt.charts_drawn() or not charts) and text == last[0]
        last[0] = text
        return text if done else None

    try:
        return poll(ready, deadline_s=90, every_s=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{needles} never showed; the page says: {dt.text()[-2000:]}") from exc


def _sidebar_seen(dt: DevTools) -> list[str]:
    return json.loads(dt.evaluate("JSON.stringify(window.__pwSidebar)") or "[]")


def _no_deploy_button(dt: DevTools) -> None:
    toolbar = dt.evaluate("JSON.stringify([...document.querySelectorAll('[data-testid=\"stToolbar\"], header')].map(e => e.innerText))")
    assert "Deploy" not in toolbar, toolbar
    assert dt.evaluate("document.querySelectorAll('[data-testid=\"stAppDeployButton\"]').length") == 0


def screenshot(dt: DevTools, name: str) -> bytes:
    """The whole page (the window grown to the height of the scrolled content) into test-output/NAME.png."""
    height = int(dt.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], section, body')].map(e => e.scrollHeight))") or 1600)
    dt.call("Emulation.setDeviceMetricsOverride", width=1400, height=min(max(height + 80, 1600), 12000), deviceScaleFactor=1, mobile=False)
    poll(lambda: dt.evaluate("document.readyState") == "complete", deadline_s=30, every_s=0.25)
    png = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
    dt.call("Emulation.clearDeviceMetricsOverride")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"{name}.png").write_bytes(png)
    return png


def test_the_overview_first_paint_lists_titles_only_and_no_deploy_button(story_db: Path, tmp_path: Path, browser: int) -> None:
    with streamlit_dashboard(story_db, tmp_path, PATHWATCH_READ_ONLY="1") as url, first_visit(browser, url) as dt:
        text = _wait_for(dt, "The golden path works on all 3 targets", "main mode error")
        assert "Golden path: now" in text
        assert "Last incident INC-" in text and "1011 main mode error" in text and "before agent_thinking" in text
        assert _sidebar_seen(dt) == TITLES, "the sidebar never listed file names (app, deploys, ..., shared)"
        _no_deploy_button(dt)


def test_a_first_visit_to_deploys_is_routed_and_lists_titles_only(story_db: Path, tmp_path: Path, browser: int) -> None:
    with streamlit_dashboard(story_db, tmp_path, PATHWATCH_READ_ONLY="1") as url, first_visit(browser, f"{url}deploys") as dt:
        text = _wait_for(dt, *PAGE_NEEDLES["deploys"])
        assert text.count("Deploys and fix validation") == 1, "drawn once, by the page app.py routed"
        assert _sidebar_seen(dt) == TITLES
        assert "Page not found" not in text
        _no_deploy_button(dt)


def test_every_page_as_a_newcomer_sees_it(story_db: Path, story_log: Path, tmp_path: Path, browser: int) -> None:
    crashed = _crashed_run(story_db)
    with streamlit_dashboard(story_db, tmp_path, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(story_log)) as url:
        for path, needles in PAGE_NEEDLES.items():
            with tab(browser, f"{url}{'' if path == 'overview' else path}?run={crashed}") as dt:  # the default page is at /
                _wait_for(dt, *needles, charts=path not in ("runs", "alerting", "silences"))
                _no_deploy_button(dt)
                assert "Page not found" not in dt.text()
                def code_spans() -> list[str]:
                    return json.loads(dt.evaluate("JSON.stringify([...document.querySelectorAll('[data-testid=\"stMarkdownContainer\"] code')]"
                                                  ".map(c => c.innerText))"))
                if path in ("runs", "incidents"):  # the server's traceback is drawn after the needles: wait for it, with a deadline
                    poll(lambda: any("create_execution_context" in s for s in code_spans()), deadline_s=20, every_s=0.25)
                spans = code_spans()
                assert not [s for s in spans if "\\" in s], (path, [s for s in spans if "\\" in s])
                if path == "deploys":
                    _check_deploy_bars(dt)
                if path == "impact":
                    _check_impact_axis(dt, story_db)
                if path == "failures":
                    assert "(server: AttributeError: 'NoneType' object has no attribute 'create_execution_context'" in dt.text()
                screenshot(dt, path)


def test_the_demo_refresh_shows_new_runs_without_a_click(story_db: Path, story_runs, tmp_path: Path, browser: int) -> None:  # type: ignore[no-untyped-def]
    """With ``[dashboard] refresh_s`` (the demo sets it), the page reruns by itself: runs a probe adds later appear,
    and no rerun fails (a page may be run only once per run of app.py)."""
    db = copy_store(story_db, tmp_path / "live.db")
    settings = tmp_path / "settings.toml"
    settings.write_text("[dashboard]\nrefresh_s = 1\n", encoding="utf-8")
    with streamlit_dashboard(db, tmp_path, PATHWATCH_SETTINGS=str(settings)) as url, tab(browser, url) as dt:
        _wait_for(dt, *PAGE_NEEDLES["overview"])
        assert "sandbox-late-region" not in dt.text()
        with open_store(db) as writer:
            writer.save_runs([replace(story_runs[-1], run_id="late-1", target="sandbox-late-region")])
        poll(lambda: "sandbox-late-region" in dt.text(), deadline_s=60, every_s=0.25)
        text = dt.text()
        assert "Exception" not in text and "cannot be called" not in text, text[-1500:]
        assert text.count("Golden path: now") == 1


def _check_deploy_bars(dt: DevTools) -> None:
    """As plotly drew them: one bar per revision, top to bottom in time order, each ending where the next begins."""
    drawn = json.loads(dt.evaluate(
        "JSON.stringify(document.querySelector('.js-plotly-plot')._fullData.flatMap(t => Array.from(t.y).map((y, i) => [y, t.base[i], Number(t.x[i])])))"))
    bars = sorted(((y, pd.Timestamp(base, tz="UTC").timestamp() * 1000.0, ms) for y, base, ms in drawn), key=lambda b: b[1])
    assert len(bars) == 4, drawn
    for (_, start, ms), (_, next_start, _) in zip(bars, bars[1:], strict=False):
        assert abs(start + ms - next_start) <= 2, bars
    shown_order = json.loads(dt.evaluate("JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.yaxis._categories)"))
    top_to_bottom = list(reversed(shown_order)) if not dt.evaluate(
        "document.querySelector('.js-plotly-plot')._fullLayout.yaxis.autorange === 'reversed'") else shown_order
    assert top_to_bottom == [label for label, _, _ in bars], (top_to_bottom, bars)


def _check_impact_axis(dt: DevTools, db: Path) -> None:
    """The trend's x axis is the span of its bars, as the analysis sizes them."""
    with open_store(db, read_only=True) as s:
        trend, bucket_s = impact.trend(runs_frame(s.run_rows(COLUMNS)), None)
    lo, hi = json.loads(dt.evaluate("JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range)"))
    expected = failures.bucket_span(trend["bucket"], bucket_s)
    assert expected is not None
    got = (pd.Timestamp(lo, tz="UTC").timestamp(), pd.Timestamp(hi, tz="UTC").timestamp())
    assert got == pytest.approx(expected, abs=0.01), (got, expected)
