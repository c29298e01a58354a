"""Migration 7: a store of version 6 gains ``runs.trace_id`` (and its index) and keeps every run it had."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from store.rows import RUN_COLUMNS, RUN_COLUMNS_V1, RUN_COLUMNS_V6_ADDED, run_row
from store.schema import MIGRATIONS, SCHEMA_VERSION
from store.sqlite import open_store
from tests.store.test_sqlite import make_run

TID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _version_6_store(path: Path) -> None:
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:6]:
        if callable(step):
            step(conn)
        else:
            conn.executescript(step)
    columns = (*RUN_COLUMNS_V1, *RUN_COLUMNS_V6_ADDED)
    run = make_run(1, dialect="netra")
    conn.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", run_row(run)[:len(columns)])
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()


def test_a_version_6_store_gains_the_trace_id_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "v6.db"
    _version_6_store(db)
    with open_store(db) as s:
        assert SCHEMA_VERSION >= 7 and s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r[1] for r in s.conn.execute("PRAGMA table_info(runs)")] == list(RUN_COLUMNS)
        old = s.get_run("run-000001")
        assert old is not None and old.dialect == "netra" and old.trace_id is None
        s.save_run(make_run(2, trace_id=TID))
        assert s.get_run("run-000002").trace_id == TID
        assert s.run_rows(("run_id", "trace_id")) == [("run-000001", None), ("run-000002", TID)]
        plan = " ".join(str(r) for r in s.conn.execute("EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE trace_id = ?", (TID,)))
        assert "runs_by_trace" in plan
