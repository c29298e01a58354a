"""The dashboard in Streamlit's AppTest: one app per test on a given store, any page opened, what it shows as text."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pages._nav import PAGES as NAV_PAGES

APP = str(Path(__file__).resolve().parents[2] / "app.py")
#: Every page, from the one registry (so a new page is in every sweep: renders, read-only, hostile text, secrets).
PAGES = [p.path for p in NAV_PAGES]
#: Every element kind whose value is text a person reads.
TEXT_KINDS = ("title", "header", "subheader", "markdown", "text", "caption", "code", "json", "success", "error", "warning", "info")


def app_test(db: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> AppTest:
    """A fresh app over ``db`` with cold caches; ``env`` sets PATHWATCH_* variables for this test only."""
    monkeypatch.setenv("PATHWATCH_DB", str(db))
    monkeypatch.delenv("PATHWATCH_SETTINGS", raising=False)
    monkeypatch.delenv("PATHWATCH_READ_ONLY", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    st.cache_data.clear()
    st.cache_resource.clear()
    return AppTest.from_file(APP, default_timeout=60)


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the app (its default page is the overview), then switch to ``page``."""
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    return at


#: A CommonMark backslash escape: a backslash before ASCII punctuation shows the punctuation alone.
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_read(markdown: str) -> str:
    """Markdown source as a person reads it: backslash escapes and HTML entities resolved (outside text is escaped)."""
    return html.unescape(_MD_ESCAPE.sub(r"\1", markdown))


def shown_text(at: AppTest) -> str:
    """All the text the page shows (as read, see :func:`as_read`), and the message of any exception it raised."""
    parts = [as_read(str(e.value)) if kind not in ("code", "text", "json") else str(e.value) for kind in TEXT_KINDS for e in getattr(at, kind)]
    return "\n".join(parts + [e.message for e in at.exception])
