"""What a newcomer sees first, in AppTest: the titled sidebar links, the Deploys bars in time order each ending where
the next revision begins, the Impact trend's x axis on the data, a Failures table people read, code spans without
backslashes, and a page opened first by its address still routed through app.py."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import failures, impact
from analysis.frame import COLUMNS, runs_frame
from pages._nav import PAGES as NAV
from store.sqlite import open_store
from tests.pages.harness import PAGES, app_test, open_page

TITLES = [p.title for p in NAV]
#: A CommonMark backslash escape, which a code span shows as a backslash.
MD_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _frame(db: Path) -> pd.DataFrame:
    with open_store(db) as s:
        return runs_frame(s.run_rows(COLUMNS))


def _chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure a page drew under ``key``, as the browser receives it."""
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id)


def _numbers(v: Any) -> np.ndarray:
    """A plotly array: a plain list, or the typed-array form plotly 6+ sends (dtype + base64 bytes)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).astype("float64")
    return np.asarray(v, dtype="float64")


def _times(values: list[str]) -> np.ndarray:
    """Plotly's date strings (UTC, no zone) as epoch seconds."""
    return np.asarray([pd.Timestamp(v, tz="UTC").timestamp() for v in values])


def test_the_sidebar_lists_the_page_titles_in_order(story_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(story_db, monkeypatch)
    at.run()
    assert [link.proto.label for link in at.sidebar.get("page_link")] == TITLES
    assert TITLES == ["Overview", "Latency", "Failures", "Runs", "Incidents", "Alerting", "Silences", "Deploys", "Impact"]


def test_a_page_opened_first_by_its_address_is_routed_through_the_app(story_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any run, AppTest (like a server's first visitor at /deploys) runs the page file alone, as Streamlit's old
    folder-based navigation does: the page then runs app.py, which routes it with the titled links."""
    at = app_test(story_db, monkeypatch)
    at.switch_page("pages/deploys.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert [t.value for t in at.title] == ["Deploys and fix validation"], "drawn once, by the routed page"
    assert [link.proto.label for link in at.sidebar.get("page_link")] == TITLES


def test_deploy_bars_are_in_time_order_and_end_at_the_next_revision(story_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(story_db, monkeypatch), "pages/deploys.py")
    fig = _chart(at, "dep_timeline")
    bars = sorted(((label, start, start + ms / 1000.0) for t in fig["data"]
                   for label, start, ms in zip(t["y"], _times(t["base"]), _numbers(t["x"]), strict=True)), key=lambda b: b[1])
    df = _frame(story_db)
    first_seen = df.groupby("revision")["started_ts"].min().sort_values()
    assert [label for label, _, _ in bars] == [r.split("-", 3)[-1] for r in first_seen.index], "one bar per revision, in time order"
    assert [start for _, start, _ in bars] == pytest.approx(list(first_seen), abs=0.002)
    for (_, _, end), (_, next_start, _) in zip(bars, bars[1:], strict=False):
        assert end == pytest.approx(next_start, abs=0.002), "a bar ends where the next revision begins"
    assert bars[-1][2] > df["started_ts"].max(), "the last revision runs on to now"
    # Top to bottom in time order: plotly draws the category array bottom-up.
    assert fig["layout"]["yaxis"]["categoryarray"] == [label for label, _, _ in reversed(bars)]
    assert fig["layout"]["yaxis"].get("autorange") != "reversed"


def test_the_impact_trend_axis_is_the_span_of_the_data(story_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(story_db, monkeypatch), "pages/impact.py")
    fig = _chart(at, "imp_trend")
    trend, bucket_s = impact.trend(_frame(story_db), None)
    lo, hi = _times(fig["layout"]["xaxis"]["range"])
    assert (lo, hi) == pytest.approx(failures.bucket_span(trend["bucket"], bucket_s), abs=0.001)
    assert hi - lo < 3600, "a few minutes of story, not an empty 24 h axis"
    bar = fig["data"][0]
    assert _numbers(bar["width"]).max() == pytest.approx(bucket_s * 1000.0) and bar["offset"] == 0, "each bar covers its bucket"


def test_the_failures_table_shows_times_and_the_servers_signature(story_db: Path, story_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(story_db, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(story_log)), "pages/failures.py")
    assert not at.exception, [e.message for e in at.exception]
    table = next(d.value for d in at.dataframe if "server signature" in d.value.columns)
    assert "first_ts" not in table.columns and "server_signature" not in table.columns
    assert table["first seen"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").all()
    crash = table[table["close code"] == "1011"].iloc[0]
    assert crash["server signature"] == "AttributeError: 'NoneType' object has no attribute 'create_execution_context' at agent_service_core.py:544"
    assert set(table.loc[table["close code"] != "1011", "server signature"]) == {"—"}, "a dash where the server said nothing"
    cells = {str(v) for v in table.to_numpy().ravel()}
    assert not cells & {"None", "nan", "<NA>", "NaN"}


@pytest.mark.parametrize("page", PAGES)
def test_code_spans_show_no_backslashes(story_db: Path, story_log: Path, page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    df = _frame(story_db)
    at = app_test(story_db, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(story_log))
    at.query_params["run"] = str(df[df["close_code"] == 1011]["run_id"].iloc[-1])
    open_page(at, page)
    assert not at.exception, [e.message for e in at.exception]
    sources = [str(e.value) for kind in ("markdown", "caption", "success", "info", "warning", "error") for e in getattr(at, kind)]
    spans = [m.group(2) for src in sources for m in CODE_SPAN.finditer(src)]
    assert not [s for s in spans if MD_ESCAPE.search(s)], [s for s in spans if MD_ESCAPE.search(s)]
    if page in ("pages/runs.py", "pages/incidents.py"):
        assert any("create_execution_context" in s for s in spans), "the server's signature is shown as a code span"
