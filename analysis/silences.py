"""Silences and maintenance windows: which silence covers a target at a time, which incidents are muted and why,
and the silenced spans the SLO and impact may leave out.

Pure: silences come in as :class:`Silence` values, the time as ``now``. A silence covers one target, or every target
of one group (a run's group is its ``group`` tag, else its target name). During a silence the probes keep probing and
incidents still open; only telling people stops (and, when ``[alerting] exclude_silences`` is on, the SLO and impact
leave the silenced windows out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.incidents import Incident
from probes.timeutil import human_utc

#: Bounds on what a person types (checked at the edge, ``services.silences``).
MAX_REASON = 500
MAX_AUTHOR = 80
MAX_AHEAD_S = 90 * 86400.0


@dataclass(frozen=True)
class Silence:
    """One silence: on ``target`` or on ``group`` (exactly one), from ``starts_ts`` to ``until_ts``, unless expired earlier."""

    id: str
    target: str | None
    group: str | None
    starts_ts: float
    until_ts: float
    reason: str
    author: str
    created_ts: float
    expired_ts: float | None = None
    #: Who expired it (None while it was not expired by hand).
    expired_by: str | None = None

    @property
    def end_ts(self) -> float:
        """When it stops (or stopped) muting: its ``until``, or when it was expired if that came first."""
        return self.until_ts if self.expired_ts is None else min(self.until_ts, self.expired_ts)

    @property
    def scope(self) -> str:
        """``target X`` or ``group G``, for sentences."""
        return f"target {self.target}" if self.target is not None else f"group {self.group}"

    def active(self, now: float) -> bool:
        return self.starts_ts <= now < self.end_ts

    def state(self, now: float) -> str:
        """``active``, ``scheduled`` (starts later), ``expired`` (ended by hand) or ``ended``."""
        if self.expired_ts is not None and self.expired_ts < self.until_ts and now >= self.expired_ts:
            return "expired"
        if now >= self.end_ts:
            return "ended"
        return "active" if now >= self.starts_ts else "scheduled"

    def covers(self, target: str, groups: Mapping[str, str]) -> bool:
        """Whether it is about ``target``: named, or the target's group (``groups``: target -> group, default itself)."""
        if self.target is not None:
            return self.target == target
        return groups.get(target, target) == self.group

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Silence:
        """A silence from the store's row (``store.silences``)."""
        return cls(id=str(row["id"]), target=row.get("target"), group=row.get("group"), starts_ts=float(row["starts_ts"]),
                   until_ts=float(row["until_ts"]), reason=str(row.get("reason") or ""), author=str(row.get("author") or ""),
                   created_ts=float(row["created_ts"]), expired_ts=None if row.get("expired_ts") is None else float(row["expired_ts"]),
                   expired_by=row.get("expired_by"))

    def to_dict(self, now: float) -> dict[str, Any]:
        """JSON for ``silences list --json`` and the page's table: every field and its state at ``now``."""
        return {"id": self.id, "target": self.target, "group": self.group, "starts_ts": self.starts_ts, "until_ts": self.until_ts,
                "reason": self.reason, "author": self.author, "created_ts": self.created_ts, "expired_ts": self.expired_ts,
                "expired_by": self.expired_by, "end_ts": self.end_ts, "state": self.state(now)}


def covering(silences: Iterable[Silence], target: str, groups: Mapping[str, str], *, at: float) -> list[Silence]:
    """The silences muting ``target`` at ``at``, the one lasting longest first."""
    return sorted((s for s in silences if s.active(at) and s.covers(target, groups)), key=lambda s: (-s.end_ts, s.id))


def why_silent(silence: Silence) -> str:
    """The sentence a muted incident shows: ``silenced by S12 until 2026-11-25 18:00 UTC (deploy of v2)``."""
    return f"silenced by {silence.id} until {human_utc(silence.end_ts)} ({silence.reason})"


def muting(incidents: Sequence[Incident], silences: Sequence[Silence], groups: Mapping[str, str], *, now: float) -> dict[str, str]:
    """Incident id -> why it is silent: every target it names is covered by a silence active at ``now`` (or, for an
    incident that has ended, at its end: one that began and ended inside a maintenance window stays quiet after it).

    An incident on several targets of which one is not silenced still pages (that target's failure is news);
    an incident naming no target (declared by hand) is never muted by a silence on a target.
    """
    out: dict[str, str] = {}
    for inc in incidents:
        if not inc.targets:
            continue
        at = now if inc.end_ts is None else min(now, inc.end_ts)
        found = [covering(silences, t, groups, at=at) for t in inc.targets]
        if all(found):
            chosen = list(dict.fromkeys(c[0] for c in found))  # one sentence per distinct silence
            out[inc.id] = "; ".join(why_silent(s) for s in chosen)
    return out


