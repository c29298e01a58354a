"""Latency per phase: percentiles per target/revision/time bucket, and regressions against a baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.frame import PHASE_COLS
from analysis.stats import QUANTILES, percentiles
from probes.phases import MARK_FAILURE, PHASES, reached


def phase_summary(df: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """{phase: {p50, p90, p95, p99, count}} in ms over the runs that reached each phase."""
    out: dict[str, dict[str, float | int | None]] = {}
    for phase, col in PHASE_COLS.items():
        values = df[col].to_numpy(dtype="float64")
        values = values[~np.isnan(values)]
        out[phase] = {**percentiles(values), "count": int(values.size)}
    return out


def phase_percentiles(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Long table: one row per (group..., phase) with count and p50/p90/p95/p99 (ms)."""
    cols = list(PHASE_COLS.values())
    long = df[[*by, *cols]].melt(id_vars=list(by), value_vars=cols, var_name="col", value_name="ms").dropna(subset=["ms"])
    long["phase"] = long["col"].str.removeprefix("ms_")
    keys = [*by, "phase"]
    grouped = long.groupby(keys, sort=False)["ms"]
    out = grouped.count().rename("count").to_frame()
    for name, q in QUANTILES.items():
        out[name] = grouped.quantile(q)
    out = out.reset_index()
    order = {p: i for i, p in enumerate(PHASES)}
    return out.sort_values([*by, "phase"], key=lambda s: s.map(order) if s.name == "phase" else s, kind="stable").reset_index(drop=True)


def bucketed(df: pd.DataFrame, bucket_s: float, by: Sequence[str] = ()) -> pd.DataFrame:
    """Phase percentiles per time bucket (``bucket`` = bucket start, epoch seconds)."""
    with_bucket = df.assign(bucket=np.floor(df["started_ts"] / bucket_s) * bucket_s)
    return phase_percentiles(with_bucket, by=["bucket", *by])


@dataclass(frozen=True)
class RegressionRule:
    """p95 up by more than ``pct`` percent, with at least ``min_samples`` on both sides."""

    pct: float = 20.0
    min_samples: int = 30
    quantile: str = "p95"


@dataclass(frozen=True)
class LatencyChange:
    phase: str
    baseline_ms: float | None
    current_ms: float | None
    change_pct: float | None
    n_baseline: int
    n_current: int
    regressed: bool
    enough_data: bool


def regressions(baseline: pd.DataFrame, current: pd.DataFrame, rule: RegressionRule = RegressionRule()) -> list[LatencyChange]:
    """Compare each phase's chosen percentile between two windows of runs."""
    b, c = phase_summary(baseline), phase_summary(current)
    out = []
    for phase in PHASES:
        bv, cv = b[phase][rule.quantile], c[phase][rule.quantile]
        nb, nc = int(b[phase]["count"] or 0), int(c[phase]["count"] or 0)
        enough = nb >= rule.min_samples and nc >= rule.min_samples
        change = None if bv in (None, 0) or cv is None else (cv - bv) / bv * 100.0  # type: ignore[operator]
        out.append(LatencyChange(phase, bv, cv, change, nb, nc, bool(enough and change is not None and change > rule.pct), enough))  # type: ignore[arg-type]
    return out


def waterfall(phases_ms: dict[str, float | None], elapsed_ms: dict[str, float]) -> list[dict[str, float | str]]:
    """One run's phases as bars on its own time axis: start and end (ms since the run began), plus the failure mark.

    A phase ends at its elapsed mark and lasted its duration; a phase never reached has no bar.
    """
    bars: list[dict[str, float | str]] = [{"phase": phase, "start_ms": max(0.0, start), "end_ms": end, "ms": dur}
                                          for phase, start, end, dur in reached(phases_ms, elapsed_ms)]

    if (fail := elapsed_ms.get(MARK_FAILURE)) is not None:
        start = bars[-1]["end_ms"] if bars else 0.0
        bars.append({"phase": "failure", "start_ms": start, "end_ms": fail, "ms": float(fail) - float(start)})
    return bars


def bucket_for(first_ts: float, last_ts: float) -> float:
    """The time bucket of the percentile chart: about 60 over the span the runs cover, never under a minute (fewer
    runs than that per bucket make a p99 meaningless)."""
    from analysis.failures import auto_bucket

    return max(60.0, auto_bucket(first_ts, last_ts))


def distribution(df: pd.DataFrame) -> pd.DataFrame:
    """Long table (phase, ms) of every phase duration measured, for phases that any run reached."""
    cols = [c for c in PHASE_COLS.values() if df[c].notna().any()]
    long = df[cols].melt(var_name="phase", value_name="ms").dropna()
    return long.assign(phase=long["phase"].str.removeprefix("ms_")).reset_index(drop=True)


def waterfall_frame(phases_ms: dict[str, float | None], elapsed_ms: dict[str, float]) -> pd.DataFrame:
    """:func:`waterfall` as a table with each bar's drawn length (``duration`` = end - start, ms)."""
    bars = pd.DataFrame(waterfall(phases_ms, elapsed_ms), columns=["phase", "start_ms", "end_ms", "ms"])
    return bars.assign(duration=bars["end_ms"] - bars["start_ms"])
