"""Incidents: the list; one incident's timeline, signature, evidence, impact, server errors, GitHub link and five whys."""

from __future__ import annotations

from urllib.parse import quote

import plotly.express as px
import streamlit as st

from analysis import deploys, impact, incidents, signatures
from analysis.traces import trace_url
from pages import _data as data
from pages import _format as fmt
from pages._five_whys import five_whys_section
from pages._incident import github_section, policy_section, server_errors_section
from pages._layout import add_deploy_markers, page_header

#: The timeline shows this long before and after the incident.
MARGIN_S = 600.0

f = page_header("Incidents", "Opened after K failed runs in a row, closed after M clean runs; manual incidents too")
if f is not None:
    cfg = data.settings().report
    listed = data.incidents_list()
    if not listed:
        st.success("No incidents recorded. Detection runs with `python -m analysis incidents detect` (the demo runs it every few seconds).")
        st.stop()
    muted, held = data.incident_policy(f.now)
    rows = [{"id": i["id"], "status": "superseded" if i.get("superseded") else i.get("status"),
             "paging": "silenced" if i["id"] in muted else "held" if i["id"] in held else "", "start": fmt.fmt_ts(i.get("start_ts")),
             "end": fmt.fmt_ts(i.get("end_ts")), "targets": ", ".join(i.get("targets") or []), "signature": i.get("signature") or i.get("title") or "",
             "failed runs": i.get("failed_runs")} for i in reversed(listed)]
    st.dataframe(rows, hide_index=True, key="inc_table")
    ids = [r["id"] for r in rows]
    wanted = st.query_params.get("incident")
    inc_id = st.selectbox("Incident", ids, index=ids.index(wanted) if wanted in ids else 0, key="inc_pick")
    inc = next(i for i in listed if i["id"] == inc_id)

    st.header(f"{fmt.md(inc_id)} · {fmt.md(inc.get('status'))}" + (" · silenced" if inc_id in muted else ""))
    policy_section(str(inc_id), muted, held)
    st.markdown(f"**Signature:** {fmt.md(inc.get('signature') or inc.get('title') or 'manual incident')}")
    st.markdown(f"From **{fmt.fmt_ts(inc.get('start_ts'))}** to **{fmt.fmt_ts(inc.get('end_ts')) if inc.get('end_ts') else 'now (open)'}** · "
                f"revisions: {fmt.codes(inc.get('revisions') or [])}")

    start, end = incidents.span(inc, f.now)
    df = data.incident_runs(inc, f.targets, f.now, MARGIN_S)
    during = incidents.runs_during(df, inc, f.now)

    st.subheader("Timeline")
    if not df.empty:
        points = df.assign(time=fmt.ts_axis(df["started_ts"]).to_numpy(), target=fmt.plot_labels(df["target"]),
                           revision=fmt.plot_labels(df["revision"]))  # run ids are ours (synced ones are checked): plain
        fig = px.scatter(points, x="time", y="target", color="outcome", hover_data=["run_id", "revision", "close_code"],
                         color_discrete_map=fmt.OUTCOME_COLOURS)
        st.plotly_chart(add_deploy_markers(fig, start - MARGIN_S, end + MARGIN_S), key="inc_timeline")

    imp = impact.impact(during, cfg.impact)
    st.subheader("Impact")
    for col, fig_ in zip(st.columns(3), imp.figures(), strict=True):
        col.metric(fig_.name.replace("_", " ").capitalize(), fmt.figure_value(fig_))
        col.caption(fig_.formula)

    st.subheader("Evidence")
    sigs = signatures.group_failures(during)
    for s in sigs[:3]:
        st.markdown(f"- {fmt.md(signatures.sentence(s))}")
    template = data.settings().otel.trace_url
    for run_id in inc.get("evidence_runs") or []:
        run = data.run_detail(str(run_id))  # its trace: the backend's own spans hang under it in the tracing UI
        traced = f" · trace {fmt.trace_link(trace_url(template, run.trace_id), run.trace_id)}" if run is not None and run.trace_id else ""
        st.markdown(f"- run [{fmt.code(run_id)}](./runs?run={quote(str(run_id), safe='')}){traced}")
    checks = [v for v in deploys.fix_validations(df) if v.verdict != "insufficient_data"]
    for v in checks:
        st.markdown(f"- deploy {fmt.code(v.from_revision)} → {fmt.code(v.to_revision)}: **{v.verdict}** ({fmt.md(v.reason)})")

    st.subheader("What the server said")
    server_errors_section(inc, f.now)
    st.subheader("GitHub")
    github_section(str(inc_id), f.now)
    st.subheader("Five whys")
    five_whys_section(inc, [s.to_dict() for s in sigs], [{"verdict": v.verdict, "to_revision": v.to_revision, "reason": v.reason} for v in checks])
