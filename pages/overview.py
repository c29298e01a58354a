"""Overview: is the golden path working right now, per target, and what is open."""

from __future__ import annotations

import streamlit as st

from analysis import failures, overview
from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header, time_bars

BADGE = {"done": "green", "failed": "red", "not_reached": "gray", "skipped": "gray"}

f = page_header("Golden path: now", "Per target: status, last run's phases, success rates, error budget, open incident")
if f is not None:
    cfg = data.settings().report
    hourly = data.hourly(f.targets, data.bucket(f.now - cfg.slo.window_s, 60.0))
    last = data.latest_runs(f.targets)
    incidents = data.incidents_list()
    open_incidents = overview.open_incidents(incidents)
    now = data.bucket(f.now) or f.now
    since = data.bucket(f.now - cfg.slo.window_s, 60.0)
    statuses = overview.target_statuses(last, data.streak_starts(overview.streak_query(last, hourly)), hourly, open_incidents, now=f.now, slo=cfg.slo,
                                        budget_hourly=data.budget_hourly(f.targets, since, now))
    muted, _ = data.incident_policy(f.now)

    (st.success if all(s.up for s in statuses) else st.error)(overview.headline(statuses))
    for notice in overview.auth_notices(last):
        st.error(notice, icon="🔓")
    if (alerting := data.alerting_warning()) is not None:
        st.warning(fmt.md(alerting))
    for line in data.no_data_lines(f.now):
        st.error(fmt.md(line), icon="📭")
    for inc in open_incidents:
        said = f"Open incident {fmt.md(inc['id'])} since {fmt.fmt_ts(inc.get('start_ts'))}: {fmt.md(inc.get('signature') or inc.get('title') or '')}"
        if inc["id"] in muted:
            st.info(f"{said} · silenced: {fmt.md(muted[inc['id']])}", icon="🔕")
        else:
            st.warning(said)
    if not open_incidents and (resolved := overview.last_resolved(incidents, f.now)) is not None:
        st.info(f"Last incident {fmt.md(resolved['id'])}, resolved {fmt.fmt_ts(resolved['end_ts'])}: "
                f"{fmt.md(resolved.get('signature') or resolved.get('title') or '')}")

    st.dataframe(
        [{
            "target": s.target, "status": s.status.upper(), "since": fmt.fmt_ts(s.since_ts),
            **{f"success {w}": fmt.fmt_pct(s.success[w]["rate"]) for w in overview.WINDOWS},
            "error budget left": fmt.fmt_budget(s.budget_remaining), "revision": s.revision or fmt.DASH,
            "open incident": s.open_incident["id"] if s.open_incident else "",
        } for s in statuses],
        hide_index=True, key="status_table",
    )
    st.caption(fmt.md(data.exclusion(f.targets, since, now)[1]))
    st.subheader("Last run's phases")
    for s in statuses:
        chips = " ".join(f":{BADGE[p['state']]}-badge[{p['phase']} {p['ms']:.0f} ms]" if p["ms"] is not None
                         else f":{BADGE[p['state']]}-badge[{p['phase']} {p['state'].replace('_', ' ')}]" for p in s.strip)
        outcome = s.last_run.outcome + (f" (close {s.last_run.close_code})" if s.last_run.close_code is not None else "")
        st.markdown(f"**{fmt.md(s.target)}** · {fmt.run_time(s.last_run)} · {fmt.code(outcome)}  \n{chips}")

    st.subheader("Runs by outcome over time")
    recent, _ = data.window_runs(f)
    table, bucket_s = failures.outcomes_over_window(recent, hourly, f.since_ts)
    if not table.empty:
        long = table.melt(id_vars="bucket", var_name="outcome", value_name="runs")
        st.plotly_chart(time_bars(long, "runs", bucket_s, f.since_ts, color="outcome", color_discrete_map=fmt.OUTCOME_COLOURS), key="overview_outcomes")
