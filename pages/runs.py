"""Runs: a filterable table, and one run's detail: events, close, messages (redacted), server logs around it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import server_logs
from pages import _shared as ui
from probes.outcomes import Outcome
from probes.phases import PHASES
from probes.redact import known_secrets

MAX_ROWS = 2000
MAX_DETAIL = 300

f = ui.page_header("Runs", "Every probe run, newest first; pick one to see what happened")
if f is not None:
    c1, c2, c3 = st.columns(3)
    outcomes = c1.multiselect("Outcome", [o.value for o in Outcome], key="runs_outcome", placeholder="any outcome")
    phase = c2.selectbox("Failed phase", ["(any)", *PHASES], key="runs_phase")
    failed_only = c3.toggle("Failures only", key="runs_failed")
    df = ui.runs(f.targets, ui._bucket(f.since_ts), f.revision, failed_only or bool(outcomes and "ok" not in outcomes), MAX_ROWS)
    if outcomes:
        df = df[df["outcome"].isin(outcomes)]
    if phase != "(any)":
        df = df[df["failed_phase"] == phase]
    table = df.iloc[::-1][["run_id", "started_ts", "target", "outcome", "revision", "failed_phase", "close_code", "total_ms"]].copy()
    table["time"] = ui.ts_axis(table["started_ts"]).to_numpy()
    table = table.drop(columns=["started_ts"])[["time", "target", "outcome", "revision", "failed_phase", "close_code", "total_ms", "run_id"]]
    st.caption(f"{len(table):,} runs shown (at most the newest {MAX_ROWS:,} of the window)")
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row", key="runs_table")
    rows = picked.selection.rows if picked is not None else []
    run_id = table.iloc[rows[0]]["run_id"] if rows else st.query_params.get("run")
    if run_id is None and not table.empty:
        run_id = table.iloc[0]["run_id"]
    run = ui.run_detail(str(run_id)) if run_id else None
    if run is not None:
        st.divider()
        st.subheader(f"Run {ui.md(run.run_id)}")
        st.markdown(f"**{ui.md(run.outcome)}** on {ui.code(run.target)} at {ui.md(run.started_at)} · revision {ui.code(run.revision or 'unknown')}"
                    + (f" → {ui.code(run.revision_after)}" if run.revision_after else ""))
        if run.close_code is not None:
            st.markdown(f"Closed with **{run.close_code}** {ui.md(run.close_reason or '')}".rstrip())
        if run.failed_phase:
            st.markdown(f"Failed in phase **{ui.md(run.failed_phase)}**")
        if run.error:
            st.code(ui.shown(run.error, MAX_DETAIL * 4), language=None)
        events = pd.DataFrame([{"ms since start": e.elapsed_ms, "event": ui.shown(e.type, 100),
                                "message (redacted, truncated)": ui.shown(e.detail or "", MAX_DETAIL)} for e in run.events])
        st.dataframe(events, hide_index=True, key="run_events")
        logs = ui.server_logs_for(run)
        st.subheader("Server log lines around this run")
        if logs is None:
            st.caption("No server log source configured (set PATHWATCH_SERVER_LOG to the sandbox's log file, or use Cloud Logging).")
        elif not logs:
            st.caption("No server errors logged around this run.")
        else:
            for row in logs:
                st.markdown(f"**{ui.md(row['severity'])}** {ui.fmt_ts(row['ts'])} · revision {ui.code(row.get('revision') or '?')} · "
                            f"{ui.md(row['signature'] or '')}")
                st.code(ui.shown(server_logs.entry_text(row["entry"], known_secrets()), 4000), language=None)
