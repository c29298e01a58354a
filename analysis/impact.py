"""Business impact in plain numbers, each with the formula that produced it.

Downtime is measured, not assumed: each run stands for the time until its
target's next run (a gap longer than ``max_gap_s`` is missing data, neither up
nor down: the run before it stands only for its target's usual interval), a
failed run's time counts as down, and the targets' downtimes are averaged, so
three regions seeing one outage count it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.five_whys import escape
from probes.timeutil import human_minutes

MONTH_MINUTES = 30 * 24 * 60


@dataclass(frozen=True)
class ImpactConfig:
    #: Monthly recurring revenue that depends on the golden path (the incident log's figure).
    monthly_revenue: float = 120_000.0
    active_users: int = 2_000
    currency: str = "$"
    #: Longest time one run may stand for.
    max_gap_s: float = 900.0


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    formula: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Impact:
    downtime_minutes: Figure
    revenue_at_risk: Figure
    users_at_risk: Figure
    failing_share: float
    observed_minutes: float

    def figures(self) -> list[Figure]:
        return [self.downtime_minutes, self.revenue_at_risk, self.users_at_risk]

    def to_dict(self) -> dict[str, object]:
        return {f.name: f.to_dict() for f in self.figures()} | {"failing_share": self.failing_share, "observed_minutes": self.observed_minutes}


def _weights(df: pd.DataFrame, max_gap_s: float) -> np.ndarray:
    """Seconds each run stands for: the gap to its target's next run; a gap over ``max_gap_s`` (the probe stopped) and
    the last run get the target's median gap (at most ``max_gap_s``), so a silence is never counted as up or down time."""
    w = np.zeros(len(df))
    for idx in df.groupby("target", sort=False).indices.values():
        ts = df["started_ts"].to_numpy()[idx]
        order = np.argsort(ts, kind="stable")
        gaps = np.diff(ts[order])
        usual = min(float(np.median(gaps)), max_gap_s) if gaps.size else 0.0
        w[idx[order]] = np.append(np.where(gaps <= max_gap_s, gaps, usual), usual)
    return w


def impact(df: pd.DataFrame, config: ImpactConfig = ImpactConfig()) -> Impact:
    """Impact of the failures in ``df`` (pass the runs of a period or of one incident)."""
    targets = max(1, df["target"].nunique()) if not df.empty else 1
    weights = _weights(df, config.max_gap_s) if not df.empty else np.zeros(0)
    failed = ~df["ok"].to_numpy(dtype=bool) if not df.empty else np.zeros(0, dtype=bool)
    observed_min = float(weights.sum()) / 60.0 / targets
    downtime = float(weights[failed].sum()) / 60.0 / targets
    share = downtime / observed_min if observed_min else 0.0
    revenue = config.monthly_revenue * downtime / MONTH_MINUTES
    users = config.active_users * share
    c = config.currency
    return Impact(
        downtime_minutes=Figure("downtime_minutes", round(downtime, 2), "min",
                                f"time covered by failed runs (each run stands for the gap to its target's next run, at most "
                                f"{config.max_gap_s / 60:g} min), averaged over {targets} target(s) = {downtime:.2f} min of {observed_min:.2f} min observed"),
        revenue_at_risk=Figure("revenue_at_risk", round(revenue, 2), c,
                               f"{c}{config.monthly_revenue:,.0f} monthly revenue x {downtime:.2f} min down / {MONTH_MINUTES:,} min in a month = {c}{revenue:,.2f}"),
        users_at_risk=Figure("users_at_risk", round(users), "users",
                             f"{config.active_users:,} active users x {share:.0%} of the observed time down = {users:,.0f}"),
        failing_share=share,
        observed_minutes=observed_min,
    )


def human_duration(minutes: float) -> str:
    """'45 s', '12 min', '3 h 12 min' (see :func:`probes.timeutil.human_minutes`)."""
    return human_minutes(minutes)


