"""The five-whys editor of the Incidents page: drafted whys to accept, evidence to attach, countermeasures, saving
with who and when (read-only: the five whys as Markdown)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from analysis import five_whys
from analysis.five_whys import Countermeasure, Evidence, FiveWhys, Why
from pages import _data as data
from pages._format import five_whys_markdown, md, shown
from pages._layout import author, oidc_configured

CM_COLUMNS = ["action", "owner", "due", "tracking_link", "status"]


def five_whys_section(inc: dict[str, Any], signatures: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> None:
    """The incident's five whys: the saved ones, else whys drafted from its signatures and fix verdicts."""
    inc_id = str(inc["id"])
    key = f"fw_{inc_id}"
    stored, history = data.five_whys_of(inc_id)
    saved = FiveWhys.from_dict(stored) if stored else None
    if key not in st.session_state:
        st.session_state[key] = copy.deepcopy(saved) if saved else FiveWhys(inc_id, five_whys.draft_whys(inc, signatures, verdicts))
    fw: FiveWhys = st.session_state[key]
    if data.read_only():
        st.markdown(five_whys_markdown(fw, inc.get("title") or inc_id))
    else:
        _editor(fw, key, saved)
    if history:
        with st.expander(f"Edit history ({len(history)})"):
            st.dataframe(history, hide_index=True, key=f"{key}_history")
    st.download_button("Download the five whys (Markdown)", five_whys_markdown(fw, inc.get("title") or inc_id),
                       file_name=f"{inc_id}-five-whys.md", mime="text/markdown", key=f"{key}_md")


def _editor(fw: FiveWhys, key: str, saved: FiveWhys | None) -> None:
    def sync() -> None:
        """Copy the widgets' current text into the working copy before any structural change."""
        for i, w in enumerate(fw.whys):
            w.question = st.session_state.get(f"{key}_q{i}", w.question)
            w.answer = st.session_state.get(f"{key}_a{i}", w.answer)
        fw.root_cause = st.session_state.get(f"{key}_root", fw.root_cause)

    def reset_widgets() -> None:
        for k in [k for k in st.session_state if str(k).startswith(f"{key}_")]:
            del st.session_state[k]

    def change(do: Any, *args: Any, reset: bool = True) -> None:
        sync()
        do(*args)
        if reset:
            reset_widgets()

    def add_evidence(i: int) -> None:
        sync()
        ref = st.session_state.get(f"{key}_evref{i}", "").strip()
        if ref:
            fw.whys[i].evidence.append(Evidence(st.session_state.get(f"{key}_evkind{i}", "run"), ref))
            st.session_state[f"{key}_evref{i}"] = ""

    for i, w in enumerate(fw.whys):
        with st.container(border=True):
            st.markdown(f"**Why {i + 1}" + (" · DRAFT (drafted from the evidence; accept it to keep it)" if w.draft else "") + "**")
            st.text_input("Question", value=w.question, key=f"{key}_q{i}", max_chars=five_whys.MAX_TEXT)
            st.text_area("Because", value=w.answer, key=f"{key}_a{i}", max_chars=five_whys.MAX_TEXT, height=68)
            for e in w.evidence:
                st.text(shown(f"evidence · {e.kind}: {e.ref}" + (f" ({e.note})" if e.note else ""), 2 * five_whys.MAX_TEXT))
            c = st.columns([1, 1, 1, 1, 2, 3, 1])
            c[0].button("↑", key=f"{key}_up{i}", on_click=change, args=(five_whys.move_why, fw, i, -1), disabled=i == 0)
            c[1].button("↓", key=f"{key}_down{i}", on_click=change, args=(five_whys.move_why, fw, i, 1), disabled=i == len(fw.whys) - 1)
            c[2].button("Delete", key=f"{key}_del{i}", on_click=change, args=(fw.whys.pop, i))
            c[3].button("Accept", key=f"{key}_acc{i}", on_click=change, args=(five_whys.accept_why, fw, i), kwargs={"reset": False},
                        disabled=not w.draft)
            c[4].selectbox("Evidence kind", five_whys.EVIDENCE_KINDS, key=f"{key}_evkind{i}", label_visibility="collapsed")
            c[5].text_input("Evidence", key=f"{key}_evref{i}", placeholder="run id, signature, log, revision or https:// link",
                            label_visibility="collapsed")
            c[6].button("Attach", key=f"{key}_evadd{i}", on_click=add_evidence, args=(i,))
    st.button("Add a why", key=f"{key}_add", on_click=change, args=(fw.whys.append, Why("Why ...?", "")))
    st.text_area("Root cause", value=fw.root_cause, key=f"{key}_root", max_chars=five_whys.MAX_TEXT)
    st.markdown("**Countermeasures**")
    cm = st.data_editor(
        pd.DataFrame([c.__dict__ for c in fw.countermeasures], columns=CM_COLUMNS), num_rows="dynamic", hide_index=True, key=f"{key}_cm",
        column_config={"status": st.column_config.SelectboxColumn(options=list(five_whys.COUNTERMEASURE_STATUSES), default="open"),
                       "due": st.column_config.TextColumn(help="YYYY-MM-DD")},
    )
    who = author()
    if st.button("Save five whys", key=f"{key}_save", type="primary", disabled=who is None):
        sync()
        fw.countermeasures = _countermeasures(cm)
        try:
            five_whys.validate(fw)
            data.save_five_whys(fw.incident_id, fw.to_dict(), who or "", datetime.now(UTC).isoformat(timespec="seconds"),
                                five_whys.describe_change(saved, fw))
            st.success(f"Saved by {md(who)}.")
        except five_whys.AnnotationError as exc:
            st.error(f"Not saved: {exc}")
    if who is None and not oidc_configured():
        st.caption("Give your name to save.")


def _countermeasures(cm: pd.DataFrame) -> list[Countermeasure]:
    """The editor's rows as countermeasures; rows left wholly empty are dropped."""
    return [
        Countermeasure(action=str(r["action"] or ""), owner=str(r["owner"] or ""), due=(str(r["due"]) if r["due"] else None),
                       tracking_link=(str(r["tracking_link"]) if r["tracking_link"] else None), status=str(r["status"] or "open"))
        for r in cm.to_dict("records") if any(v not in (None, "") and not pd.isna(v) for v in r.values())
    ]
