"""Latency: per-phase percentiles over time, distributions, comparison by revision, one run's waterfall."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from analysis import latency, rollups
from pages import _data as data
from pages import _format as fmt
from pages._layout import add_deploy_markers, page_header
from probes.phases import PHASES

f = page_header("Latency per phase", "Percentiles in ms; phases never reached are left out, never counted as 0")
if f is not None:
    df, clipped = data.window_runs(f)
    phase = st.selectbox("Phase", PHASES, index=PHASES.index("agent_thinking"), key="lat_phase")
    long_window = clipped or df.empty
    hist = data.phase_hist(f.targets, f.since_ts, f.revision)
    if not long_window:
        bucket_s = latency.bucket_for(float(df["started_ts"].min()), float(df["started_ts"].max()))
        series, time_col = latency.bucketed(df, bucket_s), "bucket"
        st.subheader(f"{phase}: p50 / p95 / p99 over time")
    else:
        series, time_col = rollups.phase_percentiles(hist, by=["day_ts"]), "day_ts"
        st.subheader(f"{phase}: daily p50 / p95 / p99 (from the daily histograms, within about 9 %)")
    series = series[series["phase"] == phase]
    long = series.melt(id_vars=[time_col], value_vars=["p50", "p95", "p99"], var_name="percentile", value_name="ms")
    long["time"] = fmt.ts_axis(long[time_col]).to_numpy()
    fig = px.line(long, x="time", y="ms", color="percentile", markers=True)
    st.plotly_chart(add_deploy_markers(fig, f.since_ts), key="lat_over_time")

    st.subheader("Percentiles per phase")
    table = latency.phase_percentiles(df) if not long_window else rollups.phase_percentiles(hist)
    st.dataframe(table.round(1), hide_index=True, key="lat_table")

    st.subheader("Distribution per phase")
    if not long_window:
        st.plotly_chart(px.box(latency.distribution(df), x="phase", y="ms", points=False, log_y=True), key="lat_box")
    else:
        st.caption(f"{phase}: runs per latency bin (bins about 9 % wide), from the daily histograms")
        bins = rollups.histogram(hist, phase)
        st.plotly_chart(px.bar(bins, x="lower_ms", y="n", log_x=True, labels={"lower_ms": "ms", "n": "runs"}), key="lat_box")

    st.subheader("By revision")
    by_rev = rollups.phase_percentiles(hist, by=["revision"])
    by_rev = by_rev[by_rev["phase"] == phase]
    if not by_rev.empty:
        by_rev = by_rev.assign(revision=fmt.plot_labels(by_rev["revision"].map(fmt.short_revision)))
        st.plotly_chart(px.bar(by_rev, x="revision", y=["p50", "p95", "p99"], barmode="group", labels={"value": "ms"}), key="lat_by_rev")

    st.subheader("One run's waterfall")
    options = data.recent_ok_runs(f.targets, f.revision)
    wanted = st.query_params.get("run")
    if options:
        run_id = st.selectbox("Run (latest successful first)", options, index=options.index(wanted) if wanted in options else 0, key="lat_run")
        run = data.run_detail(run_id)
        if run is not None:
            bars = latency.waterfall_frame(run.phases_ms, run.elapsed_ms)
            fig = px.bar(bars, y="phase", x="duration", base="start_ms", orientation="h", labels={"duration": "ms since the run began"},
                         hover_data={"ms": ":.1f"})
            fig.update_yaxes(autorange="reversed")
            st.plotly_chart(fig, key="lat_waterfall")
