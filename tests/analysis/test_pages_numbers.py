"""The numbers the dashboard pages show, computed in ``analysis``: deploy timeline spans, bucket sizes, trend ranges,
incident costs, signature links and row filters. Pure functions; the story's real probe runs where a frame is needed."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import deploys, failures, frame, impact, incidents, latency, overview, rollups, server_logs
from analysis.deploys import SideCounts
from analysis.frame import from_runs


@pytest.fixture(scope="module")
def story(story_runs) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return from_runs(story_runs)


# ---------------------------------------------------------------- deploys

def test_revision_spans_are_in_time_order_and_end_at_the_next_revision() -> None:
    spans = deploys.revision_spans([("c", 300.0), ("a", 100.0), ("b", 200.0)], end_ts=1000.0)
    assert spans == [("a", 100.0, 200.0), ("b", 200.0, 300.0), ("c", 300.0, 1000.0)]


def test_a_revision_first_seen_after_the_window_end_gets_no_negative_bar() -> None:
    assert deploys.revision_spans([("a", 100.0), ("b", 2000.0)], end_ts=1000.0) == [("a", 100.0, 2000.0), ("b", 2000.0, 2000.0)]
    assert deploys.revision_spans([], end_ts=5.0) == []


def test_timeline_rows_follow_the_spans_with_their_counts() -> None:
    sides = [("new", 50.0, SideCounts(10, 0, {})), ("old", 10.0, SideCounts(20, 5, {"server_error/agent_thinking/1011": 5}))]
    t = deploys.timeline(sides, end_ts=90.0)
    assert list(t["revision"]) == ["old", "new"]
    assert list(t["start_ts"]) == [10.0, 50.0] and list(t["end_ts"]) == [50.0, 90.0]
    assert list(t["success_rate"]) == [0.75, 1.0]
    assert t["dominant_failure"].iloc[0] == "server_error/agent_thinking/1011" and pd.isna(t["dominant_failure"].iloc[1])


def test_timeline_of_the_story_orders_the_four_revisions_and_chains_them(story: pd.DataFrame) -> None:
    hourly = story.assign(hour_ts=story["started_ts"] // 3600 * 3600, n=1, good=1)
    first_seen = {str(r): float(g["started_ts"].min()) for r, g in story.groupby("revision")}
    sides = rollups.revision_sides(hourly, first_seen)
    t = deploys.timeline(sides, end_ts=float(story["started_ts"].max()) + 1)
    assert list(t["revision"]) == sorted(first_seen, key=first_seen.__getitem__)
    assert list(t["end_ts"].iloc[:-1]) == list(t["start_ts"].iloc[1:]), "each bar ends where the next revision begins"
    assert t["runs"].sum() == len(story)


# ---------------------------------------------------------------- buckets and ranges

def test_bucket_sizes_follow_the_span_the_data_covers() -> None:
    assert latency.bucket_for(0.0, 600.0) == 60.0, "never under a minute"
    assert latency.bucket_for(0.0, 86400.0) == 1800.0
    assert impact.trend_bucket(0.0, 600.0) == 10.0
    assert impact.trend_bucket(0.0, 3600.0) == 60.0
    assert impact.trend_bucket(0.0, 600.0, minimum_s=3600.0) == 3600.0
    assert impact.trend_bucket(0.0, 30 * 86400.0) == 86400.0


def test_the_bucket_span_holds_the_bars_and_the_deploys_and_nothing_else() -> None:
    assert failures.bucket_span(pd.Series([120.0, 60.0, 180.0]), 60.0) == (60.0, 240.0)
    assert failures.bucket_span([120.0], 60.0, marks=[30.0, 150.0]) == (30.0, 180.0), "a deploy just before the data stays in view"
    assert failures.bucket_span(pd.Series([], dtype="float64"), 60.0, marks=[5.0]) is None


def test_the_impact_trend_is_sized_to_the_data(story: pd.DataFrame) -> None:
    trend, bucket_s = impact.trend(story, None)
    assert bucket_s == impact.trend_bucket(story["started_ts"].min(), story["started_ts"].max())
    assert trend["runs"].sum() == len(story) and trend["bucket"].min() <= story["started_ts"].min()
    hourly = pd.DataFrame({"target": ["a", "a"], "hour_ts": [0.0, 7200.0], "ok": [True, False], "n": [4, 4]})
    trend, bucket_s = impact.trend(story.iloc[0:0], hourly)
    assert bucket_s == 3600.0 and list(trend["downtime_minutes"]) == [0.0, 60.0]


def test_outcomes_over_window_uses_the_runs_then_the_rollup(story: pd.DataFrame) -> None:
    table, bucket_s = failures.outcomes_over_window(story, pd.DataFrame(), None)
    assert bucket_s == failures.auto_bucket(story["started_ts"].min(), story["started_ts"].max())
    assert int(table.drop(columns="bucket").to_numpy().sum()) == len(story)
    hourly = pd.DataFrame({"hour_ts": [0.0, 3600.0, 7200.0], "outcome": ["ok", "server_error", "ok"], "n": [5, 2, 3]})
    table, bucket_s = failures.outcomes_over_window(story.iloc[0:0], hourly, since_ts=3700.0)
    assert bucket_s == 3600.0 and list(table["bucket"]) == [3600.0, 7200.0], "hours from the one holding since_ts"


def test_time_to_failure_in_seconds(story: pd.DataFrame) -> None:
    ttf = failures.ttf_seconds(story)
    assert len(ttf) == story.loc[~story["ok"], "ms_after_start_agent"].notna().sum()
    assert ttf["seconds"].max() == pytest.approx(story["ms_after_start_agent"].max() / 1000.0)


def test_distribution_and_waterfall(story: pd.DataFrame) -> None:
    dist = latency.distribution(story)
    assert "agent_completed" in set(dist["phase"]) and dist["ms"].notna().all()
    bars = latency.waterfall_frame({"connect": 5.0, "upgrade": 10.0}, {"connect": 5.0, "upgrade": 15.0})
    assert list(bars["phase"]) == ["connect", "upgrade"] and list(bars["duration"]) == [5.0, 10.0]


# ---------------------------------------------------------------- incidents and impact

def test_runs_during_an_incident_and_its_cost(story: pd.DataFrame) -> None:
    found = [i.to_dict() for i in incidents.detect(story)]
    assert found, "the story has an incident"
    inc = found[0]
    during = incidents.runs_during(story, inc, now=float(story["started_ts"].max()))
    start, end = incidents.span(inc, now=0.0)
    assert during["started_ts"].between(start, end).all() and set(during["target"]) <= set(inc["targets"])
    costs = impact.incident_costs(found, {str(i["id"]): incidents.runs_during(story, i, 0.0) for i in found})
    assert costs[0]["downtime_minutes"] > 0 and costs == sorted(costs, key=lambda c: -c["revenue_at_risk"])
    assert costs[0]["revenue_at_risk"] == impact.impact(incidents.runs_during(story, found[0], 0.0)).revenue_at_risk.value


def test_incidents_in_the_window_and_the_overview_picks() -> None:
    incs = [{"id": "a", "start_ts": 0.0, "end_ts": 10.0, "status": "resolved"}, {"id": "b", "start_ts": 50.0, "end_ts": None, "status": "open"}]
    assert [i["id"] for i in impact.incidents_in_window(incs, since_ts=20.0, now=100.0)] == ["b"]
    assert [i["id"] for i in impact.incidents_in_window(incs, since_ts=None, now=100.0)] == ["a", "b"]
    assert [i["id"] for i in overview.open_incidents(incs)] == ["b"]
    assert overview.last_resolved(incs, now=100.0)["id"] == "a"  # type: ignore[index]
    assert overview.last_resolved(incs, now=10.0 + 7 * 86400 + 1) is None


# ---------------------------------------------------------------- server signatures and row filters

def test_each_run_gets_its_first_server_signature() -> None:
    rows = [{"run_id": "r1", "ts": 2.0, "signature": "later echo"}, {"run_id": "r1", "ts": 1.0, "signature": "AttributeError at x.py:5"},
            {"run_id": None, "ts": 0.5, "signature": "unlinked"}, {"run_id": "r2", "ts": 3.0, "signature": None}]
    assert server_logs.signatures_by_run(rows) == {"r1": "AttributeError at x.py:5"}


def test_matching_rows(story: pd.DataFrame) -> None:
    rev = str(story["revision"].iloc[-1])
    assert (frame.matching(story, revision=rev)["revision"] == rev).all()
    failed = frame.matching(story, outcomes=("server_error",), failed_phase="agent_thinking")
    assert len(failed) and set(failed["outcome"]) == {"server_error"} and set(failed["failed_phase"]) == {"agent_thinking"}
    assert len(frame.matching(story)) == len(story)
