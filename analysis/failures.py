"""Failures: success rate with its interval, counts by outcome, close code and phase, time to failure."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from analysis.stats import Rate, percentiles, wilson


def success_rate(df: pd.DataFrame) -> Rate:
    return wilson(int(df["ok"].sum()), len(df))


def counts(df: pd.DataFrame, column: str) -> dict[str, int]:
    """Counts of failed runs by ``column`` (outcome, close_code, failed_phase), largest first."""
    failed = df[~df["ok"]]
    series = failed[column].astype("string").fillna("none").value_counts()
    return {str(k): int(v) for k, v in series.items()}


def outcome_counts(df: pd.DataFrame) -> dict[str, int]:
    """Every outcome, successes included."""
    return {str(k): int(v) for k, v in df["outcome"].value_counts().items()}


def time_to_failure(df: pd.DataFrame) -> dict[str, float | int | None]:
    """Percentiles (ms) of the time from start_agent to the failure, for failures after start_agent."""
    values = df.loc[~df["ok"], "ms_after_start_agent"].dropna().to_numpy()
    return {**percentiles(values), "count": int(values.size)}


def over_time(df: pd.DataFrame, bucket_s: float, column: str = "outcome") -> pd.DataFrame:
    """Runs per time bucket and ``column`` value (wide: one column per value)."""
    bucket = (df["started_ts"] // bucket_s) * bucket_s
    table = df.assign(bucket=bucket).pivot_table(index="bucket", columns=column, values="run_id", aggfunc="count", fill_value=0)
    table.columns = [str(c) for c in table.columns]
    return table.reset_index()


NICE_BUCKETS_S = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400)


def auto_bucket(first_ts: float, last_ts: float, buckets: int = 60) -> float:
    """A round bucket size giving about ``buckets`` bars over the span the data actually covers."""
    span = max(0.0, last_ts - first_ts)
    return float(next((b for b in NICE_BUCKETS_S if span / b <= buckets), NICE_BUCKETS_S[-1]))


def outcomes_over_window(recent: pd.DataFrame, hourly: pd.DataFrame, since_ts: float | None) -> tuple[pd.DataFrame, float]:
    """Runs per time bucket and outcome (wide) with the bucket size: from the raw runs when there are any, in about
    60 buckets over the span they cover; else from the hourly rollup (``store`` columns) from ``since_ts``, per hour."""
    if not recent.empty:
        bucket_s = auto_bucket(float(recent["started_ts"].min()), float(recent["started_ts"].max()))
        return over_time(recent, bucket_s), bucket_s
    from analysis.rollups import outcomes_over_time

    hours = hourly if since_ts is None else hourly[hourly["hour_ts"] >= since_ts // 3600 * 3600]
    return outcomes_over_time(hours), 3600.0


def ttf_seconds(df: pd.DataFrame) -> pd.DataFrame:
    """Failed runs that got past start_agent: their outcome and the seconds from start_agent to the failure."""
    failed = df[~df["ok"]]
    out = pd.DataFrame({"outcome": failed["outcome"], "seconds": failed["ms_after_start_agent"] / 1000.0})
    return out.dropna(subset=["seconds"]).reset_index(drop=True)


def bucket_span(buckets: Iterable[float], bucket_s: float, marks: Iterable[float] = ()) -> tuple[float, float] | None:
    """The x range of a chart of time buckets: from the first bucket's start to the last one's end, widened only to
    take in ``marks`` (deploys inside the window), never to the empty rest of the window. None: nothing to show."""
    starts, marks = list(buckets), list(marks)
    if not starts:
        return None
    return min([float(min(starts)), *marks]), max([float(max(starts)) + bucket_s, *marks])
