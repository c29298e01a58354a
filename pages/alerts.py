"""Alerting: the channels (names and kinds, never URLs), failures per channel in one sentence, the delivery ledger."""

from __future__ import annotations

import streamlit as st

from pages import _data as data
from pages import _format as fmt
from pages._layout import page_header
from pages._store import settings
from services import notify

f = page_header("Alerting", "What Pathwatch told whom: each notice once per channel, with the channel's answer and retries")
if f is not None:
    chans = notify.channel_rows(settings())
    if not chans:
        st.info("No alert channels configured. Add `[[alerting.channels]]` (alertmanager, apprise or pagerduty) to the settings "
                "file named by PATHWATCH_SETTINGS; `python -m analysis incidents detect` then sends what is due.")
    else:
        st.subheader("Channels")
        st.dataframe(chans, hide_index=True, key="alert_channels")
    failures, ledger = data.alerting_ledger()
    for sentence in failures:
        st.error(fmt.md(sentence))
    st.subheader("Deliveries")
    if ledger:
        st.caption("Newest first. failed: will be retried at 'next attempt' (exponential backoff); dead: gave up; skipped: "
                   "Alertmanager repeats and updates a firing alert itself. Test notifications: `python -m analysis notify --test NAME`.")
        st.dataframe(ledger, hide_index=True, key="alert_ledger")
    else:
        st.success("Nothing was due yet: no notice has been sent.")
