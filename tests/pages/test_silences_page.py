"""The Silences page and the policy on the other pages, in AppTest on a copy of the story store: a writer adds and
expires a silence (recorded with who and when), a read-only view has no editor and writes nothing; an incident under a
silence shows "silenced" with the reason and the end, one held for want of a quorum names its location, and a target
whose probe stopped shows "no data since T" on the overview."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.incidents import Incident
from probes.timeutil import iso
from services import silences as svc
from services.incidents import save_incidents
from store.sqlite import open_store
from tests.conftest import copy_store
from tests.pages.harness import app_test, as_read, open_page, shown_text
from tests.store.test_sqlite import make_run

PAGE = "pages/silences.py"


@pytest.fixture
def db(story_db: Path, tmp_path: Path) -> Path:
    return copy_store(story_db, tmp_path / "silences.db")


def _stored(db: Path) -> list:  # type: ignore[type-arg]
    with open_store(db, read_only=True) as s:
        return svc.all_silences(s)


def test_a_writer_adds_and_expires_a_silence_with_who_and_when(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(db, monkeypatch)
    open_page(at, PAGE)
    assert not at.exception, [e.message for e in at.exception]
    assert "No silence is active" in shown_text(at)
    at.text_input(key="author_name").input("alice")
    at.text_input(key="sil_name").input("us-central1")
    at.text_input(key="sil_reason").input("planned DB failover")
    at.button[0].click()  # the form's submit button: AppTest keeps no key on it
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    [s] = _stored(db)
    assert (s.target, s.reason, s.author, s.expired_ts) == ("us-central1", "planned DB failover", "alice", None)
    assert any("Added S1" in m.value for m in at.success), [m.value for m in at.success]
    at.button(key="sil_expire").click().run()
    [s] = _stored(db)
    assert s.expired_by == "alice" and s.expired_ts is not None and s.state(time.time()) == "expired"


def test_bad_input_on_the_form_is_named_and_nothing_is_stored(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(db, monkeypatch)
    open_page(at, PAGE)
    at.text_input(key="author_name").input("alice")
    at.text_input(key="sil_name").input("us-central1")
    at.text_input(key="sil_until").input("next tuesday")
    at.text_input(key="sil_reason").input("r")
    at.button[0].click()
    at.run()
    assert not at.exception and _stored(db) == []
    assert any("Until 'next tuesday'" in e.value for e in at.error), [e.value for e in at.error]


def test_read_only_lists_silences_without_an_editor_and_writes_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(db) as s:
        svc.add_silence(s, target="us-central1", group=None, until_ts=time.time() + 3600, reason="failover", author="bob", now=time.time())
    before = db.read_bytes()
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1")
    open_page(at, PAGE)
    assert not at.exception, [e.message for e in at.exception]
    table = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert list(table["id"]) == ["S1"] and list(table["by"]) == ["bob"] and list(table["state"]) == ["active"]
    assert not [t for t in at.text_input if t.key in ("sil_name", "sil_reason")] and not [b for b in at.button if b.key == "sil_expire"]
    assert "Read-only view" in shown_text(at)
    assert db.read_bytes() == before


def test_a_silenced_incident_shows_silenced_with_its_reason_and_end_on_incidents_and_overview(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    with open_store(db) as s:
        last = max(r.target for r in s.latest_runs())
        save_incidents(s, [Incident("INC-live0001", now - 300, None, (last,), (), "server_error", "1011 main mode error", 3, 3, ())], now=now)
        sil = svc.add_silence(s, target=last, group=None, until_ts=now + 7200, reason="planned DB failover", author="bob", now=now)
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1")
    at.query_params["incident"] = "INC-live0001"
    open_page(at, "pages/incidents.py")
    assert not at.exception, [e.message for e in at.exception]
    table = next(d.value for d in at.dataframe if "paging" in d.value.columns)
    assert table.set_index("id").loc["INC-live0001", "paging"] == "silenced"
    text = shown_text(at)
    assert "Silenced: silenced by S1 until " in text and "(planned DB failover)" in text
    from probes.timeutil import human_utc

    assert human_utc(sil.end_ts) in text
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1")
    open_page(at, "pages/overview.py")
    said = [as_read(m.value) for m in at.info]
    assert any("INC-live0001" in m and "silenced by S1 until " in m and "(planned DB failover)" in m for m in said), said


def test_a_lone_failing_location_is_held_and_a_stopped_probe_shows_no_data_since(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    runs = [replace(make_run(900 + 10 * k + i, target=f"gp-{loc}", started_at=iso(now - 30 - 20 * i - (3600 if loc == "asia" else 0))),
                    tags={"group": "gp", "location": f"{loc}-1"}) for k, loc in enumerate(("eu", "us", "asia")) for i in range(5)]
    with open_store(db) as s:
        s.save_runs(runs)
        save_incidents(s, [Incident("INC-eu000001", now - 300, None, ("gp-eu",), (), "server_error", "1011 main mode error", 3, 3, ())], now=now)
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1")
    at.query_params["incident"] = "INC-eu000001"
    open_page(at, "pages/incidents.py")
    assert not at.exception, [e.message for e in at.exception]
    assert "Not paged: only eu-1 of gp's 3 locations is failing (quorum 2): that location's problem; not paged." in shown_text(at)
    at = app_test(db, monkeypatch, PATHWATCH_READ_ONLY="1")
    open_page(at, "pages/overview.py")
    lines = [as_read(e.value) for e in at.error if "No data from" in as_read(e.value)]
    mine = [ln for ln in lines if ln.startswith("No data from gp-")]
    assert len(mine) == 1 and mine[0].startswith("No data from gp-asia since ") and "the probe itself has stopped" in mine[0], lines
    assert "a run was due every 20 s" in mine[0]
