"""SLO and error budget on 'the golden path completed within T seconds', with multiwindow burn-rate alerts.

Alerts follow the Google SRE workbook: an alert fires when both the long and the
short window burn the budget faster than the factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

HOUR = 3600.0


@dataclass(frozen=True)
class BurnAlert:
    long_s: float
    short_s: float
    factor: float
    severity: str


DEFAULT_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert(1 * HOUR, 5 * 60, 14.4, "page"),
    BurnAlert(6 * HOUR, 30 * 60, 6.0, "page"),
    BurnAlert(72 * HOUR, 6 * HOUR, 1.0, "ticket"),
)


@dataclass(frozen=True)
class SLOConfig:
    objective: float = 0.99
    threshold_s: float = 10.0
    window_s: float = 30 * 24 * HOUR
    alerts: tuple[BurnAlert, ...] = field(default=DEFAULT_ALERTS)


def good(df: pd.DataFrame, config: SLOConfig) -> pd.Series:
    """A good event: all five agent events arrived, within the threshold."""
    return df["ok"] & (df["total_ms"] <= config.threshold_s * 1000.0)


def burn_rate(df: pd.DataFrame, config: SLOConfig, now: float, span_s: float) -> float | None:
    """Bad fraction over the last ``span_s`` seconds divided by the allowed bad fraction."""
    recent = df[(df["started_ts"] > now - span_s) & (df["started_ts"] <= now)]
    if recent.empty:
        return None
    bad = 1.0 - float(good(recent, config).mean())
    return bad / (1.0 - config.objective)


def trailing_burn(ts: np.ndarray, bad: np.ndarray, span_s: float, objective: float) -> tuple[np.ndarray, np.ndarray]:
    """At each run (``ts`` sorted): the burn rate over the ``span_s`` up to and including it, and how many runs that is.

    The same measure as :func:`burn_rate`, for every run at once (cumulative counts), so detection can
    evaluate an alert along weeks of runs.
    """
    cum = np.concatenate([[0], np.cumsum(bad)])
    end = np.arange(1, len(ts) + 1)
    start = np.searchsorted(ts, ts - span_s, side="right")
    n = end - start
    return (cum[end] - cum[start]) / np.maximum(n, 1) / (1.0 - objective), n


def alert_fires(alert: BurnAlert, long_burn, short_burn):  # type: ignore[no-untyped-def]
    """The workbook's rule: both windows burn the budget faster than the factor (numbers or arrays)."""
    return (long_burn > alert.factor) & (short_burn > alert.factor)


@dataclass(frozen=True)
class AlertState:
    alert: BurnAlert
    long_burn: float | None
    short_burn: float | None
    firing: bool


@dataclass(frozen=True)
class SLOStatus:
    objective: float
    threshold_s: float
    window_s: float
    events: int
    good_events: int
    compliance: float | None
    budget_consumed: float | None
    budget_remaining: float | None
    alerts: tuple[AlertState, ...]


def status(df: pd.DataFrame, config: SLOConfig, now: float) -> SLOStatus:
    in_window = df[(df["started_ts"] > now - config.window_s) & (df["started_ts"] <= now)]
    n = len(in_window)
    g = int(good(in_window, config).sum()) if n else 0
    compliance = g / n if n else None
    consumed = None if compliance is None else (1.0 - compliance) / (1.0 - config.objective)
    alerts = []
    for a in config.alerts:
        lb, sb = burn_rate(df, config, now, a.long_s), burn_rate(df, config, now, a.short_s)
        alerts.append(AlertState(a, lb, sb, lb is not None and sb is not None and bool(alert_fires(a, lb, sb))))
    return SLOStatus(
        objective=config.objective, threshold_s=config.threshold_s, window_s=config.window_s, events=n, good_events=g,
        compliance=compliance, budget_consumed=consumed, budget_remaining=None if consumed is None else 1.0 - consumed, alerts=tuple(alerts),
    )
