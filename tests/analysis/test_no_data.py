"""No data: a target's interval from its runs, stale after N missed intervals, one notice per stop; and a gap in the
runs is never counted as good (or bad) time by the SLO, the impact or the hourly figures."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import impact, rollups, slo
from analysis.alerting import NOTICE_KINDS
from analysis.no_data import NoData, interval, no_data_notices, sentence, stale_targets

T0 = 1_795_600_000.0


def test_the_interval_is_the_median_gap_of_recent_runs_else_the_setting() -> None:
    assert interval([T0, T0 + 60, T0 + 120, T0 + 3600, T0 + 3660], 300.0) == 60.0
    assert interval([T0], 300.0) == 300.0 and interval([], 45.0) == 45.0
    assert interval([T0, T0, T0 + 5], 60.0) == 5.0, "duplicate times are not a zero interval"
    burst = [T0 + c * 30 + u * 0.05 for c in range(6) for u in range(5)]  # --users 5 every 30 s: five runs per cycle
    assert interval(burst, 60.0) == pytest.approx(29.8), "runs of one cycle are not the interval"
    assert interval([T0 + i * 0.2 for i in range(20)], 60.0) == 60.0, "back-to-back runs tell nothing: the setting stands"


def test_a_target_is_stale_after_no_data_after_missed_intervals() -> None:
    last = {"eu": T0, "us": T0 + 100, "new": T0 + 150}
    every = {"eu": 60.0, "us": 60.0}
    now = T0 + 181
    stale = stale_targets(last, every, now=now, after=3)
    assert stale == [NoData("eu", T0, 60.0)], "eu: 181 s > 3 x 60 s; us: 81 s is not"
    assert stale_targets(last, every, now=T0 + 180, after=3) == [], "exactly 3 intervals is not yet stale"
    assert [n.target for n in stale_targets(last, every, now=T0 + 400, after=3)] == ["eu", "us", "new"], "new uses the smallest interval"
    assert stale_targets(last, {}, now=T0 + 10_000, after=3) == [], "nothing to judge by"
    assert stale[0].missed(now) == 3
    assert sentence(stale[0], now).startswith("No data from eu since 2026-11-25 09:46 UTC (a run was due every 60 s; 3 missed)")


def test_no_data_notices_are_keyed_by_target_and_when_the_runs_stopped() -> None:
    [n] = no_data_notices([NoData("gp-eu", T0 + 0.7, 60.0)], {"gp-eu": "gp"}, "https://pw.example/")
    assert n.key == f"no_data:gp-eu:{int(T0)}" and n.kind == "no_data" and n.kind in NOTICE_KINDS
    assert (n.severity, n.outcome, n.group, n.targets, n.incident_id) == ("page", "no_data", "gp", ("gp-eu",), None)
    assert n.summary == "No runs from gp-eu since 2026-11-25 09:46 UTC: the probe itself has stopped"
    assert n.url == "https://pw.example/overview?target=gp-eu" and n.starts_at == T0 + 0.7
    assert no_data_notices([NoData("x", T0, 60.0)], {}, "")[0].url == "" and no_data_notices([NoData("x", T0, 60.0)], {}, "")[0].group == "x"


def _runs(times: list[float], ok: bool) -> pd.DataFrame:
    return pd.DataFrame({"run_id": [f"r{t}" for t in times], "target": "eu", "started_ts": times, "ok": ok, "total_ms": 1000.0})


def test_a_gap_in_the_runs_is_never_counted_as_good_time() -> None:
    before = [T0 + 60 * i for i in range(10)]  # ten good minutes
    after = [T0 + 7200 + 60 * i for i in range(10)]  # then two hours of nothing, then ten failing minutes
    df = pd.concat([_runs(before, True), _runs(after, False)], ignore_index=True)
    imp = impact.impact(df)
    assert imp.observed_minutes == pytest.approx(20.0), "the two silent hours are neither up nor down"
    assert imp.downtime_minutes.value == pytest.approx(10.0) and imp.failing_share == pytest.approx(0.5)
    status = slo.status(df, slo.SLOConfig(), now=T0 + 7800)
    assert status.events == 20 and status.compliance == pytest.approx(0.5), "the SLO counts runs, never time without runs"
    hours = sorted({t // 3600 * 3600 for t in before + after})
    assert len(hours) == 2
    hourly = pd.DataFrame({"target": "eu", "hour_ts": hours, "n": [10, 10], "good": [10, 0], "ok": [True, False]})
    assert rollups.slo_budget(hourly, 0.99)["events"] == 20
    assert impact.impact_from_hourly(hourly).observed_minutes == pytest.approx(120.0), "the hour with no run is not observed"
