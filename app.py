"""Pathwatch dashboard: ``streamlit run app.py``. A router: page registry, settings, auto-refresh.

Each page draws the shared filters itself through ``pages._shared.page_header`` (Streamlit's AppTest
reruns only the page script, so a page must stand on its own).
"""

from __future__ import annotations

import streamlit as st

from pages import _shared

st.set_page_config(page_title="Pathwatch", page_icon=":material/monitor_heart:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/monitor_heart:", url_path="overview", default=True),
    st.Page("pages/latency.py", title="Latency", icon=":material/timer:", url_path="latency"),
    st.Page("pages/failures.py", title="Failures", icon=":material/error:", url_path="failures"),
    st.Page("pages/runs.py", title="Runs", icon=":material/list:", url_path="runs"),
    st.Page("pages/incidents.py", title="Incidents", icon=":material/emergency:", url_path="incidents"),
    st.Page("pages/deploys.py", title="Deploys", icon=":material/rocket_launch:", url_path="deploys"),
    st.Page("pages/impact.py", title="Impact", icon=":material/payments:", url_path="impact"),
]

page = st.navigation(PAGES)
try:
    config = _shared.settings()
except Exception as exc:  # noqa: BLE001 - a bad settings file is shown, not thrown
    st.error(f"Pathwatch cannot start: {exc}")
    st.stop()

if config.dashboard.refresh_s > 0:
    # Reruns the page on a timer while the demo (or cron) keeps adding runs; the page draws its own sidebar filters
    # outside the fragment's reruns because widgets keep their state in the session.
    st.fragment(run_every=config.dashboard.refresh_s)(page.run)()
else:
    page.run()
