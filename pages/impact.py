"""Impact, for managers: plain language first, then the trend, incidents by cost, the error budget, a download."""

from __future__ import annotations

import streamlit as st

from analysis import impact, incidents, rollups, silences
from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header, time_bars

f = page_header("Business impact", "Downtime is measured from the probes: the share of failing runs over time")
if f is not None:
    cfg = data.settings().report
    df, clipped = data.window_runs(f)
    now = data.bucket(f.now) or f.now
    spans, excluded = data.exclusion(f.targets, data.bucket(f.since_ts, 60.0), now)
    df = silences.without_silenced(df, spans)
    hourly = (data.budget_hourly(f.targets, f.since_ts, now) if f.revision is None else data.hourly(f.targets, f.since_ts, f.revision)) if clipped else None
    period = "since the first run" if f.span_s is None else f"in the last {f.range_name}"
    # Up to a day, every run stands for the time to the next one; longer windows use the hourly rollup.
    imp = impact.impact(df, cfg.impact) if hourly is None else impact.impact_from_hourly(hourly, cfg.impact)
    st.markdown(f"### {impact.plain_sentence(imp, period)}")
    st.caption(fmt.md(excluded))
    for col, fig in zip(st.columns(3), imp.figures(), strict=True):
        col.metric(fig.name.replace("_", " ").capitalize(), fmt.figure_value(fig))
        col.caption(f"How: {fig.formula}")

    st.subheader("Trend")
    trend, bucket_s = impact.trend(df, hourly, cfg.impact)
    if not trend.empty:
        st.plotly_chart(time_bars(trend, "downtime_minutes", bucket_s, f.since_ts, labels={"downtime_minutes": "minutes down"}), key="imp_trend")
        st.caption(f"Minutes down per {impact.human_duration(bucket_s / 60.0)}, from {fmt.fmt_ts(trend['bucket'].min())} "
                   f"to {fmt.fmt_ts(trend['bucket'].max() + bucket_s)}.")

    st.subheader("Incidents by cost")
    shown = impact.incidents_in_window(data.incidents_list(), f.since_ts, f.now)
    costs = impact.incident_costs(shown, {str(i["id"]): silences.without_silenced(incidents.runs_during(data.incident_runs(i, f.targets, f.now), i, f.now),
                                                                                spans) for i in shown},
                                  cfg.impact)
    if costs:
        st.dataframe([{"incident": c["id"], "start": fmt.fmt_ts(c["start_ts"]), "status": c["status"],  # type: ignore[arg-type]
                       "downtime": impact.human_duration(float(c["downtime_minutes"])),  # type: ignore[arg-type]
                       "revenue at risk": f"{cfg.impact.currency}{float(c['revenue_at_risk']):,.2f}",  # type: ignore[arg-type]
                       "signature": fmt.shown(c["signature"] or "", 300)} for c in costs], hide_index=True, key="imp_incidents")
    else:
        st.caption("No incident in this window.")

    st.subheader("Error budget")
    slo = cfg.slo
    budget = rollups.slo_budget(data.budget_hourly(f.targets, data.bucket(f.now - slo.window_s, 60.0), now), slo.objective)
    if budget["budget_remaining"] is not None:
        b1, b2 = st.columns(2)
        b1.metric("Error budget left", fmt.fmt_budget(budget["budget_remaining"]))
        b2.metric(f"Runs completing within {slo.threshold_s:g} s", fmt.fmt_pct(budget["compliance"]))
        st.caption(f"SLO: {slo.objective:.2%} of runs complete the golden path within {slo.threshold_s:g} s over {slo.window_s / 86400:g} days. "
                   f"Budget left = 1 - (1 - compliance) / (1 - objective) = 1 - (1 - {budget['compliance']:.4f}) / {1 - slo.objective:.4f}.")

    st.subheader("Download")
    report = impact.report_markdown(period, imp, [{**c, "start": fmt.fmt_ts(c["start_ts"])} for c in costs], budget)  # type: ignore[arg-type]
    d1, d2 = st.columns(2)
    d1.download_button("Report (Markdown)", report, file_name="pathwatch-impact.md", mime="text/markdown", key="imp_md")
    d2.download_button("Trend (CSV)", trend.to_csv(index=False), file_name="pathwatch-impact.csv", mime="text/csv", key="imp_csv")
