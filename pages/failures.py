"""Failures: outcomes and close codes over time, signatures ranked, time to failure, failed phases."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis import failures, rollups, signatures
from pages import _shared as ui

f = ui.page_header("Failures", "What failed, how, and how long after start_agent")
if f is not None:
    hourly = ui.hourly(f.targets, f.since_ts, f.revision)
    rate = rollups.success(hourly)
    c1, c2, c3 = st.columns(3)
    c1.metric("Runs", f"{rate['runs']:,}")
    c2.metric("Success rate", ui.fmt_pct(rate["rate"]), help=f"Wilson 95 % interval {ui.fmt_pct(rate['low'])} to {ui.fmt_pct(rate['high'])}")
    c3.metric("Failed runs", f"{rate['runs'] - rate['successes']:,}")

    st.subheader("Outcomes over time")
    recent, clipped_all = ui.window_runs(f)
    if not recent.empty and not clipped_all:
        bucket_s = failures.auto_bucket(recent["started_ts"].min(), recent["started_ts"].max())
        table = failures.over_time(recent, bucket_s)
    else:
        bucket_s, table = 3600.0, rollups.outcomes_over_time(hourly)
    if not table.empty:
        long = table.melt(id_vars="bucket", var_name="outcome", value_name="runs")
        long["time"] = ui.ts_axis(long["bucket"]).to_numpy()
        st.plotly_chart(ui.add_deploy_markers(px.bar(long, x="time", y="runs", color="outcome", color_discrete_map=ui.OUTCOME_COLOURS), f.since_ts),
                        key="fail_outcomes")

    failed, clipped = ui.window_runs(f, failed_only=True)
    if failed.empty:
        st.success("No failed runs in this window.")
    else:
        if clipped:
            st.caption("Signatures and time to failure cover the last 7 days of the window.")
        st.subheader("Close codes over time")
        codes = failed[failed["close_code"].notna()]
        if not codes.empty:
            per = failures.over_time(codes, bucket_s, "close_code").melt(id_vars="bucket", var_name="close code", value_name="runs")
            per["time"] = ui.ts_axis(per["bucket"])
            st.plotly_chart(ui.add_deploy_markers(px.bar(per, x="time", y="runs", color="close code"), f.since_ts), key="fail_codes")

        st.subheader("Failure signatures, most frequent first")
        sigs = signatures.group_failures(failed)
        for s in sigs[:10]:
            st.markdown(f"- **{s.count}** × {ui.md(signatures.sentence(s))}")
        st.dataframe(pd.DataFrame([{k: v for k, v in s.to_dict().items() if k not in ("description", "revisions")} for s in sigs]),
                     hide_index=True, key="fail_sigs")

        st.subheader("Time to failure after start_agent")
        ttf = failed["ms_after_start_agent"].dropna() / 1000.0
        if not ttf.empty:
            stats = failures.time_to_failure(failed)
            st.caption(f"median {stats['p50'] / 1000:.1f} s, p95 {stats['p95'] / 1000:.1f} s over {stats['count']} failures after start_agent")
            hist = failed.assign(seconds=failed["ms_after_start_agent"] / 1000.0).dropna(subset=["seconds"])
            st.plotly_chart(px.histogram(hist, x="seconds", color="outcome", nbins=60, labels={"seconds": "seconds after start_agent"},
                                         color_discrete_map=ui.OUTCOME_COLOURS), key="fail_ttf")
        st.subheader("Failed phase")
        by_phase = failures.counts(failed, "failed_phase")
        st.plotly_chart(px.bar(x=list(by_phase), y=list(by_phase.values()), labels={"x": "failed phase", "y": "runs"}), key="fail_phase")
