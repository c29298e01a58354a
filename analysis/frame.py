"""Runs as a DataFrame: one row per run, one column per field the analysis needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from probes.outcomes import SERVED
from probes.phases import MARK_FAILURE, MARK_START_AGENT_SENT, PHASES
from probes.record import ProbeRun
from probes.timeutil import parse_iso

#: Per-phase duration columns (ms), named as in the store.
PHASE_COLS: dict[str, str] = {p: f"ms_{p}" for p in PHASES}

COLUMNS: tuple[str, ...] = (
    "run_id", "target", "started_ts", "environment", "revision", "outcome", "failed_phase", "close_code",
    "close_reason", "http_status", "error", "total_ms", "ms_to_start_agent", "ms_to_failure", *PHASE_COLS.values(),
)


def runs_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str] = COLUMNS) -> pd.DataFrame:
    """Build the runs frame from rows (as the store returns them), sorted by time."""
    df = pd.DataFrame.from_records(list(rows), columns=list(columns))
    return _normalise(df)


def from_runs(runs: Iterable[ProbeRun]) -> pd.DataFrame:
    """The same frame from run records (tests, fixtures, the probe's own output)."""
    rows = []
    for r in runs:
        ts = parse_iso(r.started_at)
        rows.append((
            r.run_id, r.target, ts, r.tags.get("environment"), r.revision, r.outcome, r.failed_phase, r.close_code,
            r.close_reason, r.http_status, r.error, r.total_ms, r.elapsed_ms.get(MARK_START_AGENT_SENT),
            r.elapsed_ms.get(MARK_FAILURE), *(r.phases_ms.get(p) for p in PHASES),
        ))
    return runs_frame(rows)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    float_cols = ["started_ts", "total_ms", "ms_to_start_agent", "ms_to_failure", *PHASE_COLS.values()]
    for col in float_cols:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["close_code"] = pd.to_numeric(df["close_code"], errors="coerce").astype("Int64")
    df["http_status"] = pd.to_numeric(df["http_status"], errors="coerce").astype("Int64")
    df["ok"] = df["outcome"].isin(SERVED)  # the golden path reached the user (ok, auth_not_enforced)
    # Time from start_agent to the failure, where both are known: the "7 s after start_agent" shape.
    df["ms_after_start_agent"] = df["ms_to_failure"] - df["ms_to_start_agent"]
    return df.sort_values(["started_ts", "run_id"], kind="stable").reset_index(drop=True)


def window(df: pd.DataFrame, start_ts: float | None = None, end_ts: float | None = None) -> pd.DataFrame:
    """Rows with ``start_ts <= started_ts < end_ts``."""
    mask = pd.Series(True, index=df.index)
    if start_ts is not None:
        mask &= df["started_ts"] >= start_ts
    if end_ts is not None:
        mask &= df["started_ts"] < end_ts
    return df[mask]


def matching(df: pd.DataFrame, revision: str | None = None, outcomes: Sequence[str] = (), failed_phase: str | None = None) -> pd.DataFrame:
    """Rows of one revision, with one of ``outcomes``, failed in ``failed_phase`` (each filter only when given)."""
    mask = pd.Series(True, index=df.index)
    if revision is not None:
        mask &= df["revision"] == revision
    if outcomes:
        mask &= df["outcome"].isin(list(outcomes))
    if failed_phase is not None:
        mask &= df["failed_phase"] == failed_phase
    return df[mask]
