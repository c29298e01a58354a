"""Overview: is the golden path working right now, per target, and what is open."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from analysis import failures, overview, rollups
from pages import _shared as ui

f = ui.page_header("Golden path: now", "Per target: status, last run's phases, success rates, error budget, open incident")
if f is not None:
    cfg = ui.settings().report
    hourly = ui.hourly(f.targets, ui._bucket(f.now - cfg.slo.window_s, 60.0))
    last = ui.latest_runs(f.targets)
    streak_query = tuple((r.target, r.served, overview.opposite_hour(hourly, r.target, r.served)) for r in last)
    open_incidents = [i for i in ui.incidents_list() if i.get("status") == "open"]
    statuses = overview.target_statuses(last, ui.streak_starts(streak_query), hourly, open_incidents, now=f.now, slo=cfg.slo)

    head = overview.headline(statuses)
    (st.success if all(s.up for s in statuses) else st.error)(head)
    for notice in overview.auth_notices(last):
        st.error(notice, icon="🔓")
    for inc in open_incidents:
        st.warning(f"Open incident {ui.md(inc['id'])} since {ui.fmt_ts(inc.get('start_ts'))}: {ui.md(inc.get('signature') or inc.get('title') or '')}")
    if not open_incidents and (recent := [i for i in ui.incidents_list() if (i.get("end_ts") or 0) >= f.now - 7 * 86400]):
        last_inc = recent[-1]
        st.info(f"Last incident {ui.md(last_inc['id'])}, resolved {ui.fmt_ts(last_inc['end_ts'])}: "
                f"{ui.md(last_inc.get('signature') or last_inc.get('title') or '')}")

    st.dataframe(
        [{
            "target": s.target, "status": s.status.upper(), "since": ui.fmt_ts(s.since_ts),
            **{f"success {w}": ui.fmt_pct(s.success[w]["rate"]) for w in overview.WINDOWS},
            "error budget left": ui.fmt_budget(s.budget_remaining), "revision": s.revision or "—",
            "open incident": s.open_incident["id"] if s.open_incident else "",
        } for s in statuses],
        hide_index=True, key="status_table",
    )
    st.subheader("Last run's phases")
    badge = {"done": "green", "failed": "red", "not_reached": "gray", "skipped": "gray"}
    for s in statuses:
        chips = " ".join(
            f":{badge[p['state']]}-badge[{p['phase']} {p['ms']:.0f} ms]" if p["ms"] is not None else f":{badge[p['state']]}-badge[{p['phase']} {p['state'].replace('_', ' ')}]"
            for p in s.strip
        )
        outcome = s.last_run.outcome + (f" (close {s.last_run.close_code})" if s.last_run.close_code is not None else "")
        st.markdown(f"**{ui.md(s.target)}** · {ui.fmt_ts(ui.ts_of(s.last_run))} · {ui.code(outcome)}  \n{chips}")

    st.subheader("Runs by outcome over time")
    recent, clipped = ui.window_runs(f)
    if not recent.empty and not clipped:
        bucket_s = failures.auto_bucket(recent["started_ts"].min(), recent["started_ts"].max())
        long = failures.over_time(recent, bucket_s).melt(id_vars="bucket", var_name="outcome", value_name="runs")
    else:
        window = hourly if f.since_ts is None else hourly[hourly["hour_ts"] >= f.since_ts // 3600 * 3600]
        long = rollups.outcomes_over_time(window).melt(id_vars="bucket", var_name="outcome", value_name="runs")
    if not long.empty:
        long["time"] = ui.ts_axis(long["bucket"]).to_numpy()
        fig = px.bar(long, x="time", y="runs", color="outcome", color_discrete_map=ui.OUTCOME_COLOURS)
        st.plotly_chart(ui.add_deploy_markers(fig, f.since_ts), key="overview_outcomes")
