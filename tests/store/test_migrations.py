"""Upgrading an old store: a version-1 file built with raw sqlite3 opens with every migration applied,
its runs intact, its rollups backfilled exactly as if the runs had been saved today, new columns NULL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import rollup
from store.errors import StoreError
from store.rows import RUN_COLUMNS, RUN_COLUMNS_V1, RUN_COLUMNS_V6_ADDED, iso_to_ts, run_row
from store.schema import MIGRATIONS, SCHEMA_VERSION
from store.sqlite import open_store
from tests.store.test_sqlite import make_run

RUNS = [
    make_run(1, revision="r1"),
    make_run(2, outcome="server_error", failed_phase="agent_thinking", close_code=1011, close_reason="Internal error", revision="r2"),
    make_run(3, revision="r2", target="t2", started_at="2026-11-26T03:00:00.000Z"),
]


def _version_1_store(path: Path) -> None:
    """Only migration 1, applied by hand, with the runs written as version 1 knew them."""
    step = MIGRATIONS[0]
    assert isinstance(step, str)
    conn = sqlite3.connect(path)
    conn.executescript(step)
    for run in RUNS:
        conn.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS_V1)}) VALUES ({', '.join('?' * len(RUN_COLUMNS_V1))})",
                     run_row(run)[:len(RUN_COLUMNS_V1)])
        conn.executemany("INSERT INTO run_events (run_id, seq, type, elapsed_ms, detail) VALUES (?, ?, ?, ?, ?)",
                         [(run.run_id, i, e.type, e.elapsed_ms, e.detail) for i, e in enumerate(run.events)])
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def _rollup_tables(conn: sqlite3.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (conn.execute("SELECT * FROM run_hours ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall(),
            conn.execute("SELECT * FROM phase_days ORDER BY 1, 2, 3, 4, 5").fetchall())


def test_a_version_1_store_upgrades_with_its_runs_and_rollups(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    _version_1_store(old)
    assert [r[1] for r in sqlite3.connect(old).execute("PRAGMA table_info(runs)")] == list(RUN_COLUMNS_V1)
    with open_store(fresh) as f:
        f.save_runs(RUNS)
        want_rollups = _rollup_tables(f.conn)
        want_hourly = rollup.hourly(f, good_under_ms=50)

    with open_store(old) as s:  # every migration from 2 on; the backfill reads only version 1's columns
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r[1] for r in s.conn.execute("PRAGMA table_info(runs)")] == list(RUN_COLUMNS)
        assert s.count_runs() == len(RUNS)
        for run in RUNS:
            back = s.get_run(run.run_id)
            assert back is not None and back.to_dict() == run.to_dict()
        added = s.conn.execute(f"SELECT {', '.join(RUN_COLUMNS_V6_ADDED)} FROM runs").fetchall()
        assert added == [(None,) * len(RUN_COLUMNS_V6_ADDED)] * len(RUNS)
        got_rollups = _rollup_tables(s.conn)
        assert got_rollups == want_rollups and len(got_rollups[0]) == 3 and got_rollups[1]
        assert rollup.hourly(s, good_under_ms=50) == want_hourly
        assert rollup.revision_first_seen(s) == [("r1", iso_to_ts(RUNS[0].started_at)), ("r2", iso_to_ts(RUNS[1].started_at))]
        assert s.conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 0  # later tables exist, empty
        s.save_run(make_run(4, revision="r2", dialect="netra", auth_canary="enforced"))  # and the upgraded store takes new runs
        assert s.get_run("run-000004").auth_canary == "enforced"


def test_a_failing_migration_step_rolls_back_whole(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _version_1_store(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 3")  # claim the rollup tables exist when they do not: migration 4 fails
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="run_hours"):
        open_store(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # the failed step rolled back whole
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == len(RUNS)
