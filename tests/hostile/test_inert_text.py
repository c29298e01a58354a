"""Rule 4: outside text is inert everywhere.

Hostile words (a ``javascript:`` link, an image from 127.0.0.1, ``<script>``, ``<img onerror>``, ``@org/team`` and
``@someone``, ANSI escapes, and a newline that forges a ``FAIL`` line) are planted where servers and people put
words: close reasons, errors and revisions of runs, a manual incident's title, server log lines (and so their
signatures), the five whys. Then:

- every AppTest page shows them as text: no element's Markdown holds, outside code spans and backslash escapes, any
  link, image, HTML or bare-URL syntax; code spans show a signature without backslashes; plotly labels carry the
  markup as entities;
- GitHub bodies (the real ``analysis publish`` against the local stand-in) hold no live markup and no live mention;
- the terminal (the probe's one-line summary from a real sandbox, ``analysis incidents list`` and ``logs``) shows
  control characters escaped, so one run, one incident, one signature is exactly one line.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from analysis import five_whys
from integrations.cloud_logging import rfc3339
from probes.record import ProbeRun
from sandbox.logs import ORCHESTRATOR_TRACEBACK
from sandbox.scenarios import get_scenario
from sandbox.stories import Chapter, Story
from store import incidents as store_incidents
from store.sqlite import iso_to_ts, open_store
from tests.conftest import copy_store, running_sandbox
from tests.fakes.github_api import fake_github
from tests.fixtures.record import load_fixture
from tests.pages.harness import PAGES, app_test, as_read, open_page

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_inerttexttoken0123456789abcdefghij"
LINK = "[x](javascript:alert(1))"
IMAGE = "![img](http://127.0.0.1/x)"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
MENTIONS = "@org/team @someone"
ANSI = "\x1b[31mRED\x1b[0m"
FORGED = "\nFAIL fake line"
HOSTILE = f"{LINK} {IMAGE} {SCRIPT} {IMG} {MENTIONS} {ANSI}{FORGED}"
HOSTILE_REVISION = f"rev-{IMG}-{ANSI}{FORGED}"
#: Markup that would render as a link, an image or HTML (escaped characters start nothing), or a raw escape character.
LIVE = re.compile(r"\]\(|<[A-Za-z/!?]|\x1b")
#: What GFM links by itself (GitHub and Streamlit alike), found in the text after escapes are resolved.
AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp|mailto|xmpp)://|\bwww\.|[\w.+-]@[\w-]+\.[\w-]")
_BACKTICKS = re.compile(r"`+")


def markdown_outside_code(src: str, resolve: bool = False) -> tuple[str, list[str]]:
    """CommonMark's inline reading of ``src``: (the text outside code spans, with backslash escapes and entities as
    placeholders, or with ``resolve`` as the characters they stand for; the contents of the code spans)."""
    outside, spans, i = [], [], 0
    while i < len(src):
        c = src[i]
        if c == "\\" and i + 1 < len(src) and src[i + 1] in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":
            outside.append(src[i + 1] if resolve else "\u2423")  # an escaped character is shown as itself and starts nothing
            i += 2
            continue
        if c == "`":
            run = _BACKTICKS.match(src, i)
            assert run is not None
            close = next((m for m in _BACKTICKS.finditer(src, run.end()) if len(m.group()) == len(run.group())), None)
            if close is not None:
                spans.append(src[run.end():close.start()])
                outside.append("\u2423")
                i = close.end()
                continue
            outside.append(run.group())
            i = run.end()
            continue
        if c == "&" and (m := re.match(r"&(?:[A-Za-z]+|#\d+);", src[i:])):
            outside.append(html.unescape(m.group()) if resolve else "\u2423")
            i += len(m.group())
            continue
        outside.append(c)
        i += 1
    return "".join(outside), spans


def live_markup(src: str, ours: tuple[str, ...] = ()) -> list[str]:
    """What in ``src`` would render as something other than text (our own links listed in ``ours`` are allowed)."""
    for allowed in ours:
        src = re.sub(allowed, "", src)
    outside, _ = markdown_outside_code(src)
    resolved, _ = markdown_outside_code(src, resolve=True)
    return ([outside[max(0, m.start() - 30): m.end() + 30] for m in LIVE.finditer(outside)]
            + [resolved[max(0, m.start() - 30): m.end() + 30] for m in AUTOLINK.finditer(resolved)])


#: The dashboard's own Markdown links: a run's detail page from an incident's evidence.
OUR_LINKS = (r"\]\(\./runs\?run=[A-Za-z0-9._%-]+\)",)


# ---------------------------------------------------------------- a store full of hostile words

def _hostile_runs(now: float) -> list[ProbeRun]:
    """Four failures in a row on one target (an incident), then one success, all with hostile server words."""
    crashed = next(r for r in load_fixture() if r.close_code == 1011)
    ok = next(r for r in load_fixture() if r.ok)
    runs = []
    for i in range(5):
        base = ok if i == 4 else crashed
        started = rfc3339(now - 600 + 30 * i)
        runs.append(replace(base, run_id=f"hostile{i}", target="sandbox-hostile", started_at=started, revision=HOSTILE_REVISION,
                            close_reason=None if base.ok else HOSTILE, error=None if base.ok else HOSTILE,
                            tags={"environment": "sandbox"}, events=list(base.events)))
    return runs


def _server_log(runs: list[ProbeRun]) -> str:
    """ERROR lines the backend logged for the hostile runs: hostile text, a hostile exception, the real traceback."""
    lines = []
    for i, run in enumerate(runs[:4]):
        t = iso_to_ts(run.started_at) + 0.05
        base = {"severity": "ERROR", "logName": "projects/p/logs/run.googleapis.com%2Fstderr", "labels": {"x_test_session": run.run_id},
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "netra-backend-staging", "revision_name": HOSTILE_REVISION}}}
        texts = [HOSTILE, f"Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\nValueError: {HOSTILE}",
                 "Error in start_agent\n" + ORCHESTRATOR_TRACEBACK]
        lines += [json.dumps({**base, "timestamp": rfc3339(t + 0.001 * k), "insertId": f"h{i}-{k}", "textPayload": text})
                  for k, text in enumerate(texts)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hostile(story_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """(store, server log, the detected hostile incident, the manual hostile incident)."""
    tmp = tmp_path_factory.mktemp("inert")
    db = copy_store(story_db, tmp / "hostile.db")
    runs = _hostile_runs(time.time())
    log = tmp / "server.log"
    log.write_text(_server_log(runs), encoding="utf-8")
    with open_store(db) as s:
        s.save_runs(runs)
    env = {**os.environ, "PATHWATCH_DB": str(db)}
    for args in (("incidents", "detect", "--full"), ("incidents", "create", "--title", HOSTILE, "--start", rfc3339(time.time() - 900),
                                                     "--target", "sandbox-hostile")):
        p = _cli("analysis", *args, env=env)
        assert p.returncode == 0, p.stderr
    with open_store(db) as s:
        listed = store_incidents.list_incidents(s)
        detected = next(i["id"] for i in listed if "sandbox-hostile" in (i.get("targets") or []) and i.get("kind") != "manual")
        manual = next(i["id"] for i in listed if i.get("kind") == "manual")
        for inc in (detected, manual):
            fw = five_whys.FiveWhys(inc, [five_whys.Why(HOSTILE, HOSTILE, [five_whys.Evidence("log", HOSTILE, note=HOSTILE),
                                                                          five_whys.Evidence("link", "javascript:alert(1)")])],
                                    root_cause=HOSTILE, countermeasures=[five_whys.Countermeasure(HOSTILE, HOSTILE, "2026-12-01",
                                                                                                   tracking_link="javascript:alert(1)")])
            store_incidents.save_five_whys(s, inc, fw.to_dict(), "mallory", "2026-11-25T00:00:00Z", "hostile")
        from services.silences import add_silence  # a silence whose reason and author are hostile: shown on Incidents, Overview, Silences

        for target in next(i for i in listed if i["id"] == detected)["targets"]:
            add_silence(s, target=target, group=None, until_ts=time.time() + 3600, reason=HOSTILE, author=HOSTILE[:80], now=time.time())
    return db, log, detected, manual


def _cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


# ---------------------------------------------------------------- pages

MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "success", "info", "warning", "error")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_words_as_text(hostile: tuple[Path, Path, str, str], page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db, log, detected, _ = hostile
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(log))
    at.query_params["incident"] = detected
    at.query_params["run"] = "hostile1"
    open_page(at, page)
    assert not at.exception, [e.message for e in at.exception]
    sources = [str(e.value) for kind in MARKDOWN_KINDS for e in getattr(at, kind)]
    for src in sources:
        assert not live_markup(src, OUR_LINKS), f"{page}: live markup {live_markup(src, OUR_LINKS)} in {src[:300]!r}"
        assert FORGED not in src, f"{page}: a raw newline from outside text in {src[:200]!r}"
    for chart in at.get("plotly_chart"):
        labels = _strings(json.loads(chart.proto.spec))
        assert not [s for s in labels if "<img" in s or "<script" in s or "\x1b" in s], f"{page}: markup in a chart label"
    read = "\n".join(as_read(s) for s in sources).replace(five_whys.WORD_JOINER, "")  # the joiner is invisible
    if page in ("pages/runs.py", "pages/incidents.py"):
        for words in (LINK, IMAGE, SCRIPT, IMG):
            assert words in read, f"{page}: {words!r} is shown, as text"
    if page == "pages/incidents.py":
        assert "silenced by S1 until " in read and SCRIPT in read.split("silenced by S1", 1)[1], "the hostile silence reason, as text"


def test_signatures_in_code_spans_show_no_backslashes(hostile: tuple[Path, Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, log, detected, _ = hostile
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(log))
    at.query_params["incident"] = detected
    open_page(at, "pages/incidents.py")
    spans = [span for m in at.markdown for span in markdown_outside_code(m.value)[1]]
    traceback = [s for s in spans if "create_execution_context" in s]
    assert traceback and not [s for s in traceback if MD_ESCAPE.search(s)], traceback
    assert "AttributeError: 'NoneType' object has no attribute 'create_execution_context' at agent_service_core.py:544" in traceback
    assert any(IMG in s for s in spans), "the hostile revision is shown as written, inside a code span"


# ---------------------------------------------------------------- GitHub

MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9_-]")
#: A Markdown backslash escape, which a code span would show as a backslash.
MD_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")


def test_github_bodies_hold_no_live_markup_and_no_mentions(hostile: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    db, _, detected, manual = hostile
    db = copy_store(db, tmp_path / "publish.db")
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 4)
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.api_url, "PATHWATCH_DB": str(db)}
        on_issue = _cli("analysis", "publish", "--incident", detected, "--repo", "acme/backend", "--issue", "4", env=env)
        opened = _cli("analysis", "publish", "--incident", manual, "--repo", "acme/backend", env=env)
        sent = [b for _, _, b in gh.requests if b]
    assert on_issue.returncode == 0 and opened.returncode == 0, on_issue.stderr + opened.stderr
    bodies = [b["body"] for b in sent if "body" in b]
    titles = [b["title"] for b in sent if "title" in b]
    assert len(bodies) == 2 and len(titles) == 1
    for body in bodies:
        marker, rest = body.split("\n", 1)
        assert marker.startswith("<!-- pathwatch:incident:") and marker.endswith(" -->")
        assert not live_markup(rest), live_markup(rest)
        assert not MENTION.search(rest), MENTION.search(rest)
        assert "@\u2060org/team" in rest and "@\u2060someone" in rest, "mentions are kept readable (a word joiner after the @), but inert"
        assert FORGED not in rest and "\x1b" not in rest
    revision_lines = [ln for ln in bodies[0].splitlines() if ln.startswith("- revision ")]
    assert revision_lines and not [ln for ln in revision_lines if MD_ESCAPE.search(markdown_outside_code(ln)[1][0])], revision_lines
    assert "\n" not in titles[0] and "\x1b" not in titles[0] and not MENTION.search(titles[0])
    assert "\x1b" not in on_issue.stdout + opened.stdout + on_issue.stderr + opened.stderr


# ---------------------------------------------------------------- the terminal

def test_the_probe_summary_is_one_inert_line_per_run(tmp_path: Path) -> None:
    """A real sandbox whose health endpoint reports a hostile revision and whose crash closes the socket."""
    lines = {}
    for scenario in ("healthy", "orchestrator_crash"):
        overrides = {"crash_after_s": 0.2} if scenario == "orchestrator_crash" else None
        story = Story(name="hostile", chapters=(Chapter(HOSTILE_REVISION, get_scenario(scenario, overrides), 0.0),))
        with running_sandbox(story=story, time_scale=0.02) as sb:
            p = _cli("probes", "run", "--url", sb.url, "--health-url", sb.health_url, "--timeout", "5", "--no-store", env=dict(os.environ))
        assert p.returncode == (0 if scenario == "healthy" else 1), p.stderr
        lines[scenario] = p.stderr.splitlines()
    for scenario, said in lines.items():
        assert len(said) == 1, f"{scenario}: one run, one line: {said}"
        assert "\x1b" not in said[0] and "\\x1b[31m" in said[0] and "\\x0aFAIL fake line" in said[0], said[0]
    assert lines["healthy"][0].startswith("ok ") and lines["orchestrator_crash"][0].startswith("FAIL ")


def test_the_analysis_cli_prints_one_inert_line_per_item(hostile: tuple[Path, Path, str, str]) -> None:
    db, log, detected, manual = hostile
    env = {**os.environ, "PATHWATCH_DB": str(db)}
    listed = _cli("analysis", "incidents", "list", env=env)
    logs = _cli("analysis", "logs", "--incident", detected, "--log-file", str(log), env=env)
    report = _cli("analysis", "report", env=env)
    assert listed.returncode == 0 and logs.returncode == 0 and report.returncode in (0, 1), listed.stderr + logs.stderr + report.stderr
    with open_store(db) as s:
        count = len(store_incidents.list_incidents(s))
    assert len(listed.stdout.splitlines()) == count, "one incident, one line"
    assert [ln for ln in listed.stdout.splitlines() if ln.startswith(manual)][0].endswith("\\x0aFAIL fake line")
    assert len(logs.stdout.splitlines()) == 1 + 3, "a summary line, then one line per signature (text, exception, traceback)"
    for out in (listed.stdout, logs.stdout, report.stdout, listed.stderr, logs.stderr, report.stderr):
        assert "\x1b" not in out
        assert not [ln for ln in out.splitlines() if ln.startswith("FAIL fake line")], "no forged line"


# ---------------------------------------------------------------- in a real browser

#: What would make hostile words live in the DOM: links or images to them (the dashboard's own links are to
#: 127.0.0.1 with a port), scripts or handlers from them, and SVG (plotly) links.
DOM_PROBE = ("JSON.stringify({links: [...document.querySelectorAll('a[href]')].filter(a => /^javascript:|^http:\\/\\/127\\.0\\.0\\.1\\/x/i.test(a.href)).length,"
             " images: [...document.querySelectorAll('img')].filter(i => /127\\.0\\.0\\.1|^x$/.test(i.getAttribute('src') || '')).length,"
             " scripts: [...document.scripts].filter(s => s.text.includes('alert(1)')).length,"
             " handlers: [...document.querySelectorAll('[onerror]')].length,"
             " svgLinks: document.querySelectorAll('svg a').length})")


@pytest.mark.browser
def test_hostile_words_stay_text_in_a_real_browser(hostile: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    from tests.browser.harness import chromium, streamlit_dashboard, tab
    from tests.conftest import poll

    db, log, detected, _ = hostile
    pages = {"runs?run=hostile1": "Server log lines around this run", f"incidents?incident={detected}": "What the server said"}
    with streamlit_dashboard(db, tmp_path, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(log)) as base, chromium(tmp_path / "profile") as port:
        for path, heading in pages.items():
            with tab(port, f"{base}{path}") as dt:
                try:
                    poll(lambda dt=dt, heading=heading: heading in dt.text() and LINK in dt.text(), deadline_s=90, every_s=0.25)
                except AssertionError as exc:
                    raise AssertionError(f"{path}: the hostile words never showed; the page says: {dt.text()[-2500:]}") from exc
                text = dt.text().replace(five_whys.WORD_JOINER, "")
                assert IMAGE in text and SCRIPT in text and IMG in text, f"{path}: shown as text"
                assert dt.evaluate(DOM_PROBE) == '{"links":0,"images":0,"scripts":0,"handlers":0,"svgLinks":0}', (path, dt.evaluate(DOM_PROBE))
