"""Deploys: the revision timeline and each change's fix-validation verdict with its numbers (from the hourly rollup:
exact counts over any window)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis import deploys, rollups
from pages import _shared as ui

STAND_OUT = {"failure_mode_changed": "error", "not_fixed": "error", "regressed": "error", "fixed": "success", "insufficient_data": "info"}

f = ui.page_header("Deploys and fix validation", "A fix is 'fixed' only if the golden path completes after it, not merely if the old error stopped")
if f is not None:
    hourly = ui.hourly(f.targets, f.since_ts)
    first_seen = dict(ui.deploy_markers())
    sides = rollups.revision_sides(hourly, first_seen)
    table = rollups.revision_table(hourly)
    if not table.empty:
        last_seen = table.set_index("revision")["last_hour"] + 3600
        timeline = pd.DataFrame([{
            "revision": ui.short_revision(rev), "full revision": rev, "start": ui.ts_axis([ts])[0], "end": ui.ts_axis([max(float(last_seen[rev]), ts)])[0],
            "runs": c.runs, "success rate": 1 - c.failures / c.runs if c.runs else None,
            "dominant failure": c.dominant_mode or "none",
        } for rev, ts, c in sides])
        labels = timeline.assign(**{c: ui.plot_labels(timeline[c]) for c in ("revision", "full revision", "dominant failure")})
        fig = px.timeline(labels, x_start="start", x_end="end", y="revision", color="dominant failure", hover_data=["full revision", "runs", "success rate"])
        fig.update_yaxes(autorange="reversed")
        st.plotly_chart(fig, key="dep_timeline")
        st.dataframe(timeline.drop(columns=["start", "end"]).assign(**{"success rate": timeline["success rate"].map(ui.fmt_pct)}),
                     hide_index=True, key="dep_table")

    st.subheader("Verdict for every revision change")
    checks = deploys.fix_validations_from_counts(sides)
    if not checks:
        st.info("No revision change in this window yet.")
    for v in reversed(checks):
        show = getattr(st, STAND_OUT.get(v.verdict, "info"))
        p = "—" if v.p_value is None else f"{v.p_value:.2g}"
        show(f"**{v.verdict}**: {ui.md(v.from_revision or '?')} → {ui.md(v.to_revision or '?')} at {ui.fmt_ts(v.at)} "
             f"(Fisher p = {p})  \n{ui.md(v.reason)}")
        cols = st.columns(2)
        cols[0].caption("before: " + ui.md(", ".join(f"{k} {val}" for k, val in v.before.items())))
        cols[1].caption("after: " + ui.md(", ".join(f"{k} {val}" for k, val in v.after.items())))

    st.subheader("Deploys entered by hand")
    entries = ui.deploy_entries()
    if entries:
        st.dataframe([{"revision": d["revision"], "at": ui.fmt_ts(d["at_ts"]), "note": d["note"]} for d in reversed(entries)],
                     hide_index=True, key="dep_manual")
    else:
        st.caption("None. Revision changes are found from the runs; record one the probes cannot see with "
                   "`python -m analysis deploys add --revision NAME --at 2026-11-25T10:00:00Z --note 'what changed'`.")
