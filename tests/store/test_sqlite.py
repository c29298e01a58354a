"""The SQLite store on real files: round trip, idempotence, migrations, concurrent writers, a full disk."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from probes.phases import PHASES
from probes.record import EventRecord, ProbeRun
from store import resolve_db_path
from store.errors import StoreError, StoreFullError
from store.schema import SCHEMA_VERSION
from store.sqlite import open_store


def make_run(i: int = 0, outcome: str = "ok", **kw) -> ProbeRun:  # type: ignore[no-untyped-def]
    phases = {p: float(i % 7 + 1) for p in PHASES} if outcome == "ok" else dict.fromkeys(PHASES)
    return ProbeRun(
        run_id=f"run-{i:06d}", target=kw.pop("target", "t1"), url="ws://127.0.0.1:1/ws",
        started_at=kw.pop("started_at", f"2026-11-25T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z"), outcome=outcome,
        phases_ms=phases, elapsed_ms={"dns": 1.0}, total_ms=10.0 + i, tags={"environment": "sandbox"},
        events=[EventRecord("connection_established", 3.0, "{}"), EventRecord("agent_started", 5.0, "{}")], **kw,
    )


def test_round_trip_keeps_every_field(db_path):  # type: ignore[no-untyped-def]
    run = make_run(1, outcome="server_error", failed_phase="agent_thinking", close_code=1011, close_reason="Internal error", revision="r1", error="closed with 1011")
    with open_store(db_path) as s:
        assert s.save_run(run) is True
        back = s.get_run(run.run_id)
    assert back is not None and back.to_dict() == run.to_dict()


def test_saving_the_same_run_twice_is_idempotent(db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        assert s.save_run(make_run(1)) is True
        assert s.save_run(make_run(1)) is False
        assert s.count_runs() == 1
        assert s.conn.execute("SELECT COUNT(*) FROM run_events").fetchone()[0] == 2


def test_wal_foreign_keys_and_schema_version(db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with open_store(db_path) as s:  # reopening migrates nothing and loses nothing
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_advice(db_path):  # type: ignore[no-untyped-def]
    open_store(db_path).close()
    c = sqlite3.connect(db_path)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    c.close()
    with pytest.raises(StoreError, match="upgrade Pathwatch"):
        open_store(db_path)


def test_list_runs_filters_by_time_and_target(db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        s.save_runs([make_run(i, target="a" if i % 2 else "b") for i in range(20)])
        all_runs = s.list_runs()
        assert [r.run_id for r in all_runs] == sorted(r.run_id for r in all_runs)
        assert len(s.list_runs(target="a")) == 10
        cut = all_runs[5]
        from store.sqlite import iso_to_ts

        assert len(s.list_runs(since_ts=iso_to_ts(cut.started_at))) == 15


def test_a_failed_batch_is_rolled_back_whole(db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        s.save_run(make_run(1))
        bad = make_run(2)
        bad.started_at = "not a time"
        with pytest.raises(ValueError):
            s.save_runs([make_run(3), bad])
        assert [r.run_id for r in s.list_runs()] == ["run-000001"]


def test_full_database_is_a_clear_error_and_keeps_earlier_runs(db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        s.save_runs([make_run(i) for i in range(5)])
        pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
        s.conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [make_run(1000 + i) for i in range(200)]
        for r in big:
            r.error = "x" * 2000
        with pytest.raises(StoreFullError, match="full"):
            s.save_runs(big)
    with open_store(db_path) as s:
        assert s.count_runs() == 5
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_unwritable_location_is_a_store_error(tmp_path):  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot"):
        open_store(blocker / "sub" / "db.sqlite")


def test_db_path_resolution_order():
    assert resolve_db_path("x.db", {"PATHWATCH_DB": "y.db"}) == Path("x.db")
    assert resolve_db_path(None, {"PATHWATCH_DB": "y.db"}) == Path("y.db")
    assert resolve_db_path(None, {}) == Path("data/pathwatch.db")


WRITER = textwrap.dedent(
    """
    import sys
    from tests.store.test_sqlite import make_run
    from store.sqlite import open_store
    path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open_store(path) as s:
        for i in range(n):
            s.save_run(make_run(worker * 100000 + i))
    """
)


def test_eight_writer_processes_and_a_reader_lose_nothing(db_path):  # type: ignore[no-untyped-def]
    open_store(db_path).close()
    n = 60
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), str(w), str(n)], stderr=subprocess.PIPE, text=True) for w in range(8)]
    seen = 0
    with open_store(db_path, read_only=True) as reader:
        while any(p.poll() is None for p in procs):
            seen = max(seen, reader.count_runs())  # reading while they write never raises "locked"
    errors = [p.stderr.read() for p in procs if p.wait() != 0]
    assert not errors, errors
    with open_store(db_path) as s:
        assert s.count_runs() == 8 * n
        assert s.conn.execute("SELECT COUNT(*) FROM run_events").fetchone()[0] == 8 * n * 2