# ---------------------------------------------------------------- silenced windows, for the SLO and the impact

Span = tuple[float, float]


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def silenced_spans(silences: Sequence[Silence], targets: Iterable[str], groups: Mapping[str, str], *, start: float | None,
                   end: float) -> dict[str, list[Span]]:
    """Per target, the merged spans ``[a, b)`` inside ``[start, end)`` during which a silence covered it (a silence
    expired by hand counts until it was expired). Targets never silenced are left out."""
    out: dict[str, list[Span]] = {}
    for t in targets:
        spans = []
        for s in silences:
            if not s.covers(t, groups):
                continue
            a, b = max(s.starts_ts, start if start is not None else s.starts_ts), min(s.end_ts, end)
            if b > a:
                spans.append((a, b))
        if spans:
            out[t] = _merge(spans)
    return out


def in_spans(df: pd.DataFrame, spans: Mapping[str, Sequence[Span]], ts_column: str = "started_ts") -> np.ndarray:
    """A boolean mask of the rows of ``df`` (with ``target`` and ``ts_column``) that fall inside their target's spans."""
    mask = np.zeros(len(df), dtype=bool)
    if df.empty or not spans:
        return mask
    targets = df["target"].to_numpy()
    ts = df[ts_column].to_numpy(dtype=float)
    for t, ss in spans.items():
        mine = targets == t
        for a, b in ss:
            mask |= mine & (ts >= a) & (ts < b)
    return mask


def without_silenced(df: pd.DataFrame, spans: Mapping[str, Sequence[Span]]) -> pd.DataFrame:
    """The runs of ``df`` outside the silenced spans of their target."""
    return df[~in_spans(df, spans)] if spans else df


def silenced_hourly_counts(silenced_runs: pd.DataFrame, threshold_s: float) -> pd.DataFrame:
    """The runs that fell in silenced spans, counted as the hourly rollup counts them: per (target, hour_ts, ok), ``n``
    and ``good`` (completed within the SLO threshold)."""
    cols = ["target", "hour_ts", "ok", "n", "good"]
    if silenced_runs.empty:
        return pd.DataFrame(columns=cols)
    d = silenced_runs.assign(hour_ts=(silenced_runs["started_ts"] // 3600 * 3600).astype("int64"),
                             good=(silenced_runs["ok"] & (silenced_runs["total_ms"] <= threshold_s * 1000.0)).astype("int64"), n=1)
    return d.groupby(["target", "hour_ts", "ok"], as_index=False)[["n", "good"]].sum()[cols]


def hourly_without(hourly: pd.DataFrame, silenced: pd.DataFrame) -> pd.DataFrame:
    """The hourly rollup (``analysis.rollups.hourly_frame``) reduced to (target, hour_ts, ok) with ``n`` and ``good``,
    minus the silenced runs' counts (:func:`silenced_hourly_counts`); a target-hour left with no run is dropped, so it
    is neither good nor bad time. Enough for ``rollups.slo_budget``, ``rollups.success`` and ``impact_from_hourly``."""
    cols = ["target", "hour_ts", "ok", "n", "good"]
    if hourly.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, ["object", "int64", "bool", "int64", "int64"], strict=True)})
    base = hourly.groupby(["target", "hour_ts", "ok"], as_index=False)[["n", "good"]].sum()
    if silenced.empty:
        return base[cols]
    merged = base.merge(silenced, on=["target", "hour_ts", "ok"], how="left", suffixes=("", "_silenced")).fillna(
        {"n_silenced": 0, "good_silenced": 0})
    merged["n"] = (merged["n"] - merged["n_silenced"]).clip(lower=0).astype("int64")
    merged["good"] = (merged["good"] - merged["good_silenced"]).clip(lower=0).clip(upper=merged["n"]).astype("int64")
    return merged.loc[merged["n"] > 0, cols].reset_index(drop=True)


def exclusion_sentence(enabled: bool, spans: Mapping[str, Sequence[Span]]) -> str:
    """What the SLO and impact figures did with silenced windows, said once on the pages and in the report."""
    if not enabled:
        if not spans:
            return "Silenced windows (maintenance) count in the SLO and impact like any other time ([alerting] exclude_silences is off)."
        return (f"Silenced windows on {len(spans)} target(s) count in the SLO and impact like any other time "
                "([alerting] exclude_silences is off).")
    if not spans:
        return "Silenced windows are left out of the SLO and impact ([alerting] exclude_silences = true); none in this period."
    minutes = sum(b - a for ss in spans.values() for a, b in ss) / 60.0
    names = ", ".join(sorted(spans)[:5]) + ("..." if len(spans) > 5 else "")
    return (f"Silenced windows are left out of the SLO and impact ([alerting] exclude_silences = true): "
            f"{minutes:,.0f} target-minutes on {names}.")
