"""The Alerting page in AppTest: channels by name and kind (never a URL), a failing channel in one sentence, the ledger;
and the overview's one warning line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis import incidents
from analysis.frame import from_runs
from services.incidents import save_incidents
from store import deliveries
from store.sqlite import open_store
from tests.fixtures.record import load_fixture
from tests.pages.harness import app_test, as_read, open_page, shown_text

SECRET_URL = "https://hooks.slack.example/services/T000/B000/XXXXsecretXXXX"


def test_alerting_page_shows_channels_failures_and_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "alerts.db"
    now = time.time()
    with open_store(db) as s:
        runs = load_fixture()  # the recorded crash story (no live recording: keeps the test quick)
        s.save_runs(runs)
        save_incidents(s, incidents.detect(from_runs(runs)), now=now)
        deliveries.enqueue(s, [("incident:INC-1:open", "slack", "open", "INC-1", "incident:INC-1", {"key": "incident:INC-1:open"}, "pending"),
                               ("incident:INC-1:open", "am", "open", "INC-1", "incident:INC-1", {"key": "incident:INC-1:open"}, "pending")], now=now)
        for _ in range(3):
            r = deliveries.claim(s, "t", now=now + 10_000, lease_s=60, channels=("slack",))
            assert r is not None
            deliveries.record(s, r["id"], "t", ok=False, status=404, response="**404** Not Found", now=now, next_ts=now, dead=False)
        r = deliveries.claim(s, "t", now=now, lease_s=60, channels=("am",))
        assert r is not None
        deliveries.record(s, r["id"], "t", ok=True, status=200, response="", now=now, next_ts=None, dead=False)
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[[alerting.channels]]\nname = "slack"\nkind = "apprise"\nurl = "{SECRET_URL}"\n'
                        '[[alerting.channels]]\nname = "am"\nkind = "alertmanager"\nurl_env = "AM_URL"\n')
    at = open_page(app_test(db, monkeypatch, PATHWATCH_SETTINGS=str(settings)), "pages/alerts.py")
    assert not at.exception
    text = shown_text(at)
    assert "slack: 1 failed delivery, last 404" in text
    frames = [df.value for df in at.dataframe]
    channels = frames[0]
    assert list(channels["channel"]) == ["slack", "am"] and list(channels["url from"]) == ["settings file", "environment $AM_URL"]
    ledger = frames[1]
    assert sorted(zip(ledger["channel"], ledger["state"], ledger["attempts"], strict=True)) == [("am", "sent", 1), ("slack", "failed", 3)]
    assert SECRET_URL not in text and all(SECRET_URL not in df.to_csv() for df in frames)
    overview = open_page(app_test(db, monkeypatch, PATHWATCH_SETTINGS=str(settings)), "pages/overview.py")
    assert [as_read(w.value) for w in overview.warning if "Alerting" in w.value] == ["Alerting: slack: 1 failed delivery, last 404 (see the Alerting page)"]
