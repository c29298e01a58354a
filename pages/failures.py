"""Failures: outcomes and close codes over time, signatures ranked (with the server's own), time to failure, failed phases."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from analysis import failures, rollups, signatures
from analysis.traces import signature_examples, trace_url
from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header, time_bars

f = page_header("Failures", "What failed, how, and how long after start_agent")
if f is not None:
    hourly = data.hourly(f.targets, f.since_ts, f.revision)
    rate = rollups.success(hourly)
    c1, c2, c3 = st.columns(3)
    c1.metric("Runs", f"{rate['runs']:,}")
    c2.metric("Success rate", fmt.fmt_pct(rate["rate"]), help=f"Wilson 95 % interval {fmt.fmt_pct(rate['low'])} to {fmt.fmt_pct(rate['high'])}")
    c3.metric("Failed runs", f"{rate['runs'] - rate['successes']:,}")

    st.subheader("Outcomes over time")
    recent, _ = data.window_runs(f)
    table, bucket_s = failures.outcomes_over_window(recent, hourly, f.since_ts)
    if not table.empty:
        long = table.melt(id_vars="bucket", var_name="outcome", value_name="runs")
        st.plotly_chart(time_bars(long, "runs", bucket_s, f.since_ts, color="outcome", color_discrete_map=fmt.OUTCOME_COLOURS), key="fail_outcomes")

    failed, clipped = data.window_runs(f, failed_only=True)
    if failed.empty:
        st.success("No failed runs in this window.")
    else:
        if clipped:
            st.caption("Signatures and time to failure cover the last 7 days of the window.")
        st.subheader("Close codes over time")
        codes = failed[failed["close_code"].notna()]
        if not codes.empty:
            per = failures.over_time(codes, bucket_s, "close_code").melt(id_vars="bucket", var_name="close code", value_name="runs")
            st.plotly_chart(time_bars(per, "runs", bucket_s, f.since_ts, color="close code"), key="fail_codes")

        st.subheader("Failure signatures, most frequent first")
        server = data.server_signatures(float(failed["started_ts"].min()), float(failed["started_ts"].max()))
        sigs = signatures.group_failures(failed, server)
        template = data.settings().otel.trace_url
        for s in sigs[:10]:
            example = next((r for rid in signature_examples(failed, s, server, limit=1) if (r := data.run_detail(rid)) and r.trace_id), None)
            seen = f" · e.g. trace {fmt.trace_link(trace_url(template, example.trace_id), example.trace_id)}" if example else ""
            st.markdown(f"- **{s.count}** × {fmt.md(signatures.sentence(s))}{seen}")
        st.dataframe(fmt.signature_table(sigs), hide_index=True, key="fail_sigs")

        st.subheader("Time to failure after start_agent")
        ttf = failures.ttf_seconds(failed)
        if not ttf.empty:
            stats = failures.time_to_failure(failed)
            st.caption(f"median {stats['p50'] / 1000:.1f} s, p95 {stats['p95'] / 1000:.1f} s over {stats['count']} failures after start_agent")
            st.plotly_chart(px.histogram(ttf, x="seconds", color="outcome", nbins=60, labels={"seconds": "seconds after start_agent"},
                                         color_discrete_map=fmt.OUTCOME_COLOURS), key="fail_ttf")
        st.subheader("Failed phase")
        by_phase = failures.counts(failed, "failed_phase")
        st.plotly_chart(px.bar(x=list(by_phase), y=list(by_phase.values()), labels={"x": "failed phase", "y": "runs"}), key="fail_phase")
