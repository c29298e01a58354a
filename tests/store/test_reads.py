"""The Store's named public reads on a real file, writable and read-only, and the module functions that wrap them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import incidents, kv, rollup, server_logs
from store.rows import iso_to_ts
from store.sqlite import Store, open_store
from tests.store.test_sqlite import make_run

INCIDENTS = [
    {"id": "inc-a", "kind": "detected", "title": "1011 in agent_thinking", "start_ts": 100.0, "end_ts": 200.0},
    {"id": "inc-b", "kind": "manual", "title": "still open", "start_ts": 300.0, "end_ts": None},
]
LOGS = [
    {"insert_id": "l1", "ts": 10.0, "severity": "ERROR", "run_id": "run-000002", "source": "file", "entry": {"msg": "boom"}},
    {"insert_id": "l2", "ts": 20.0, "severity": "INFO", "source": "file", "entry": {"msg": "ok"}},
]
RUNS = [make_run(1), make_run(2, outcome="server_error", failed_phase="agent_thinking", close_code=1011),
        make_run(3), make_run(4, target="t2")]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("reads") / "r.db"
    with open_store(db) as s:
        s.save_runs(RUNS)
        kv.put(s, "cursor", "42")
        incidents.upsert_incidents(s, INCIDENTS, "2026-11-25T10:00:00Z")
        incidents.save_five_whys(s, "inc-a", {"whys": ["a"]}, "ana", "2026-11-25T10:01:00Z", "first why")
        incidents.save_five_whys(s, "inc-a", {"whys": ["a", "b"]}, "bo", "2026-11-25T10:02:00Z", "second why")
        incidents.add_deploy(s, "r2", 150.0, note="hotfix")
        server_logs.save(s, LOGS)
    return db


@pytest.fixture(params=["writable", "read_only"])
def store(request: pytest.FixtureRequest, filled: Path) -> Iterator[Store]:
    with open_store(filled, read_only=request.param == "read_only") as s:
        yield s


def test_small_state_and_server_logs(store: Store) -> None:
    assert store.kv_get("cursor") == kv.get(store, "cursor") == "42"
    assert store.kv_get("missing") is None
    between = store.server_logs_between(10.0, 20.0)
    assert [e["insert_id"] for e in between] == ["l1", "l2"] and between[0]["entry"] == {"msg": "boom"}
    assert "entry_json" not in between[0] and between == server_logs.in_window(store, 10.0, 20.0)
    assert [e["insert_id"] for e in store.server_logs_between(10.5, 20.0)] == ["l2"]
    assert [e["insert_id"] for e in store.server_logs_for_run("run-000002")] == ["l1"]
    assert server_logs.for_run(store, "run-000002") == store.server_logs_for_run("run-000002")


def test_incidents_annotations_and_deploys(store: Store) -> None:
    assert [i["id"] for i in store.incidents()] == ["inc-a", "inc-b"] == [i["id"] for i in incidents.list_incidents(store)]
    assert [i["id"] for i in store.incidents(since_ts=250.0)] == ["inc-b"]  # ended before: left out; open: kept
    assert store.incident("inc-b") == INCIDENTS[1] == incidents.get_incident(store, "inc-b")
    assert store.incident("nope") is None and store.five_whys("inc-b") is None
    assert store.five_whys("inc-a") == {"whys": ["a", "b"]} == incidents.load_five_whys(store, "inc-a")
    history = store.annotation_history("inc-a")
    assert [(h["who"], h["what"]) for h in history] == [("ana", "first why"), ("bo", "second why")]
    assert history == incidents.annotation_history(store, "inc-a")
    assert store.deploy_entries() == [{"revision": "r2", "at_ts": 150.0, "source": "manual", "note": "hotfix"}]
    assert incidents.list_deploys(store) == [("r2", 150.0)]


def test_runs_from_the_rollups(store: Store) -> None:
    assert store.known_targets() == ["t1", "t2"] == rollup.known_targets(store)
    assert [r.run_id for r in store.latest_runs()] == ["run-000003", "run-000004"]
    assert [r.run_id for r in rollup.latest_runs(store, ("t2",))] == ["run-000004"]
    # t1: ok, server_error, ok -> the current success streak began with run 3.
    assert store.streak_start("t1", True, None) == iso_to_ts(RUNS[2].started_at) == rollup.streak_start(store, "t1", True, None)
    assert store.streak_start("t2", True, None) == iso_to_ts(RUNS[3].started_at)  # never failed: since its first run
    hourly = store.hourly_rows(good_under_ms=1e9)
    assert sum(r[6] for r in hourly) == len(RUNS) and sum(r[7] for r in hourly) == 3
    assert {r[5] for r in hourly} == {None, 1011} and hourly == rollup.hourly(store, good_under_ms=1e9)
    hist = store.phase_histogram_rows(targets=("t2",))
    assert hist and all(r[0] == "t2" and r[4] < r[5] for r in hist) and hist == rollup.phase_histograms(store, targets=("t2",))
