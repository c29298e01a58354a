"""Runs: a filterable table, and one run's detail: events, close, messages (redacted), server logs around it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.traces import trace_url
from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header
from probes.outcomes import Outcome
from probes.phases import PHASES

MAX_ROWS = 2000
MAX_DETAIL = 300
SHOWN = ["time", "target", "outcome", "revision", "failed_phase", "close_code", "total_ms", "run_id"]

f = page_header("Runs", "Every probe run, newest first; pick one to see what happened")
if f is not None:
    c1, c2, c3 = st.columns(3)
    outcomes = c1.multiselect("Outcome", [o.value for o in Outcome], key="runs_outcome", placeholder="any outcome")
    phase = c2.selectbox("Failed phase", ["(any)", *PHASES], key="runs_phase")
    failed_only = c3.toggle("Failures only", key="runs_failed")
    df = data.newest_runs(f.targets, data.bucket(f.since_ts), f.revision, failed_only or bool(outcomes and "ok" not in outcomes),
                          tuple(outcomes), None if phase == "(any)" else phase, MAX_ROWS)
    newest = df.iloc[::-1]
    table = newest.assign(time=fmt.ts_axis(newest["started_ts"]).to_numpy(), failed_phase=newest["failed_phase"].map(fmt.or_dash),
                          close_code=newest["close_code"].map(lambda c: fmt.DASH if pd.isna(c) else str(c)))[SHOWN]
    st.caption(f"{len(table):,} runs shown (at most the newest {MAX_ROWS:,} of the window that match)")
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="runs_table")
    rows = picked.selection.rows if picked is not None else []
    run_id = table.iloc[rows[0]]["run_id"] if rows else st.query_params.get("run")
    if run_id is None and not table.empty:
        run_id = table.iloc[0]["run_id"]
    run = data.run_detail(str(run_id)) if run_id else None
    if run is not None:
        st.divider()
        st.subheader(f"Run {fmt.md(run.run_id)}")
        st.markdown(f"**{fmt.md(run.outcome)}** on {fmt.code(run.target)} at {fmt.run_time(run)} · revision {fmt.code(run.revision or 'unknown')}"
                    + (f" → {fmt.code(run.revision_after)}" if run.revision_after else ""))
        if run.trace_id:
            st.markdown("Trace " + fmt.trace_link(trace_url(data.settings().otel.trace_url, run.trace_id), run.trace_id))
        if run.close_code is not None:
            st.markdown(f"Closed with **{run.close_code}** {fmt.md(run.close_reason or '')}".rstrip())
        if run.failed_phase:
            st.markdown(f"Failed in phase **{fmt.md(run.failed_phase)}**")
        if run.error:
            st.code(fmt.shown(run.error, MAX_DETAIL * 4), language=None)
        events = pd.DataFrame([{"ms since start": e.elapsed_ms, "event": fmt.shown(e.type, 100),
                                "message (redacted, truncated)": fmt.shown(e.detail or "", MAX_DETAIL)} for e in run.events])
        st.dataframe(events, hide_index=True, key="run_events")
        logs = data.server_logs_for(run)
        st.subheader("Server log lines around this run")
        if logs is None:
            st.caption("No server log source configured (set PATHWATCH_SERVER_LOG to the sandbox's log file, or use Cloud Logging).")
        elif not logs:
            st.caption("No server errors logged around this run.")
        else:
            for row in logs:
                st.markdown(f"**{fmt.md(row['severity'])}** {fmt.fmt_ts(row['ts'])} · revision {fmt.code(row.get('revision') or '?')} · "
                            f"{fmt.code(row['signature']) if row['signature'] else ''}")
                st.code(fmt.log_text(row["entry"]), language=None)