def trend_bucket_s(span_s: float | None) -> float:
    """The bar width of an impact trend: a day per bar over more than two days (or all time), else an hour."""
    return 86400.0 if span_s is None or span_s > 2 * 86400 else 3600.0


def plain_sentence(imp: Impact, period: str) -> str:
    """The manager's first line: how long the path was down and what revenue was at risk."""
    minutes = imp.downtime_minutes.value
    if minutes <= 0:
        return f"The agent chat path had no measured downtime {period}."
    return (f"The agent chat path was down {human_duration(minutes)} {period}; about {imp.revenue_at_risk.unit}{imp.revenue_at_risk.value:,.0f} "
            f"of monthly revenue was at risk and about {imp.users_at_risk.value:,.0f} users could not get an answer.")


def by_period(df: pd.DataFrame, bucket_s: float, config: ImpactConfig = ImpactConfig()) -> pd.DataFrame:
    """Downtime, revenue and users at risk per time bucket (each bucket's runs measured as :func:`impact` does)."""
    cols = ["bucket", "runs", "failed_runs", "downtime_minutes", "revenue_at_risk", "users_at_risk"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for bucket, g in df.groupby((df["started_ts"] // bucket_s) * bucket_s, sort=True):
        imp = impact(g, config)
        rows.append((float(bucket), len(g), int((~g["ok"]).sum()), imp.downtime_minutes.value, imp.revenue_at_risk.value, imp.users_at_risk.value))
    return pd.DataFrame(rows, columns=cols)


def report_markdown(period: str, imp: Impact, incidents: list[dict[str, object]], budget: dict[str, object] | None) -> str:
    """The manager's report as Markdown: the sentence, the figures with formulas, incidents by cost, the error budget."""
    lines = [f"# Golden path impact report ({period})", "", plain_sentence(imp, period), "", "| figure | value | how it is computed |", "| --- | --- | --- |"]
    for fig in imp.figures():
        lines.append(f"| {fig.name.replace('_', ' ')} | {fig.value:,.2f} {fig.unit} | {fig.formula} |")
    if budget and budget.get("budget_remaining") is not None:
        lines += ["", f"Error budget remaining: {float(budget['budget_remaining']):.1%} (compliance {float(budget['compliance']):.2%} over {budget['events']} runs)"]
    if incidents:
        lines += ["", "## Incidents by cost", "", "| incident | start | downtime (min) | revenue at risk | signature |", "| --- | --- | --- | --- | --- |"]
        for inc in incidents:
            sig = escape(str(inc.get("signature") or "")).replace("|", "/")  # server text: inert in any Markdown viewer
            lines.append(f"| {escape(str(inc['id']))} | {inc.get('start')} | {inc['downtime_minutes']:,.1f} | {inc['revenue_at_risk']:,.0f} | {sig} |")
    return "\n".join(lines) + "\n"


def impact_from_hourly(hourly: pd.DataFrame, config: ImpactConfig = ImpactConfig()) -> Impact:
    """Impact over long windows from the hourly rollup: each target-hour counts its failing share of runs x 60 min.

    The same measure as :func:`impact` when a target is probed evenly within the hour; hours without runs are
    missing data, not downtime.
    """
    if hourly.empty:
        return impact(pd.DataFrame({"target": [], "started_ts": [], "ok": []}), config)
    per = hourly.assign(failed=hourly["n"].where(~hourly["ok"], 0)).groupby(["target", "hour_ts"])[["n", "failed"]].sum()
    targets = max(1, per.index.get_level_values(0).nunique())
    observed = 60.0 * len(per) / targets
    downtime = float((per["failed"] / per["n"]).sum()) * 60.0 / targets
    share = downtime / observed if observed else 0.0
    revenue = config.monthly_revenue * downtime / MONTH_MINUTES
    users = config.active_users * share
    c = config.currency
    return Impact(
        downtime_minutes=Figure("downtime_minutes", round(downtime, 2), "min",
                                f"sum over hours of (failed runs / runs) x 60 min, averaged over {targets} target(s) = "
                                f"{downtime:.2f} min of {observed:.2f} min observed"),
        revenue_at_risk=Figure("revenue_at_risk", round(revenue, 2), c,
                               f"{c}{config.monthly_revenue:,.0f} monthly revenue x {downtime:.2f} min down / {MONTH_MINUTES:,} min in a month = {c}{revenue:,.2f}"),
        users_at_risk=Figure("users_at_risk", round(users), "users",
                             f"{config.active_users:,} active users x {share:.0%} of the observed time down = {users:,.0f}"),
        failing_share=share,
        observed_minutes=observed,
    )


def hourly_trend(hourly: pd.DataFrame, bucket_s: float, config: ImpactConfig = ImpactConfig()) -> pd.DataFrame:
    """:func:`by_period` from the hourly rollup."""
    cols = ["bucket", "runs", "failed_runs", "downtime_minutes", "revenue_at_risk", "users_at_risk"]
    if hourly.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for bucket, g in hourly.groupby((hourly["hour_ts"] // bucket_s) * bucket_s, sort=True):
        imp = impact_from_hourly(g, config)
        rows.append((float(bucket), int(g["n"].sum()), int(g.loc[~g["ok"], "n"].sum()), imp.downtime_minutes.value,
                     imp.revenue_at_risk.value, imp.users_at_risk.value))
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------- the Impact page

def trend_bucket(first_ts: float, last_ts: float, minimum_s: float = 0.0) -> float:
    """The trend's bar width: about 60 bars over the span the data covers (``failures.auto_bucket``), never under
    ``minimum_s`` (an hour when the trend comes from the hourly rollup)."""
    from analysis.failures import auto_bucket

    return max(minimum_s, auto_bucket(first_ts, last_ts))


def trend(df: pd.DataFrame, hourly: pd.DataFrame | None, config: ImpactConfig = ImpactConfig()) -> tuple[pd.DataFrame, float]:
    """The downtime trend and its bar width: from the runs (:func:`by_period`), or from the hourly rollup when given
    (:func:`hourly_trend`, bars of an hour or more), with bars sized to the span the data covers."""
    times = df["started_ts"] if hourly is None else hourly["hour_ts"]
    minimum = 0.0 if hourly is None else 3600.0
    bucket_s = trend_bucket(float(times.min()), float(times.max()), minimum) if len(times) else 3600.0
    return (by_period(df, bucket_s, config) if hourly is None else hourly_trend(hourly, bucket_s, config)), bucket_s


def incidents_in_window(incidents: list[dict[str, object]], since_ts: float | None, now: float) -> list[dict[str, object]]:
    """Incidents that were open at some point of the window from ``since_ts`` to ``now`` (open ones end now)."""
    def end(inc: dict[str, object]) -> float:
        return float(inc["end_ts"]) if inc.get("end_ts") is not None else now  # type: ignore[arg-type]

    return [i for i in incidents if since_ts is None or end(i) >= since_ts]


def incident_costs(incidents: list[dict[str, object]], runs_during: dict[str, pd.DataFrame], config: ImpactConfig = ImpactConfig()) -> list[dict[str, object]]:
    """Each incident's measured downtime and revenue at risk (from the runs during it), costliest first."""
    costs = []
    for inc in incidents:
        imp = impact(runs_during[str(inc["id"])], config)
        costs.append({"id": inc["id"], "start_ts": inc["start_ts"], "status": inc.get("status"), "downtime_minutes": imp.downtime_minutes.value,
                      "revenue_at_risk": imp.revenue_at_risk.value, "signature": inc.get("signature") or inc.get("title")})
    return sorted(costs, key=lambda c: -float(c["revenue_at_risk"]))  # type: ignore[arg-type]
