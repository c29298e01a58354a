"""The schema as numbered forward migrations; ``PRAGMA user_version`` holds the version applied.

Every DDL statement of the store lives here. A migration that reads existing rows reads the columns
of its own schema version (``rows.RUN_COLUMNS_V1`` and so on), so a column added later never breaks
upgrading an old store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from store.errors import StoreError
from store.rows import PHASE_COLUMNS, RUN_COLUMNS_V1, add_to_rollups, run_from_row

__all__ = ["MIGRATIONS", "PHASE_COLUMNS", "SCHEMA_VERSION", "migrate"]

_PHASE_COLUMNS_SQL = ",\n    ".join(f"{c} REAL" for c in PHASE_COLUMNS.values())

#: Migration 3: hourly and daily rollups for long windows (see ``store.rollup``).
_ROLLUP_TABLES = """
CREATE TABLE run_hours (
    target TEXT NOT NULL,
    hour_ts INTEGER NOT NULL,
    revision TEXT NOT NULL,
    outcome TEXT NOT NULL,
    failed_phase TEXT NOT NULL,
    close_code INTEGER NOT NULL,
    total_bin INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (target, hour_ts, revision, outcome, failed_phase, close_code, total_bin)
) WITHOUT ROWID;
CREATE INDEX run_hours_by_time ON run_hours(hour_ts);
CREATE TABLE phase_days (
    target TEXT NOT NULL,
    day_ts INTEGER NOT NULL,
    revision TEXT NOT NULL,
    phase TEXT NOT NULL,
    bin INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (target, day_ts, revision, phase, bin)
) WITHOUT ROWID;
CREATE INDEX phase_days_by_time ON phase_days(day_ts);
CREATE INDEX runs_failed_by_time ON runs(started_ts) WHERE outcome <> 'ok'
"""


def _backfill_rollups(conn: sqlite3.Connection) -> None:
    """Migration 4: build the rollups from the runs already stored.

    It reads the columns of ``runs`` as version 3 has them (``RUN_COLUMNS_V1``): columns added by a later
    migration do not exist yet in the store being upgraded.
    """
    started_ts = RUN_COLUMNS_V1.index("started_ts")
    cur = conn.execute(f"SELECT {', '.join(RUN_COLUMNS_V1)} FROM runs")
    while rows := cur.fetchmany(10_000):
        for row in rows:
            add_to_rollups(conn, run_from_row(row, RUN_COLUMNS_V1), row[started_ts])


#: Each migration is SQL (statements separated by ';') or a function of the connection.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # 1: runs and their events
    f"""
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        url TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_ts REAL NOT NULL,
        environment TEXT,
        revision TEXT,
        revision_after TEXT,
        outcome TEXT NOT NULL,
        failed_phase TEXT,
        close_code INTEGER,
        close_reason TEXT,
        http_status INTEGER,
        error TEXT,
        total_ms REAL,
        ms_to_start_agent REAL,
        ms_to_failure REAL,
        {_PHASE_COLUMNS_SQL},
        elapsed_json TEXT NOT NULL,
        tags_json TEXT NOT NULL,
        thread_id TEXT,
        user_id TEXT
    );
    CREATE INDEX runs_by_time ON runs(started_ts);
    CREATE INDEX runs_by_target_time ON runs(target, started_ts);
    CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        elapsed_ms REAL NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    """,
    # 2: incidents, their five whys (with an edit history) and manual deploy entries
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        start_ts REAL NOT NULL,
        end_ts REAL,
        doc_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX incidents_by_start ON incidents(start_ts);
    CREATE TABLE five_whys (
        incident_id TEXT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
        doc_json TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE annotation_history (
        incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        who TEXT NOT NULL,
        at TEXT NOT NULL,
        what TEXT NOT NULL,
        PRIMARY KEY (incident_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE deploys (
        revision TEXT NOT NULL,
        at_ts REAL NOT NULL,
        source TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (revision, at_ts)
    ) WITHOUT ROWID;
    """,
    # 3: hourly and daily rollup tables for long windows
    _ROLLUP_TABLES,
    # 4: the rollups of the runs already stored
    _backfill_rollups,
    # 5: small key-value state (sync cursors, incident -> GitHub issue) and the server log entries fetched
    """
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE server_logs (
        insert_id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        severity TEXT NOT NULL,
        service TEXT,
        revision TEXT,
        session TEXT,
        signature TEXT,
        run_id TEXT,
        source TEXT NOT NULL,
        entry_json TEXT NOT NULL
    );
    CREATE INDEX server_logs_by_time ON server_logs(ts);
    CREATE INDEX server_logs_by_run ON server_logs(run_id);
    """,
    # 6: what the server said about itself (dialect, its run id, the user it assigned) and the auth canary's verdict
    """
    ALTER TABLE runs ADD COLUMN dialect TEXT;
    ALTER TABLE runs ADD COLUMN server_run_id TEXT;
    ALTER TABLE runs ADD COLUMN server_user_id TEXT;
    ALTER TABLE runs ADD COLUMN auth_canary TEXT;
    """,
    # 7: the W3C trace id each run sent in traceparent (joins the backend's spans and log lines to the run)
    """
    ALTER TABLE runs ADD COLUMN trace_id TEXT;
    CREATE INDEX runs_by_trace ON runs(trace_id) WHERE trace_id IS NOT NULL;
    """,
    # 8: the alerting outbox, one row per (notice key, channel): what was sent where, when, the answer, retries
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        notice_key TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        incident_id TEXT,
        thread TEXT NOT NULL DEFAULT '',
        notice_json TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_ts REAL NOT NULL,
        next_ts REAL NOT NULL,
        lease_owner TEXT,
        lease_until REAL,
        last_ts REAL,
        sent_ts REAL,
        status INTEGER,
        response TEXT NOT NULL DEFAULT '',
        UNIQUE (notice_key, channel)
    );
    CREATE INDEX deliveries_due ON deliveries(state, next_ts);
    CREATE INDEX deliveries_by_incident ON deliveries(incident_id);
    CREATE INDEX deliveries_by_thread ON deliveries(channel, thread, id);
    CREATE INDEX deliveries_by_time ON deliveries(created_ts);
    """,
    # 9: silences (maintenance windows) on a target or a target group, with who added and who expired them; never deleted
    """
    CREATE TABLE silences (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT,
        grp TEXT,
        starts_ts REAL NOT NULL,
        until_ts REAL NOT NULL,
        reason TEXT NOT NULL,
        author TEXT NOT NULL,
        created_ts REAL NOT NULL,
        expired_ts REAL,
        expired_by TEXT,
        CHECK ((target IS NULL) <> (grp IS NULL)),
        CHECK (until_ts > starts_ts)
    );
    CREATE INDEX silences_by_until ON silences(until_ts);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database's version, each in its own transaction."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise StoreError(f"database schema version {current} is newer than this Pathwatch ({SCHEMA_VERSION}); upgrade Pathwatch")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
                conn.execute("COMMIT")
                continue
            step = MIGRATIONS[version - 1]
            if callable(step):
                step(conn)
            else:
                for statement in step.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
