"""Five whys: validation names fields, drafts come from evidence, hostile text stays text, edits are recorded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis import incidents
from analysis.five_whys import AnnotationError, Countermeasure, Evidence, FiveWhys, Why, draft_whys, to_markdown, validate
from analysis.frame import from_runs
from analysis.report import build
from store import incidents as store_incidents
from store.errors import StoreError
from store.sqlite import open_store
from tests.fixtures.record import load_fixture

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "**bold** `code` # heading | pipe",
]


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    df = from_runs(load_fixture())
    return build(df, now=df["started_ts"].max() + 1)


def test_drafts_come_from_the_evidence_and_are_marked_draft(report):  # type: ignore[no-untyped-def]
    inc = report["incidents"][0]
    whys = draft_whys(inc, report["signatures"], report["fix_validations"])
    assert all(w.draft for w in whys)
    assert whys[0].question == "Why did users get no answer from the agent?"
    assert "failed: 1011 Internal error about" in whys[0].answer and "since netra-backend-staging-00291-abc" in whys[0].answer
    assert {e.kind for e in whys[0].evidence} == {"signature", "run"}
    assert any("failure_mode_changed" in w.answer or "only changed the failure" in w.answer for w in whys)
    assert "*(draft)*" in to_markdown(FiveWhys(inc["id"], whys))


@pytest.mark.parametrize(
    ("fw", "field"),
    [
        (FiveWhys("i", [Why("", "a")]), "whys[0].question"),
        (FiveWhys("i", [Why("q", "a", [Evidence("gossip", "x")])]), "whys[0].evidence[0].kind"),
        (FiveWhys("i", [Why("q", "a", [Evidence("link", "javascript:alert(1)")])]), "links must start with http"),
        (FiveWhys("i", countermeasures=[Countermeasure("fix", status="maybe")]), "countermeasures[0].status"),
        (FiveWhys("i", countermeasures=[Countermeasure("fix", due="next week")]), "countermeasures[0].due"),
        (FiveWhys("i", countermeasures=[Countermeasure("fix", tracking_link="javascript:x")]), "countermeasures[0].tracking_link"),
        (FiveWhys("i", root_cause="x" * 5000), "root_cause"),
    ],
)
def test_validation_names_the_field(fw, field):  # type: ignore[no-untyped-def]
    with pytest.raises(AnnotationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        validate(fw)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_escaped_in_markdown(text):  # type: ignore[no-untyped-def]
    fw = FiveWhys("i", [Why(text, text, [Evidence("run", text)])], root_cause=text, countermeasures=[Countermeasure(text, owner=text)])
    md = to_markdown(fw, title=text)
    assert "<script" not in md and "<img" not in md and "](javascript:" not in md
    assert "&lt;script&gt;" in md or "\\*\\*bold" in md or "\\[click me\\]" in md or "&lt;img" in md


def test_save_reload_and_history_in_the_store(db_path):  # type: ignore[no-untyped-def]
    df = from_runs(load_fixture())
    inc = incidents.detect(df)[0]
    fw = FiveWhys(inc.id, [Why("Why?", HOSTILE[0])], root_cause="orchestrator was None", countermeasures=[Countermeasure("add a startup check", "alice", "2026-12-01", "https://github.com/o/r/issues/118")])
    validate(fw)
    with open_store(db_path) as s:
        store_incidents.upsert_incidents(s, [inc.to_dict()], "t0")
        store_incidents.save_five_whys(s, inc.id, fw.to_dict(), "alice", "2026-11-25T10:00:00Z", "added why 1")
        fw.whys[0].draft = False
        store_incidents.save_five_whys(s, inc.id, fw.to_dict(), "bob", "2026-11-25T10:05:00Z", "accepted why 1")
        back = FiveWhys.from_dict(store_incidents.load_five_whys(s, inc.id))
        history = store_incidents.annotation_history(s, inc.id)
        with pytest.raises(StoreError, match="no incident"):
            store_incidents.save_five_whys(s, "INC-nope", fw.to_dict(), "x", "t", "y")
    assert back == fw and back.whys[0].answer == HOSTILE[0]
    assert [(h["who"], h["what"]) for h in history] == [("alice", "added why 1"), ("bob", "accepted why 1")]


def test_manual_incident_and_markdown_export_cli(db_path):  # type: ignore[no-untyped-def]
    run = [sys.executable, "-m", "analysis"]
    made = subprocess.run([*run, "incidents", "create", "--db", str(db_path), "--title", "Agent chat down <b>", "--start", "2026-11-25T10:00:00Z"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    inc_id = made.stdout.strip()
    listed = subprocess.run([*run, "incidents", "list", "--db", str(db_path)], capture_output=True, text=True, timeout=60)
    assert inc_id in listed.stdout and "open" in listed.stdout
    md = subprocess.run([*run, "five-whys", "--incident", inc_id, "--db", str(db_path)], capture_output=True, text=True, timeout=60)
    assert md.returncode == 0 and "Agent chat down &lt;b&gt;" in md.stdout
    missing = subprocess.run([*run, "five-whys", "--incident", "INC-none", "--db", str(db_path)], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such incident" in missing.stderr
    bad = subprocess.run([*run, "incidents", "create", "--db", str(db_path), "--title", "x", "--start", "yesterday"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
