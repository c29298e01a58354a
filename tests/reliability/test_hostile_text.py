"""Hostile text typed into annotations (or sent by a server as a revision) shows as text on every page.

The text goes wherever a user or a server can put words: a manual incident's title, every field of the
five whys, a manual deploy's revision and note. Every page is rendered in AppTest (no element may carry
the markup unescaped) and in a real headless Chromium (nothing may run, no ``javascript:`` link may
exist). GitHub bodies are covered in ``tests/integrations/test_github.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import five_whys
from store import incidents as store_incidents
from store.sqlite import open_store
from tests.browser.harness import chromium, streamlit_dashboard, tab
from tests.conftest import copy_store, poll
from tests.pages.harness import app_test, open_page

#: Each page's title, and words drawn last that show the hostile text reached it (checked in the browser).
PAGE_NEEDLES = {"overview": ("Golden path: now", "Open incident MAN-"), "latency": ("Latency per phase",), "failures": ("Failures",),
         "runs": ("Runs",), "incidents": ("Incidents", "<script>window.__pw_pwned=1</script>"),
         "deploys": ("Deploys and fix validation", "Deploys entered by hand"), "impact": ("Business impact", "rev-`<img")}
HOSTILE = '<script>window.__pw_pwned=1</script><img src=x onerror="window.__pw_pwned=2"> [click](javascript:window.__pw_pwned=3)'
HOSTILE_REVISION = "rev-`<img src=x onerror=window.__pw_pwned=4>`"
MARKUP = ("<script", "<img", "](javascript:")


@pytest.fixture(scope="module")
def hostile_db(story_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The story's store plus hostile words in every place a person (or a server) can write them."""
    db = copy_store(story_db, tmp_path_factory.mktemp("hostile") / "hostile.db")
    made = subprocess.run([sys.executable, "-m", "analysis", "incidents", "create", "--title", HOSTILE, "--start", "2026-11-25T00:00:00Z",
                           "--target", "us-central1", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    with open_store(db) as s:
        store_incidents.add_deploy(s, HOSTILE_REVISION, time.time() - 60, note=HOSTILE)
        for inc in store_incidents.list_incidents(s):
            fw = five_whys.FiveWhys(inc["id"], [five_whys.Why(HOSTILE, HOSTILE, [five_whys.Evidence("link", "javascript:window.__pw_pwned=5", note=HOSTILE)])],
                                    root_cause=HOSTILE, countermeasures=[five_whys.Countermeasure(HOSTILE, HOSTILE, "2026-12-01", tracking_link="javascript:window.__pw_pwned=6")])
            store_incidents.save_five_whys(s, inc["id"], fw.to_dict(), HOSTILE, "2026-11-25T00:00:00Z", HOSTILE)
    return db


@pytest.mark.parametrize("page", list(PAGE_NEEDLES))
def test_every_page_in_apptest_shows_hostile_words_as_text(hostile_db: Path, page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(app_test(hostile_db, monkeypatch, PATHWATCH_READ_ONLY="1"), f"pages/{page}.py")
    assert not at.exception, [e.message for e in at.exception]
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "metric"):
        for element in getattr(at, kind):
            text = str(element.value) + str(getattr(element, "label", ""))
            assert not getattr(element, "allow_html", False) or not any(m in text for m in MARKUP), (kind, text[:200])
            assert not any(m in text for m in MARKUP), f"{page}: {kind} carries raw markup: {text[:200]}"


@pytest.mark.browser
def test_nothing_hostile_runs_in_a_real_browser(hostile_db: Path, tmp_path: Path) -> None:
    probe_js = ("JSON.stringify({pwned: window.__pw_pwned === undefined ? null : window.__pw_pwned,"
                " jsLinks: document.querySelectorAll('[href^=\"javascript:\" i]').length,"
                " handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on')"
                " && a.value.includes('__pw_pwned'))).length,"
                " scripts: [...document.scripts].filter(s => s.text.includes('__pw_pwned')).length})")
    with streamlit_dashboard(hostile_db, tmp_path, PATHWATCH_READ_ONLY="1") as base, chromium(tmp_path / "profile") as port:
        for path, needles in PAGE_NEEDLES.items():
            with tab(port, f"{base}{path}") as dt:
                try:
                    poll(lambda dt=dt, needles=needles: all(n in dt.text() for n in needles), deadline_s=90, every_s=0.25)
                except AssertionError as exc:
                    raise AssertionError(f"{path}: {needles} never showed; the page says: {dt.text()[-2500:]}") from exc
                found = dt.evaluate(probe_js)
                assert found == '{"pwned":null,"jsLinks":0,"handlers":0,"scripts":0}', (path, found)
