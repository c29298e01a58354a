"""Pathwatch dashboard: ``streamlit run app.py``. A router: page registry and sidebar links, settings, auto-refresh.

Each page draws the shared filters itself through ``pages._layout.page_header`` (Streamlit's AppTest
reruns only the page script, so a page must stand on its own).
"""

from __future__ import annotations

import streamlit as st

from pages import _nav, _store

st.set_page_config(page_title="Pathwatch", page_icon=":material/monitor_heart:", layout="wide")

page = _nav.navigation()
_nav.sidebar_links()
try:
    config = _store.settings()
except Exception as exc:  # noqa: BLE001 - a bad settings file is shown, not thrown
    st.error(f"Pathwatch cannot start: {exc}")
    st.stop()

if config.dashboard.refresh_s > 0:
    _nav.refresh_every(config.dashboard.refresh_s)  # while the demo (or cron) keeps adding runs
with _nav.routed():
    page.run()
