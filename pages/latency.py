"""Latency: per-phase percentiles over time, distributions, comparison by revision, one run's waterfall."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis import latency, rollups
from analysis.frame import PHASE_COLS
from pages import _shared as ui
from probes.phases import PHASES

f = ui.page_header("Latency per phase", "Percentiles in ms; phases never reached are left out, never counted as 0")
if f is not None:
    df, clipped = ui.window_runs(f)
    phase = st.selectbox("Phase", PHASES, index=PHASES.index("agent_thinking"), key="lat_phase")
    long_window = clipped or df.empty
    if not long_window:
        span = f.span_s or 86400.0
        bucket_s = max(60.0, span / 60)
        per_bucket = latency.bucketed(df, bucket_s)
        series = per_bucket[per_bucket["phase"] == phase]
        st.subheader(f"{phase}: p50 / p95 / p99 over time")
        long = series.melt(id_vars=["bucket"], value_vars=["p50", "p95", "p99"], var_name="percentile", value_name="ms")
        long["time"] = ui.ts_axis(long["bucket"])
        fig = px.line(long, x="time", y="ms", color="percentile", markers=True)
        st.plotly_chart(ui.add_deploy_markers(fig, f.since_ts), key="lat_over_time")
    else:
        hist = ui.phase_hist(f.targets, f.since_ts, f.revision)
        daily = rollups.phase_percentiles(hist, by=["day_ts"])
        series = daily[daily["phase"] == phase]
        st.subheader(f"{phase}: daily p50 / p95 / p99 (from the daily histograms, within about 9 %)")
        long = series.melt(id_vars=["day_ts"], value_vars=["p50", "p95", "p99"], var_name="percentile", value_name="ms")
        long["time"] = ui.ts_axis(long["day_ts"])
        fig = px.line(long, x="time", y="ms", color="percentile", markers=True)
        st.plotly_chart(ui.add_deploy_markers(fig, f.since_ts), key="lat_over_time")

    st.subheader("Percentiles per phase")
    if not long_window:
        table = latency.phase_percentiles(df)
    else:
        table = rollups.phase_percentiles(ui.phase_hist(f.targets, f.since_ts, f.revision))
    st.dataframe(table.round(1), hide_index=True, key="lat_table")

    st.subheader("Distribution per phase")
    if not long_window:
        cols = [c for c in PHASE_COLS.values() if df[c].notna().any()]
        dist = df[cols].melt(var_name="phase", value_name="ms").dropna()
        dist["phase"] = dist["phase"].str.removeprefix("ms_")
        st.plotly_chart(px.box(dist, x="phase", y="ms", points=False, log_y=True), key="lat_box")
    else:
        bins = rollups.histogram(ui.phase_hist(f.targets, f.since_ts, f.revision), phase)
        st.caption(f"{phase}: runs per latency bin (bins about 9 % wide), from the daily histograms")
        st.plotly_chart(px.bar(bins, x="lower_ms", y="n", log_x=True, labels={"lower_ms": "ms", "n": "runs"}), key="lat_box")

    st.subheader("By revision")
    by_rev = rollups.phase_percentiles(ui.phase_hist(f.targets, f.since_ts, f.revision), by=["revision"])
    by_rev = by_rev[by_rev["phase"] == phase]
    if not by_rev.empty:
        by_rev = by_rev.assign(revision=ui.plot_labels(by_rev["revision"].map(ui.short_revision)))
        st.plotly_chart(px.bar(by_rev, x="revision", y=["p50", "p95", "p99"], barmode="group", labels={"value": "ms"}), key="lat_by_rev")

    st.subheader("One run's waterfall")
    options = ui.recent_ok_runs(f.targets, f.revision)
    wanted = st.query_params.get("run")
    if options:
        run_id = st.selectbox("Run (latest successful first)", options, index=options.index(wanted) if wanted in options else 0, key="lat_run")
        run = ui.run_detail(run_id)
        if run is not None:
            bars = pd.DataFrame(latency.waterfall(run.phases_ms, run.elapsed_ms))
            bars["duration"] = bars["end_ms"] - bars["start_ms"]
            fig = px.bar(bars, y="phase", x="duration", base="start_ms", orientation="h", labels={"duration": "ms since the run began"},
                         hover_data={"ms": ":.1f"})
            fig.update_yaxes(autorange="reversed")
            st.plotly_chart(fig, key="lat_waterfall")
