"""Impact, for managers: plain language first, then the trend, incidents by cost, the error budget, a download."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from analysis import impact, rollups
from analysis.report import iso
from pages import _shared as ui

f = ui.page_header("Business impact", "Downtime is measured from the probes: the share of failing runs over time")
if f is not None:
    cfg = ui.settings().report
    df, clipped = ui.window_runs(f)
    hourly = ui.hourly(f.targets, f.since_ts, f.revision) if clipped else None
    period = "since the first run" if f.span_s is None else f"in the last {f.range_name}"
    # Up to a day, every run stands for the time to the next one; longer windows use the hourly rollup.
    imp = impact.impact(df, cfg.impact) if hourly is None else impact.impact_from_hourly(hourly, cfg.impact)
    st.markdown(f"### {impact.plain_sentence(imp, period)}")
    cols = st.columns(3)
    for col, fig in zip(cols, imp.figures(), strict=True):
        col.metric(fig.name.replace("_", " ").capitalize(), ui.figure_value(fig))
        col.caption(f"How: {fig.formula}")

    st.subheader("Trend")
    bucket_s = 86400.0 if (f.span_s or 1e12) > 2 * 86400 else 3600.0
    trend = impact.by_period(df, bucket_s, cfg.impact) if hourly is None else impact.hourly_trend(hourly, bucket_s, cfg.impact)
    if not trend.empty:
        trend["time"] = ui.ts_axis(trend["bucket"]).to_numpy()
        st.plotly_chart(ui.add_deploy_markers(px.bar(trend, x="time", y="downtime_minutes", labels={"downtime_minutes": "minutes down"}), f.since_ts),
                        key="imp_trend")

    st.subheader("Incidents by cost")
    costs = []
    for inc in ui.incidents_list():
        end = inc.get("end_ts") if inc.get("end_ts") is not None else f.now
        if end < (f.since_ts or 0):
            continue
        runs = ui.runs(tuple(inc.get("targets") or ()) or f.targets, ui._bucket(float(inc["start_ts"])), until_ts=ui._bucket(end + 10))
        runs = runs[(runs["started_ts"] >= inc["start_ts"]) & (runs["started_ts"] <= end)]
        if inc.get("targets"):
            runs = runs[runs["target"].isin(inc["targets"])]
        i_imp = impact.impact(runs, cfg.impact)
        costs.append({"id": inc["id"], "start": iso(inc["start_ts"]), "status": inc.get("status"), "downtime_minutes": i_imp.downtime_minutes.value,
                      "revenue_at_risk": i_imp.revenue_at_risk.value, "signature": inc.get("signature") or inc.get("title")})
    costs.sort(key=lambda c: -float(c["revenue_at_risk"]))
    if costs:
        st.dataframe(costs, hide_index=True, key="imp_incidents")
    else:
        st.caption("No incident in this window.")

    st.subheader("Error budget")
    slo = cfg.slo
    budget = rollups.slo_budget(ui.hourly(f.targets, ui._bucket(f.now - slo.window_s, 60.0)), slo.objective)
    if budget["budget_remaining"] is not None:
        b1, b2 = st.columns(2)
        b1.metric("Error budget left", ui.fmt_budget(budget["budget_remaining"]))
        b2.metric(f"Runs completing within {slo.threshold_s:g} s", ui.fmt_pct(budget["compliance"]))
        st.caption(f"SLO: {slo.objective:.2%} of runs complete the golden path within {slo.threshold_s:g} s over {slo.window_s / 86400:g} days. "
                   f"Budget left = 1 - (1 - compliance) / (1 - objective) = 1 - (1 - {budget['compliance']:.4f}) / {1 - slo.objective:.4f}.")

    st.subheader("Download")
    md = impact.report_markdown(period, imp, costs, budget)
    d1, d2 = st.columns(2)
    d1.download_button("Report (Markdown)", md, file_name="pathwatch-impact.md", mime="text/markdown", key="imp_md")
    d2.download_button("Trend (CSV)", trend.drop(columns=["time"], errors="ignore").to_csv(index=False), file_name="pathwatch-impact.csv",
                       mime="text/csv", key="imp_csv")
