"""Statistics with known answers, and properties checked against numpy/scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.slo import SLOConfig, burn_rate, good, status, trailing_burn
from analysis.stats import fisher_exact, percentiles, wilson


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_percentiles_match_numpy(values):  # type: ignore[no-untyped-def]
    got = percentiles(values)
    want = np.quantile(np.array(values), [0.5, 0.9, 0.95, 0.99])
    assert [got[k] for k in ("p50", "p90", "p95", "p99")] == pytest.approx(list(want))


def test_percentiles_ignore_nan_and_empty_is_none():
    assert percentiles([float("nan"), 1.0, 3.0])["p50"] == 2.0
    assert percentiles([])["p99"] is None


def test_wilson_known_values():
    r = wilson(5, 10)
    assert (r.low, r.high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    r = wilson(0, 10)
    assert r.low == 0.0 and r.high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(0, 0).value is None


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_contains_the_rate_and_stays_in_0_1(k, n):  # type: ignore[no-untyped-def]
    k = min(k, n)
    r = wilson(k, n)
    assert 0.0 <= r.low <= k / n <= r.high <= 1.0


def _hypergeom_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test by enumeration, as in textbooks."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def p(x: int) -> float:
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)

    observed = p(a)
    lo, hi = max(0, row1 - (n - col1)), min(row1, col1)
    return min(1.0, sum(p(x) for x in range(lo, hi + 1) if p(x) <= observed * (1 + 1e-7)))


@given(st.integers(0, 15), st.integers(0, 15), st.integers(0, 15), st.integers(0, 15))
def test_fisher_matches_enumeration(a, b, c, d):  # type: ignore[no-untyped-def]
    if a + b == 0 or c + d == 0 or a + c == 0 or b + d == 0:
        return
    assert fisher_exact(a, b, c, d) == pytest.approx(_hypergeom_two_sided(a, b, c, d), rel=1e-6)


def _series(bad_flags: list[bool], now: float, spacing_s: float = 60.0) -> pd.DataFrame:
    n = len(bad_flags)
    ts = [now - (n - i) * spacing_s + 1 for i in range(n)]
    return pd.DataFrame({"started_ts": ts, "ok": [not b for b in bad_flags], "total_ms": [1000.0] * n, "outcome": ["ok" if not b else "server_error" for b in bad_flags]})


def test_burn_rate_on_a_series_with_a_known_answer():
    now = 1_000_000.0
    df = _series([i % 10 == 0 for i in range(60)], now)  # 10 % bad over the last hour
    cfg = SLOConfig(objective=0.99)
    assert burn_rate(df, cfg, now, 3600) == pytest.approx(10.0)
    assert burn_rate(df, cfg, now, 1) is None


@given(st.lists(st.booleans(), min_size=1, max_size=120), st.sampled_from([60.0, 300.0, 3600.0]))
def test_trailing_burn_at_every_run_equals_burn_rate_at_that_moment(bad_flags, span):  # type: ignore[no-untyped-def]
    df = _series(bad_flags, 1_000_000.0, spacing_s=37.0)
    cfg = SLOConfig(objective=0.99)
    ts = df["started_ts"].to_numpy()
    burns, counts = trailing_burn(ts, ~good(df, cfg).to_numpy(), span, cfg.objective)
    for t, b, n in zip(ts, burns, counts, strict=True):
        assert b == pytest.approx(burn_rate(df, cfg, t, span))
        assert n == ((df["started_ts"] > t - span) & (df["started_ts"] <= t)).sum()


def test_fast_burn_page_fires_only_when_both_windows_burn():
    now = 1_000_000.0
    cfg = SLOConfig(objective=0.99)
    all_bad_recently = _series([False] * 40 + [True] * 20, now)  # last 20 min all failing: 1h burn 33x, 5m burn 100x
    st_ = status(all_bad_recently, cfg, now)
    assert st_.alerts[0].firing and st_.alerts[0].long_burn == pytest.approx(100 / 3)
    recovered = _series([True] * 50 + [False] * 10, now)  # failing earlier, clean for the last 10 min
    assert not status(recovered, cfg, now).alerts[0].firing


def test_error_budget_and_threshold():
    now = 1_000_000.0
    df = _series([False] * 99 + [True], now)
    df.loc[0, "total_ms"] = 60_000.0  # completed, but too slow to be good
    s = status(df, SLOConfig(objective=0.95, threshold_s=10), now)
    assert s.events == 100 and s.good_events == 98
    assert s.budget_consumed == pytest.approx(0.02 / 0.05) and s.budget_remaining == pytest.approx(0.6)
