"""The page registry and the sidebar links: app.py routes, and every page makes sure it was routed.

Streamlit treats a ``pages/`` folder beside the main script as its first multipage style and lists the files by
name until ``st.navigation`` runs. ``.streamlit/config.toml`` hides that list (``showSidebarNavigation = false``),
so the titled links are drawn here with ``st.page_link``. A server's first visitor who opens ``/deploys`` gets
``pages/deploys.py`` run directly by that old style: :func:`ensure_routed` then runs app.py instead, so the page
still gets its router (title, links, refresh) and Streamlit leaves the old style for good.
"""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import NamedTuple

import streamlit as st
from streamlit.navigation.page import StreamlitPage

APP = Path(__file__).resolve().parents[1] / "app.py"


class PageSpec(NamedTuple):
    path: str
    title: str
    icon: str
    url_path: str


PAGES = (
    PageSpec("pages/overview.py", "Overview", ":material/monitor_heart:", "overview"),
    PageSpec("pages/latency.py", "Latency", ":material/timer:", "latency"),
    PageSpec("pages/failures.py", "Failures", ":material/error:", "failures"),
    PageSpec("pages/runs.py", "Runs", ":material/list:", "runs"),
    PageSpec("pages/incidents.py", "Incidents", ":material/emergency:", "incidents"),
    PageSpec("pages/alerts.py", "Alerting", ":material/notifications_active:", "alerting"),
    PageSpec("pages/silences.py", "Silences", ":material/notifications_off:", "silences"),
    PageSpec("pages/deploys.py", "Deploys", ":material/rocket_launch:", "deploys"),
    PageSpec("pages/impact.py", "Impact", ":material/payments:", "impact"),
)

#: True while app.py runs the chosen page (per script thread, so sessions never see each other's flag).
_ROUTED: ContextVar[bool] = ContextVar("pathwatch_routed", default=False)


def navigation() -> StreamlitPage:
    """Register the pages (the first is the default) and return the one the URL asks for."""
    pages = [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=i == 0) for i, p in enumerate(PAGES)]
    return st.navigation(pages, position="sidebar")


def sidebar_links() -> None:
    """The titled links at the top of the sidebar (Streamlit's own list is off, see the module docstring)."""
    for p in PAGES:
        st.sidebar.page_link(p.path, label=p.title, icon=p.icon)
    st.sidebar.divider()


@contextmanager
def routed() -> Iterator[None]:
    """Mark the page run as coming through app.py."""
    token = _ROUTED.set(True)
    try:
        yield
    finally:
        _ROUTED.reset(token)


def refresh_every(seconds: float) -> None:
    """Rerun the whole app every ``seconds``: a timed fragment that asks for a rerun each time its timer fires (not
    the first time, which is this run). Only a full rerun may run the page again: ``st.navigation`` hands out a page
    to run once per run of app.py, so a fragment around ``page.run`` fails on its first timed rerun."""
    ran: list[bool] = []

    @st.fragment(run_every=seconds)
    def tick() -> None:
        if ran:
            st.rerun()
        ran.append(True)

    tick()


def ensure_routed() -> None:
    """A page run without app.py (see the module docstring) runs app.py in its place, then stops."""
    if _ROUTED.get():
        return
    runpy.run_path(str(APP), run_name="__pathwatch_app__")
    st.stop()
