"""Incidents: the list; one incident's timeline, signature, evidence, impact, GitHub link and five-whys editor."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from urllib.parse import quote

import pandas as pd
import plotly.express as px
import streamlit as st

from analysis import deploys, five_whys, impact, server_logs, signatures
from analysis.five_whys import Countermeasure, Evidence, FiveWhys, Why
from pages import _shared as ui
from probes.errors import PathwatchError
from probes.redact import known_secrets, redact_data

MARGIN_S = 600.0

f = ui.page_header("Incidents", "Opened after K failed runs in a row, closed after M clean runs; manual incidents too")
if f is not None:
    cfg = ui.settings().report
    incidents = ui.incidents_list()
    if not incidents:
        st.success("No incidents recorded. Detection runs with `python -m analysis incidents detect` (the demo runs it every few seconds).")
        st.stop()
    rows = [{"id": i["id"], "status": "superseded" if i.get("superseded") else i.get("status"), "start": ui.fmt_ts(i.get("start_ts")), "end": ui.fmt_ts(i.get("end_ts")),
             "targets": ", ".join(i.get("targets") or []), "signature": i.get("signature") or i.get("title") or "",
             "failed runs": i.get("failed_runs")} for i in reversed(incidents)]
    st.dataframe(rows, hide_index=True, key="inc_table")
    ids = [r["id"] for r in rows]
    wanted = st.query_params.get("incident")
    inc_id = st.selectbox("Incident", ids, index=ids.index(wanted) if wanted in ids else 0, key="inc_pick")
    inc = next(i for i in incidents if i["id"] == inc_id)

    st.header(f"{ui.md(inc_id)} · {ui.md(inc.get('status'))}")
    st.markdown(f"**Signature:** {ui.md(inc.get('signature') or inc.get('title') or 'manual incident')}")
    st.markdown(f"From **{ui.fmt_ts(inc.get('start_ts'))}** to **{ui.fmt_ts(inc.get('end_ts')) if inc.get('end_ts') else 'now (open)'}** · "
                f"revisions: {', '.join(ui.code(r) for r in inc.get('revisions') or []) or '—'}")

    start = float(inc["start_ts"]) - MARGIN_S
    end_ts = inc.get("end_ts")
    end = (float(end_ts) if end_ts is not None else f.now) + MARGIN_S
    targets = tuple(inc.get("targets") or ()) or f.targets
    df = ui.runs(targets, ui._bucket(start), until_ts=ui._bucket(end + 10))
    during = df[(df["started_ts"] >= inc["start_ts"]) & (df["started_ts"] <= (end_ts if end_ts is not None else f.now))]

    st.subheader("Timeline")
    if not df.empty:
        points = df.assign(time=ui.ts_axis(df["started_ts"]).to_numpy(), target=ui.plot_labels(df["target"]),
                           revision=ui.plot_labels(df["revision"]))  # run ids are ours (synced ones are checked): plain
        fig = px.scatter(points, x="time", y="target", color="outcome", hover_data=["run_id", "revision", "close_code"],
                         color_discrete_map=ui.OUTCOME_COLOURS)
        st.plotly_chart(ui.add_deploy_markers(fig, start, end), key="inc_timeline")

    imp = impact.impact(during, cfg.impact)
    st.subheader("Impact")
    cols = st.columns(3)
    for col, fig_ in zip(cols, imp.figures(), strict=True):
        col.metric(fig_.name.replace("_", " ").capitalize(), ui.figure_value(fig_))
        col.caption(fig_.formula)

    st.subheader("Evidence")
    sigs = signatures.group_failures(during)
    for s in sigs[:3]:
        st.markdown(f"- {ui.md(signatures.sentence(s))}")
    for run_id in inc.get("evidence_runs") or []:
        st.markdown(f"- run [{ui.code(run_id)}](./runs?run={quote(str(run_id), safe='')})")
    checks = [v for v in deploys.fix_validations(df) if v.verdict != "insufficient_data"]
    for v in checks:
        st.markdown(f"- deploy {ui.code(v.from_revision)} → {ui.code(v.to_revision)}: **{v.verdict}** ({ui.md(v.reason)})")

    st.subheader("What the server said")
    source = ui.log_source()
    logs = ui.server_logs_in(float(inc["start_ts"]) - 60, (float(end_ts) if end_ts is not None else f.now) + 60)
    local_first_view = source is not None and source.log_file and not logs  # a local file is cheap: read it without asking
    if local_first_view or (source is not None and st.button(f"Fetch server errors ({ui.md(source.name)})", key="inc_fetch_logs")):
        from integrations.cloud_logging import Skips

        skips = Skips()
        try:
            ui.collect_server_logs(source, float(inc["start_ts"]), float(end_ts) if end_ts is not None else f.now,
                                   service=os.environ.get("PATHWATCH_SERVICE"), revisions=tuple(inc.get("revisions") or ()), skips=skips)
            logs = ui.server_logs_in(float(inc["start_ts"]) - 60, (float(end_ts) if end_ts is not None else f.now) + 60)
        except PathwatchError as exc:
            st.error(ui.md(exc))
        if skips.count:
            st.caption(f"Skipped {skips.count} malformed server log entries: " + ", ".join(ui.code(i) for i in skips.ids))
    if not logs:
        st.caption("No server errors stored for this window." + ("" if source else " Configure PATHWATCH_SERVER_LOG or PATHWATCH_GCP_PROJECT."))
    secrets = known_secrets()
    for g in server_logs.summarise(server_logs.parse_entry(r["entry"], secrets) for r in logs):
        st.markdown(f"- **{g['count']}** × {ui.code(g['signature'])} ({', '.join(ui.code(r) for r in g['revisions'])})")
    if logs:
        st.code(ui.shown(server_logs.entry_text(logs[0]["entry"], secrets), 4000), language=None)

    # ------------------------------------------------------------ GitHub
    st.subheader("GitHub")
    link = ui.github_link(inc_id)
    if link:
        st.markdown(f"Tracking: {ui.link(link)}")
    if not ui.read_only():
        g1, g2, g3 = st.columns([3, 1, 2])
        repo = g1.text_input("Repository (OWNER/NAME)", value=os.environ.get("PATHWATCH_GITHUB_REPO", ""), key="gh_repo")
        number = g2.number_input("Issue", min_value=0, value=0, step=1, key="gh_issue", help="0: open a new issue (or update the one opened before)")
        if g3.button("Publish to GitHub", key="gh_publish", disabled=not repo):
            from integrations.github import publish_incident

            try:
                with ui.reading() as s:
                    res = publish_incident(s, inc_id, repo, int(number) or None, now=f.now, report_config=cfg,
                                           dashboard_url=ui.settings().dashboard.public_url)
                st.success(f"{res.action.replace('_', ' ').capitalize()}: {ui.link(res.url)}")
            except PathwatchError as exc:
                st.error(ui.md(exc))

    # ------------------------------------------------------------ five whys
    st.subheader("Five whys")
    key = f"fw_{inc_id}"
    with ui.reading() as s:
        from store import incidents as store_incidents

        stored = store_incidents.load_five_whys(s, inc_id)
        history = store_incidents.annotation_history(s, inc_id)
    saved = FiveWhys.from_dict(stored) if stored else None
    if key not in st.session_state:
        st.session_state[key] = copy.deepcopy(saved) if saved else FiveWhys(
            inc_id, five_whys.draft_whys(inc, [s.to_dict() for s in sigs],
                                         [{"verdict": v.verdict, "to_revision": v.to_revision, "reason": v.reason} for v in checks]))
    fw: FiveWhys = st.session_state[key]

    if ui.read_only():
        st.markdown(five_whys.to_markdown(fw, inc.get("title") or inc_id, known_secrets()))
    else:
        def _sync() -> None:
            """Copy the widgets' current text into the working copy before any structural change."""
            for i, w in enumerate(fw.whys):
                w.question = st.session_state.get(f"{key}_q{i}", w.question)
                w.answer = st.session_state.get(f"{key}_a{i}", w.answer)
            fw.root_cause = st.session_state.get(f"{key}_root", fw.root_cause)

        def _reset_widgets() -> None:
            for k in [k for k in st.session_state if str(k).startswith(f"{key}_")]:
                del st.session_state[k]

        def _move(i: int, d: int) -> None:
            _sync()
            five_whys.move_why(fw, i, d)
            _reset_widgets()

        def _delete(i: int) -> None:
            _sync()
            del fw.whys[i]
            _reset_widgets()

        def _accept(i: int) -> None:
            _sync()
            five_whys.accept_why(fw, i)

        def _add() -> None:
            _sync()
            fw.whys.append(Why("Why ...?", ""))
            _reset_widgets()

        def _add_evidence(i: int) -> None:
            _sync()
            ref = st.session_state.get(f"{key}_evref{i}", "").strip()
            if ref:
                fw.whys[i].evidence.append(Evidence(st.session_state.get(f"{key}_evkind{i}", "run"), ref))
                st.session_state[f"{key}_evref{i}"] = ""

        for i, w in enumerate(fw.whys):
            with st.container(border=True):
                label = f"Why {i + 1}" + (" · DRAFT (drafted from the evidence; accept it to keep it)" if w.draft else "")
                st.markdown(f"**{label}**")
                st.text_input("Question", value=w.question, key=f"{key}_q{i}", max_chars=five_whys.MAX_TEXT)
                st.text_area("Because", value=w.answer, key=f"{key}_a{i}", max_chars=five_whys.MAX_TEXT, height=68)
                for e in w.evidence:
                    st.text(ui.shown(f"evidence · {e.kind}: {e.ref}" + (f" ({e.note})" if e.note else ""), 2 * five_whys.MAX_TEXT))
                c = st.columns([1, 1, 1, 1, 2, 3, 1])
                c[0].button("↑", key=f"{key}_up{i}", on_click=_move, args=(i, -1), disabled=i == 0)
                c[1].button("↓", key=f"{key}_down{i}", on_click=_move, args=(i, 1), disabled=i == len(fw.whys) - 1)
                c[2].button("Delete", key=f"{key}_del{i}", on_click=_delete, args=(i,))
                c[3].button("Accept", key=f"{key}_acc{i}", on_click=_accept, args=(i,), disabled=not w.draft)
                c[4].selectbox("Evidence kind", five_whys.EVIDENCE_KINDS, key=f"{key}_evkind{i}", label_visibility="collapsed")
                c[5].text_input("Evidence", key=f"{key}_evref{i}", placeholder="run id, signature, log, revision or https:// link",
                                label_visibility="collapsed")
                c[6].button("Attach", key=f"{key}_evadd{i}", on_click=_add_evidence, args=(i,))
        st.button("Add a why", key=f"{key}_add", on_click=_add)
        st.text_area("Root cause", value=fw.root_cause, key=f"{key}_root", max_chars=five_whys.MAX_TEXT)
        st.markdown("**Countermeasures**")
        cm = st.data_editor(
            pd.DataFrame([c.__dict__ for c in fw.countermeasures], columns=["action", "owner", "due", "tracking_link", "status"]),
            num_rows="dynamic", hide_index=True, key=f"{key}_cm",
            column_config={"status": st.column_config.SelectboxColumn(options=list(five_whys.COUNTERMEASURE_STATUSES), default="open"),
                           "due": st.column_config.TextColumn(help="YYYY-MM-DD")},
        )
        who = ui.author()
        if st.button("Save five whys", key=f"{key}_save", type="primary", disabled=who is None):
            _sync()
            fw.countermeasures = [
                Countermeasure(action=str(r["action"] or ""), owner=str(r["owner"] or ""), due=(str(r["due"]) if r["due"] else None),
                               tracking_link=(str(r["tracking_link"]) if r["tracking_link"] else None), status=str(r["status"] or "open"))
                for r in cm.to_dict("records") if any(v not in (None, "") and not pd.isna(v) for v in r.values())
            ]
            try:
                five_whys.validate(fw)
                with ui.reading() as s:
                    from store import incidents as store_incidents

                    # A pasted log line may hold a token: the annotation is stored (and later published) redacted.
                    store_incidents.save_five_whys(s, inc_id, redact_data(fw.to_dict(), known_secrets()), who or "", datetime.now(UTC).isoformat(timespec="seconds"),
                                                   five_whys.describe_change(saved, fw))
                st.success(f"Saved by {ui.md(who)}.")
            except five_whys.AnnotationError as exc:
                st.error(f"Not saved: {exc}")
        if who is None and not ui.oidc_configured():
            st.caption("Give your name to save.")
    if history:
        with st.expander(f"Edit history ({len(history)})"):
            st.dataframe(history, hide_index=True, key=f"{key}_history")
    st.download_button("Download the five whys (Markdown)", five_whys.to_markdown(fw, inc.get("title") or inc_id, known_secrets()),
                       file_name=f"{inc_id}-five-whys.md", mime="text/markdown", key=f"{key}_md")
