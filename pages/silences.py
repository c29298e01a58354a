"""Silences: maintenance windows on a target or a target group. The list (active, scheduled, past) for everyone;
adding and expiring, recorded with who and when, only for writers (read-only: nothing to edit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from pages import _data as data
from pages import _format as fmt
from pages._layout import author, oidc_configured, page_header
from probes.errors import PathwatchError

f = page_header("Silences", "Maintenance windows: probes keep probing and incidents still open; nothing is sent while one covers them")
if f is not None:
    now = data.bucket(f.now) or f.now
    if flash := st.session_state.pop("sil_flash", None):
        st.success(flash)
    rows = data.silences(f.now)
    st.caption(fmt.md(data.exclusion(f.targets, data.bucket(f.since_ts, 60.0), now)[1]))
    current = [r for r in rows if r["state"] in ("active", "scheduled")]
    past = [r for r in rows if r["state"] not in ("active", "scheduled")]

    def table(items: list[dict], key: str) -> None:  # type: ignore[type-arg]
        st.dataframe([{"id": r["id"], "state": r["state"], "on": f"target {r['target']}" if r["target"] is not None else f"group {r['group']}",
                       "from": fmt.fmt_ts(r["starts_ts"]), "until": fmt.fmt_ts(r["end_ts"]), "reason": fmt.shown(r["reason"], 500),
                       "by": fmt.shown(r["author"], 80), "added": fmt.fmt_ts(r["created_ts"]),
                       "expired by": fmt.shown(r["expired_by"] or "", 80)} for r in items], hide_index=True, key=key)

    st.subheader(f"Active and scheduled ({len(current)})")
    if current:
        table(current, "sil_current")
    else:
        st.caption("No silence is active: every incident notifies as usual.")
    st.subheader(f"Past ({len(past)})")
    if past:
        table(past, "sil_past")

    if data.read_only():
        st.caption("Read-only view: adding and expiring silences is in the editable view (or `python -m analysis silences add`).")
        st.stop()

    st.subheader("Add a silence")
    known = sorted(data.target_catalogue())
    with st.form("sil_add", clear_on_submit=False):
        kind = st.radio("On", ["target", "group"], horizontal=True, key="sil_kind")
        name = st.text_input("Target or group name", key="sil_name", placeholder=", ".join(known[:3]), max_chars=200)
        until = st.text_input("Until (ISO 8601, UTC)", key="sil_until",
                              value=(datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:00Z"))
        reason = st.text_input("Reason", key="sil_reason", max_chars=500)
        submitted = st.form_submit_button("Add silence", type="primary")
    who = author()
    if submitted:
        from probes.timeutil import parse_iso_arg

        try:
            if who is None:
                raise PathwatchError("Your name: give it (it is recorded with the silence)")
            added = data.add_silence(f.now, target=name if kind == "target" else None, group=name if kind == "group" else None,
                                     until_ts=parse_iso_arg(until, "Until"), reason=reason, author=who)
        except PathwatchError as exc:
            st.error(f"Not added: {fmt.md(exc)}")
        else:
            st.session_state["sil_flash"] = f"Added {fmt.md(added['id'])} until {fmt.fmt_ts(added['end_ts'])}."
            st.rerun()

    if current:
        st.subheader("Expire a silence")
        pick = st.selectbox("Silence", [r["id"] for r in current], key="sil_expire_pick")
        if st.button("Expire now", key="sil_expire", disabled=who is None):
            try:
                done, ended = data.expire_silence(pick, who or "", f.now)
            except PathwatchError as exc:
                st.error(f"Not expired: {fmt.md(exc)}")
            else:
                st.session_state["sil_flash"] = f"Expired {fmt.md(done['id'])}." if ended else f"{fmt.md(done['id'])} was already over."
                st.rerun()
    if who is None and not oidc_configured():
        st.caption("Give your name to add or expire a silence.")
