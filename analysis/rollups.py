"""Answers from the store's rollups (hourly outcome counts, daily phase histograms): fast over weeks.

Counts are exact; latency percentiles from histograms are within one bin
(about 9 %) of the exact value, which is what a 30-day chart needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.deploys import SideCounts, failure_mode
from analysis.stats import QUANTILES, histogram_quantile, wilson
from probes.outcomes import SERVED
from probes.phases import PHASES


def hourly_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The hourly rollup (rows and column names as ``store.rollup.hourly`` returns them)."""
    df = pd.DataFrame.from_records(list(rows), columns=list(columns))
    df["n"] = df["n"].astype("int64")
    df["good"] = df["good"].astype("int64")
    df["ok"] = df["outcome"].isin(SERVED)  # the golden path reached the user (ok, auth_not_enforced)
    return df


def phase_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Daily phase histograms (as ``store.rollup.phase_histograms`` returns them)."""
    df = pd.DataFrame.from_records(list(rows), columns=list(columns))
    df["n"] = df["n"].astype("int64")
    return df


def success(hourly: pd.DataFrame, since_ts: float | None = None) -> dict[str, Any]:
    """Runs, successes and the Wilson interval over the hours from ``since_ts``."""
    h = hourly if since_ts is None else hourly[hourly["hour_ts"] >= since_ts // 3600 * 3600]
    n = int(h["n"].sum())
    ok = int(h.loc[h["ok"], "n"].sum())
    r = wilson(ok, n)
    return {"runs": n, "successes": ok, "rate": r.value, "low": r.low, "high": r.high}


def success_by_target(hourly: pd.DataFrame, since_ts: float) -> dict[str, dict[str, Any]]:
    return {str(t): success(g, since_ts) for t, g in hourly.groupby("target", sort=True)}


def slo_budget(hourly: pd.DataFrame, objective: float) -> dict[str, float | int | None]:
    """Compliance and budget left from the hourly ``good`` counts (good = completed under the SLO threshold)."""
    n = int(hourly["n"].sum())
    g = int(hourly["good"].sum())
    if not n:
        return {"events": 0, "good": 0, "compliance": None, "budget_remaining": None}
    compliance = g / n
    return {"events": n, "good": g, "compliance": compliance, "budget_remaining": 1.0 - (1.0 - compliance) / (1.0 - objective)}


def phase_percentiles(hist: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (group..., phase): count and p50/p90/p95/p99 in ms, from histograms."""
    rows = []
    keys = [*by, "phase"]
    merged = hist.groupby([*keys, "lower_ms", "upper_ms"], sort=False, as_index=False)["n"].sum()
    for key, g in merged.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        lo, hi, n = g["lower_ms"].to_numpy(), g["upper_ms"].to_numpy(), g["n"].to_numpy()
        rows.append({**dict(zip(keys, key, strict=True)), "count": int(n.sum()), **{name: histogram_quantile(lo, hi, n, q) for name, q in QUANTILES.items()}})
    out = pd.DataFrame(rows, columns=[*keys, "count", *QUANTILES])
    order = {p: i for i, p in enumerate(PHASES)}
    return out.sort_values([*by, "phase"], key=lambda s: s.map(order) if s.name == "phase" else s, kind="stable").reset_index(drop=True)


def outcomes_over_time(hourly: pd.DataFrame, bucket_s: float = 3600.0) -> pd.DataFrame:
    """Runs per time bucket and outcome (wide)."""
    b = (hourly["hour_ts"] // bucket_s) * bucket_s
    t = hourly.assign(bucket=b).pivot_table(index="bucket", columns="outcome", values="n", aggfunc="sum", fill_value=0)
    t.columns = [str(c) for c in t.columns]
    return t.reset_index()


def revision_table(hourly: pd.DataFrame) -> pd.DataFrame:
    """Per revision: runs, success rate, first and last hour seen, dominant outcome."""
    h = hourly[hourly["revision"].notna()]
    if h.empty:
        return pd.DataFrame(columns=["revision", "runs", "success_rate", "first_hour", "last_hour", "dominant_outcome"])
    g = h.groupby("revision")
    table = pd.DataFrame({
        "runs": g["n"].sum(),
        "successes": h[h["ok"]].groupby("revision")["n"].sum(),
        "first_hour": g["hour_ts"].min(),
        "last_hour": g["hour_ts"].max(),
    }).fillna({"successes": 0})
    table["success_rate"] = table["successes"] / table["runs"]
    dom = h.groupby(["revision", "outcome"])["n"].sum().reset_index().sort_values("n", ascending=False).drop_duplicates("revision").set_index("revision")["outcome"]
    table["dominant_outcome"] = dom
    return table.reset_index().sort_values("first_hour", kind="stable").reset_index(drop=True)


def to_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def revision_sides(hourly: pd.DataFrame, first_seen: dict[str, float] | None = None) -> list[tuple[str, float, SideCounts]]:
    """Per revision, in order of first appearance: (revision, first seen, counts by failure mode), from the rollup."""
    h = hourly[hourly["revision"].notna()]
    if h.empty:
        return []
    failed = h[~h["ok"]]
    modes = [failure_mode(o, p, c) for o, p, c in zip(failed["outcome"], failed["failed_phase"], failed["close_code"], strict=True)]
    by_mode = failed.assign(mode=modes).groupby(["revision", "mode"])["n"].sum()
    runs = h.groupby("revision")["n"].sum()
    fails = failed.groupby("revision")["n"].sum()
    first = h.groupby("revision")["hour_ts"].min()
    seen = first_seen or {}
    out = []
    for rev in runs.index:
        m = by_mode[rev].to_dict() if rev in by_mode.index.get_level_values(0) else {}
        out.append((str(rev), float(seen.get(rev, first[rev])), SideCounts(int(runs[rev]), int(fails.get(rev, 0)), {str(k): int(v) for k, v in m.items()})))
    return sorted(out, key=lambda r: r[1])


def histogram(hist: pd.DataFrame, phase: str) -> pd.DataFrame:
    """One phase's latency histogram (bins merged over targets, days and revisions)."""
    h = hist[hist["phase"] == phase]
    return h.groupby(["lower_ms", "upper_ms"], as_index=False)["n"].sum().sort_values("lower_ms")
