"""Parts of the Incidents page: what the server said during an incident, and its GitHub issue."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from analysis import incidents
from pages import _data as data
from pages._format import code, codes, link, log_signatures, log_text, md
from probes.errors import PathwatchError

#: Server errors are looked for from this long before the incident to this long after it.
LOG_MARGIN_S = 60.0


def server_errors_section(inc: dict[str, Any], now: float) -> None:
    """The backend's errors during the incident, grouped by signature. A local log file is read on first view;
    Cloud Logging is fetched on request."""
    start, end = incidents.span(inc, now)
    source = data.log_source()
    logs = data.server_logs_in(start - LOG_MARGIN_S, end + LOG_MARGIN_S)
    local_first_view = source is not None and source.log_file and not logs  # a local file is cheap: read it without asking
    if local_first_view or (source is not None and st.button(f"Fetch server errors ({md(source.name)})", key="inc_fetch_logs")):
        skipped: tuple[int, list[str]] = (0, [])
        try:
            skipped = data.fetch_server_errors(source, start, end, tuple(inc.get("revisions") or ()))
            logs = data.server_logs_in(start - LOG_MARGIN_S, end + LOG_MARGIN_S)
        except PathwatchError as exc:
            st.error(md(exc))
        if skipped[0]:
            st.caption(f"Skipped {skipped[0]} malformed server log entries: " + codes(skipped[1]))
    if not logs:
        st.caption("No server errors stored for this window." + ("" if source else " Configure PATHWATCH_SERVER_LOG or PATHWATCH_GCP_PROJECT."))
    for g in log_signatures(logs):
        st.markdown(f"- **{g['count']}** × {code(g['signature'])} ({codes(g['revisions'])})")
    if logs:
        st.code(log_text(logs[0]["entry"]), language=None)


def github_section(inc_id: str, now: float) -> None:
    """The incident's tracking issue, and (unless read-only) publishing its case file to GitHub."""
    tracking = data.github_link(inc_id)
    if tracking:
        st.markdown(f"Tracking: {link(tracking)}")
    if data.read_only():
        if not tracking:
            st.caption("No GitHub issue yet; publishing is in the editable view.")
        return
    g1, g2, g3 = st.columns([3, 1, 2])
    repo = g1.text_input("Repository (OWNER/NAME)", value=os.environ.get("PATHWATCH_GITHUB_REPO", ""), key="gh_repo")
    number = g2.number_input("Issue", min_value=0, value=0, step=1, key="gh_issue", help="0: open a new issue (or update the one opened before)")
    if g3.button("Publish to GitHub", key="gh_publish", disabled=not repo):
        try:
            res = data.publish_to_github(inc_id, repo, int(number) or None, now)
            st.success(f"{res.action.replace('_', ' ').capitalize()}: {link(res.url)}")
        except PathwatchError as exc:
            st.error(md(exc))


def policy_section(inc_id: str, muted: dict[str, str], held: dict[str, str]) -> None:
    """Why nobody is told about this incident: a silence covers it, or too few of its group's locations fail."""
    if inc_id in muted:
        st.info(f"Silenced: {md(muted[inc_id])}. Probes keep probing and the incident stays open; nothing is sent until the silence ends.",
                icon="🔕")
    elif inc_id in held:
        st.warning(f"Not paged: {md(held[inc_id])}.", icon="📍")
