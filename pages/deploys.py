"""Deploys: the revision timeline and each change's fix-validation verdict with its numbers."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis import deploys
from pages import _shared as ui

STAND_OUT = {"failure_mode_changed": "error", "not_fixed": "error", "regressed": "error", "fixed": "success", "insufficient_data": "info"}

f = ui.page_header("Deploys and fix validation", "A fix is 'fixed' only if the golden path completes after it, not merely if the old error stopped")
if f is not None:
    df, clipped = ui.window_runs(f)
    if clipped:
        st.caption("Verdicts are computed on the last 7 days of runs.")
    stats = deploys.revision_stats(df, ui.manual_deploys())
    if stats:
        timeline = pd.DataFrame([{"revision": ui.short_revision(s.revision), "full revision": s.revision, "start": ui.ts_axis([s.first_seen])[0],
                                  "end": ui.ts_axis([s.last_seen])[0], "runs": s.runs, "success rate": s.success_rate,
                                  "dominant outcome": s.dominant_outcome} for s in stats])
        fig = px.timeline(timeline, x_start="start", x_end="end", y="revision", color="dominant outcome", hover_data=["runs", "success rate"],
                          color_discrete_map=ui.OUTCOME_COLOURS)
        st.plotly_chart(fig, key="dep_timeline")
        st.dataframe(timeline.drop(columns=["start", "end"]).assign(**{"success rate": timeline["success rate"].map(ui.fmt_pct)}),
                     hide_index=True, key="dep_table")

    st.subheader("Verdict for every revision change")
    checks = deploys.fix_validations(df)
    if not checks:
        st.info("No revision change in this window yet.")
    for v in reversed(checks):
        show = getattr(st, STAND_OUT.get(v.verdict, "info"))
        p = "—" if v.p_value is None else f"{v.p_value:.2g}"
        show(f"**{v.verdict}**: {v.from_revision} → {v.to_revision} at {ui.fmt_ts(v.at)} (Fisher p = {p})  \n{v.reason}")
        cols = st.columns(2)
        cols[0].caption("before: " + ", ".join(f"{k} {val}" for k, val in v.before.items()))
        cols[1].caption("after: " + ", ".join(f"{k} {val}" for k, val in v.after.items()))
