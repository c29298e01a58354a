"""Deploys: the revision timeline and each change's fix-validation verdict with its numbers (from the hourly rollup:
exact counts over any window)."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from analysis import deploys, rollups
from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header

STAND_OUT = {"failure_mode_changed": "error", "not_fixed": "error", "regressed": "error", "fixed": "success", "insufficient_data": "info"}

f = page_header("Deploys and fix validation", "A fix is 'fixed' only if the golden path completes after it, not merely if the old error stopped")
if f is not None:
    sides = rollups.revision_sides(data.hourly(f.targets, f.since_ts), dict(data.deploy_markers()))
    timeline = deploys.timeline(sides, f.now)
    if not timeline.empty:
        # Each revision's bar runs from its first run to the next revision's first run (the last one: to now).
        short = timeline["revision"].map(fmt.short_revision)
        bars = timeline.assign(
            label=fmt.plot_labels(short if short.is_unique else timeline["revision"]), revision=fmt.plot_labels(timeline["revision"]),
            start=fmt.ts_axis(timeline["start_ts"]).to_numpy(), end=fmt.ts_axis(timeline["end_ts"]).to_numpy(),
            dominant_failure=fmt.plot_labels(timeline["dominant_failure"].fillna("none")), success=timeline["success_rate"].map(fmt.fmt_pct),
        )
        fig = px.timeline(bars, x_start="start", x_end="end", y="label", color="dominant_failure", hover_data=["revision", "runs", "success"],
                          category_orders={"label": list(dict.fromkeys(bars["label"]))}, labels={"label": "revision", "dominant_failure": "dominant failure"})
        st.plotly_chart(fig, key="dep_timeline")
        st.dataframe(timeline.assign(**{"first seen": timeline["start_ts"].map(fmt.fmt_ts), "success rate": timeline["success_rate"].map(fmt.fmt_pct),
                                        "dominant failure": timeline["dominant_failure"].map(fmt.or_dash)})
                     [["revision", "first seen", "runs", "failures", "success rate", "dominant failure"]], hide_index=True, key="dep_table")

    st.subheader("Verdict for every revision change")
    checks = deploys.fix_validations_from_counts(sides)
    if not checks:
        st.info("No revision change in this window yet.")
    for v in reversed(checks):
        show = getattr(st, STAND_OUT.get(v.verdict, "info"))
        show(f"**{v.verdict}**: {fmt.code(v.from_revision or '?')} → {fmt.code(v.to_revision or '?')} at {fmt.fmt_ts(v.at)} "
             f"(Fisher p = {fmt.fmt_p(v.p_value)})  \n{fmt.md(v.reason)}")
        cols = st.columns(2)
        cols[0].caption("before: " + fmt.md(fmt.side(v.before)))
        cols[1].caption("after: " + fmt.md(fmt.side(v.after)))

    st.subheader("Deploys entered by hand")
    entries = data.deploy_entries()
    if entries:
        st.dataframe([{"revision": fmt.shown(d["revision"], 200), "at": fmt.fmt_ts(d["at_ts"]), "note": fmt.shown(d["note"] or "", 500)}
                      for d in reversed(entries)], hide_index=True, key="dep_manual")
    else:
        st.caption("None. Revision changes are found from the runs; record one the probes cannot see with "
                   "`python -m analysis deploys add --revision NAME --at 2026-11-25T10:00:00Z --note 'what changed'`.")
