"""Silences, pure: which silence covers a target or a group at a time, which incidents are muted and why, and the
silenced spans the SLO and impact leave out (hourly counts included)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import rollups
from analysis.incidents import Incident
from analysis.silences import (
    Silence,
    covering,
    exclusion_sentence,
    hourly_without,
    in_spans,
    muting,
    silenced_hourly_counts,
    silenced_spans,
    without_silenced,
)

T0 = 1_795_600_000.0


def sil(i: int, *, target: str | None = "eu", group: str | None = None, start: float = T0, until: float = T0 + 3600,
        expired: float | None = None, reason: str = "deploy v2") -> Silence:
    return Silence(f"S{i}", target, group, start, until, reason, "alice", start - 10, expired)


def inc(i: str, *targets: str, end: float | None = None) -> Incident:
    return Incident(i, T0, end, targets, (), "server_error", "sig", 3, 3, ())


GROUPS = {"eu": "golden", "us": "golden", "asia": "golden", "solo": "solo"}


def test_a_silence_is_active_from_its_start_to_its_end_or_its_expiry() -> None:
    s = sil(1)
    assert not s.active(T0 - 1) and s.active(T0) and s.active(T0 + 3599) and not s.active(T0 + 3600)
    assert [s.state(t) for t in (T0 - 1, T0, T0 + 3600)] == ["scheduled", "active", "ended"]
    e = sil(2, expired=T0 + 60)
    assert e.end_ts == T0 + 60 and not e.active(T0 + 61) and e.state(T0 + 61) == "expired"


def test_a_group_silence_covers_every_target_of_the_group_and_a_target_silence_only_its_own() -> None:
    g = sil(1, target=None, group="golden")
    assert g.covers("eu", GROUPS) and g.covers("asia", GROUPS) and not g.covers("solo", GROUPS)
    assert g.covers("golden", {}), "a target without a group tag is its own group"
    assert not sil(2).covers("us", GROUPS)
    longest = covering([sil(1, until=T0 + 60), sil(2, until=T0 + 600), g], "eu", GROUPS, at=T0 + 30)
    assert longest[0] is g and [s.until_ts for s in longest] == [T0 + 3600, T0 + 600, T0 + 60], "the longest first"


def test_muting_says_which_silence_until_when_and_why() -> None:
    muted = muting([inc("INC-a", "eu"), inc("INC-b", "eu", "us"), inc("INC-c", "solo"), inc("MAN-1")], [sil(12)], GROUPS, now=T0 + 5)
    assert muted == {"INC-a": "silenced by S12 until 2026-11-25 10:46 UTC (deploy v2)"}, muted
    both = muting([inc("INC-b", "eu", "us")], [sil(12), sil(13, target="us", reason="region move")], GROUPS, now=T0 + 5)
    assert "S12" in both["INC-b"] and "S13" in both["INC-b"] and "region move" in both["INC-b"]
    assert muting([inc("INC-b", "eu", "us")], [sil(1, target=None, group="golden")], GROUPS, now=T0 + 5)
    assert muting([inc("INC-a", "eu")], [sil(12)], GROUPS, now=T0 + 3600) == {}, "after the silence ends, nothing is muted"
    assert muting([inc("INC-a", "eu")], [sil(12, expired=T0 + 1)], GROUPS, now=T0 + 5) == {}, "expired by hand"


def test_silenced_spans_merge_overlaps_and_stay_inside_the_window() -> None:
    spans = silenced_spans([sil(1, until=T0 + 100), sil(2, start=T0 + 50, until=T0 + 200), sil(3, target=None, group="golden",
                                                                                             start=T0 + 1000, until=T0 + 5000)],
                           ["eu", "us", "solo"], GROUPS, start=T0 + 20, end=T0 + 2000)
    assert spans == {"eu": [(T0 + 20, T0 + 200), (T0 + 1000, T0 + 2000)], "us": [(T0 + 1000, T0 + 2000)]}


def _runs(target: str, times: list[float], ok: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({"target": target, "started_ts": times, "ok": ok, "total_ms": [1000.0] * len(times)})


def test_runs_inside_a_silenced_span_are_left_out_only_for_their_target() -> None:
    df = pd.concat([_runs("eu", [T0, T0 + 60, T0 + 120], [True, False, True]), _runs("us", [T0 + 60], [False])], ignore_index=True)
    spans = {"eu": [(T0 + 50, T0 + 120)]}
    assert list(in_spans(df, spans)) == [False, True, False, False]
    assert len(without_silenced(df, spans)) == 3 and without_silenced(df, {}) is df


def test_the_hourly_rollup_minus_the_silenced_runs_changes_the_budget_and_drops_hours_left_empty() -> None:
    hour = T0 // 3600 * 3600
    hourly = pd.DataFrame({"target": ["eu", "eu", "eu"], "hour_ts": [hour, hour, hour + 3600], "revision": ["r"] * 3,
                           "outcome": ["ok", "server_error", "server_error"], "failed_phase": [None, "x", "x"],
                           "close_code": [None, 1011, 1011], "n": [90, 10, 5], "good": [90, 0, 0]})
    hourly["ok"] = hourly["outcome"] == "ok"
    silenced = _runs("eu", [hour + 10 + i for i in range(10)] + [hour + 3600 + i for i in range(5)], [False] * 15)
    counts = silenced_hourly_counts(silenced, threshold_s=10.0)
    assert counts["n"].sum() == 15 and counts["good"].sum() == 0
    left = hourly_without(hourly, counts)
    assert left["n"].sum() == 90 and set(left["hour_ts"]) == {hour}, "the failing hour was all silenced: it is no time at all"
    assert rollups.slo_budget(left, 0.99)["compliance"] == pytest.approx(1.0)
    assert rollups.slo_budget(hourly, 0.99)["compliance"] == pytest.approx(90 / 105)
    assert hourly_without(hourly, silenced_hourly_counts(silenced.iloc[:0], 10.0))["n"].sum() == 105


def test_the_exclusion_sentence_says_which_way_it_went() -> None:
    assert "count in the SLO" in exclusion_sentence(False, {})
    assert "exclude_silences is off" in exclusion_sentence(False, {"eu": [(T0, T0 + 60)]})
    said = exclusion_sentence(True, {"eu": [(T0, T0 + 600)], "us": [(T0, T0 + 600)]})
    assert "left out" in said and "20 target-minutes on eu, us" in said
    assert "none in this period" in exclusion_sentence(True, {})
