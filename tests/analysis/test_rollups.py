"""The store's rollups give the same answers as the raw runs: counts exactly, percentiles within one bin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import deploys, failures, latency, rollups
from analysis.frame import from_runs
from analysis.slo import SLOConfig, status
from store import rollup
from store.sqlite import open_store
from tests.fixtures.record import load_fixture


@pytest.fixture(scope="module")
def stored(tmp_path_factory):  # type: ignore[no-untyped-def]
    runs = load_fixture()
    path: Path = tmp_path_factory.mktemp("rollups") / "r.db"
    with open_store(path) as s:
        s.save_runs(runs)
        hourly = rollups.hourly_frame(rollup.hourly(s, good_under_ms=SLOConfig().threshold_s * 1000), rollup.HOURLY_COLUMNS)
        hist = rollups.phase_frame(rollup.phase_histograms(s), rollup.PHASE_COLUMNS)
        first_seen = dict(rollup.revision_first_seen(s))
    return from_runs(runs), hourly, hist, first_seen


def test_counts_and_success_rate_are_exact(stored) -> None:  # type: ignore[no-untyped-def]
    df, hourly, _, _ = stored
    got = rollups.success(hourly)
    want = failures.success_rate(df)
    assert got["runs"] == len(df) and got["successes"] == want.successes
    assert got["rate"] == pytest.approx(want.value)


def test_fix_verdicts_from_the_rollup_equal_the_raw_verdicts(stored) -> None:  # type: ignore[no-untyped-def]
    df, hourly, _, first_seen = stored
    raw = [(v.from_revision, v.to_revision, v.verdict) for v in deploys.fix_validations(df)]
    rolled = [(v.from_revision, v.to_revision, v.verdict) for v in deploys.fix_validations_from_counts(rollups.revision_sides(hourly, first_seen))]
    assert rolled == raw
    assert [v[2] for v in rolled] == ["regressed", "failure_mode_changed", "fixed"]
    assert first_seen == {r.revision: pytest.approx(r.first_seen) for r in deploys.revision_stats(df)}


def test_percentiles_from_histograms_are_within_one_bin(stored) -> None:  # type: ignore[no-untyped-def]
    df, _, hist, _ = stored
    exact = latency.phase_percentiles(df).set_index("phase")
    approx = rollups.phase_percentiles(hist).set_index("phase")
    assert list(approx.index) == list(exact.index)
    assert (approx["count"] == exact["count"]).all()
    ratio = (approx["p95"] / exact["p95"]).to_numpy()
    assert np.all((ratio > 1 / rollup.BIN_RATIO) & (ratio < rollup.BIN_RATIO)), ratio


def test_slo_budget_from_the_rollup_matches_the_raw_status(stored) -> None:  # type: ignore[no-untyped-def]
    df, hourly, _, _ = stored
    cfg = SLOConfig()
    raw = status(df, cfg, now=float(df["started_ts"].max()) + 1)
    rolled = rollups.slo_budget(hourly, cfg.objective)
    assert rolled["events"] == raw.events and rolled["good"] == raw.good_events, "story runs are far under the 10 s threshold"
