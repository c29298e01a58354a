"""SQLite store: WAL, foreign keys, a busy timeout, each run written in one transaction.

Several probe processes and a dashboard may use one file at once: writers take
the lock up front (``BEGIN IMMEDIATE``) and wait for it rather than fail, and
readers never block writers in WAL mode.

A store opened ``read_only`` creates nothing, writes nothing and migrates nothing (a wall screen, a
read-only mount): it reads through SQLite's ``mode=ro`` when a writer's ``-wal`` and ``-shm`` files are
there, and otherwise reads the main file as ``immutable`` (a plain ``mode=ro`` would create both files),
switching to ``mode=ro`` as soon as a writer appears.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from probes.phases import MARK_FAILURE, MARK_START_AGENT_SENT, PHASES
from probes.record import EventRecord, ProbeRun
from store import rollup
from store.errors import StoreError, StoreReadOnlyError, translate
from store.schema import PHASE_COLUMNS, SCHEMA_VERSION, migrate

BUSY_TIMEOUT_MS = 15_000
#: Extra attempts when the lock is still held after the busy timeout.
LOCK_RETRIES = 5

#: The columns of ``runs`` as migration 1 made them (frozen: earlier migrations read only these).
RUN_COLUMNS_V1 = (
    "run_id", "target", "url", "started_at", "started_ts", "environment", "revision", "revision_after",
    "outcome", "failed_phase", "close_code", "close_reason", "http_status", "error", "total_ms",
    "ms_to_start_agent", "ms_to_failure", *PHASE_COLUMNS.values(), "elapsed_json", "tags_json",
    "thread_id", "user_id",
)
_RUN_COLUMNS = (*RUN_COLUMNS_V1, "dialect", "server_run_id", "server_user_id", "auth_canary")
_TS = _RUN_COLUMNS.index("started_ts")
_INSERT_RUN = f"INSERT OR IGNORE INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})"
_INSERT_EVENT = "INSERT INTO run_events (run_id, seq, type, elapsed_ms, detail) VALUES (?, ?, ?, ?, ?)"


def iso_to_ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _run_row(run: ProbeRun) -> tuple[Any, ...]:
    return (
        run.run_id, run.target, run.url, run.started_at, iso_to_ts(run.started_at), run.tags.get("environment"),
        run.revision, run.revision_after, run.outcome, run.failed_phase, run.close_code, run.close_reason,
        run.http_status, run.error, run.total_ms,
        run.elapsed_ms.get(MARK_START_AGENT_SENT), run.elapsed_ms.get(MARK_FAILURE),
        *(run.phases_ms.get(p) for p in PHASES),
        json.dumps(run.elapsed_ms, sort_keys=True), json.dumps(run.tags, sort_keys=True),
        run.thread_id, run.user_id, run.dialect, run.server_run_id, run.server_user_id, run.auth_canary,
    )


class Store:
    """One SQLite file. Open with :func:`open_store`."""

    def __init__(self, conn: sqlite3.Connection, path: str, *, read_only: bool = False, immutable: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.read_only = read_only
        #: Read-only and reading the main file alone, because no writer's -wal/-shm existed at open time.
        self.immutable = immutable

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A write transaction that waits for the lock and rolls back whole on any error."""
        if self.read_only:
            raise StoreReadOnlyError(f"store {self.path}: opened read-only; cannot {doing}")
        for attempt in range(LOCK_RETRIES + 1):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == LOCK_RETRIES:
                    raise translate(exc, self.path, doing) from exc
                time.sleep(0.05 * (attempt + 1))
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise translate(exc, self.path, doing) from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (a full disk among them).
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def save_run(self, run: ProbeRun) -> bool:
        """Write one run and its events atomically; False if a run with this id was already there."""
        return self.save_runs([run]) == 1

    def save_runs(self, runs: Iterable[ProbeRun], kv_updates: dict[str, str] | None = None) -> int:
        """Write runs in one transaction, skipping ids already stored; returns how many were new.

        ``kv_updates`` (e.g. a sync cursor) commit in the same transaction as the runs.
        """
        added = 0
        with self.write("save runs") as conn:
            for key, value in (kv_updates or {}).items():
                conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
            for run in runs:
                row = _run_row(run)
                cur = conn.execute(_INSERT_RUN, row)
                if cur.rowcount:
                    added += 1
                    rollup.add_run(conn, run, row[_TS])
                    conn.executemany(
                        _INSERT_EVENT,
                        [(run.run_id, i, e.type, e.elapsed_ms, e.detail) for i, e in enumerate(run.events)],
                    )
        return added

    def count_runs(self) -> int:
        return self._read("SELECT COUNT(*) FROM runs")[0][0]

    def get_run(self, run_id: str) -> ProbeRun | None:
        rows = self._read(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        run = _run_from_row(rows[0])
        run.events = [
            EventRecord(t, ms, d)
            for t, ms, d in self._read("SELECT type, elapsed_ms, detail FROM run_events WHERE run_id = ? ORDER BY seq", (run_id,))
        ]
        return run

    def list_runs(self, *, since_ts: float | None = None, until_ts: float | None = None, target: str | None = None, limit: int | None = None) -> list[ProbeRun]:
        """Runs (without events) in time order; filters are optional."""
        rows = self.run_rows(_RUN_COLUMNS, since_ts=since_ts, until_ts=until_ts, targets=(target,) if target else (), limit=limit)
        return [_run_from_row(r) for r in rows]

    def run_rows(
        self, columns: tuple[str, ...], *, since_ts: float | None = None, until_ts: float | None = None, targets: tuple[str, ...] = (),
        limit: int | None = None, failed_only: bool = False, newest: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of the named run columns in time order: the input of ``analysis.frame.runs_frame``.

        ``failed_only`` reads through the partial index of failures; ``newest`` keeps only the last N runs.
        """
        bad = [c for c in columns if c not in _RUN_COLUMNS]
        if bad:
            raise StoreError(f"store {self.path}: unknown run column(s) {bad}")
        where, args = [], []
        if since_ts is not None:
            where.append("started_ts >= ?")
            args.append(since_ts)
        if until_ts is not None:
            where.append("started_ts < ?")
            args.append(until_ts)
        if targets:
            where.append(f"target IN ({', '.join('?' * len(targets))})")
            args.extend(targets)
        if failed_only:
            where.append("outcome <> 'ok'")
        sql = f"SELECT {', '.join(columns)} FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        if newest is not None:
            rows = self._read(sql + f" ORDER BY started_ts DESC, run_id DESC LIMIT {int(newest)}", tuple(args))
            return rows[::-1]
        sql += " ORDER BY started_ts, run_id" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return self._read(sql, tuple(args))

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.immutable and _has_wal(Path(self.path)):
            self._reopen()  # a writer started: its commits (and checkpoints) are only safe to read through mode=ro
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.path, "read") from exc

    def _reopen(self) -> None:
        self.conn.close()
        self.conn, self.immutable = _connect_read_only(Path(self.path))


def _run_from_row(row: tuple[Any, ...], columns: tuple[str, ...] = _RUN_COLUMNS) -> ProbeRun:
    d = dict(zip(columns, row, strict=True))
    return ProbeRun(
        run_id=d["run_id"], target=d["target"], url=d["url"], started_at=d["started_at"], outcome=d["outcome"],
        failed_phase=d["failed_phase"], revision=d["revision"], revision_after=d["revision_after"],
        tags=json.loads(d["tags_json"]), close_code=d["close_code"], close_reason=d["close_reason"],
        http_status=d["http_status"], error=d["error"],
        phases_ms={p: d[c] for p, c in PHASE_COLUMNS.items()}, elapsed_ms=json.loads(d["elapsed_json"]),
        total_ms=d["total_ms"], thread_id=d["thread_id"], user_id=d["user_id"], dialect=d.get("dialect"),
        server_run_id=d.get("server_run_id"), server_user_id=d.get("server_user_id"), auth_canary=d.get("auth_canary"),
    )


def open_store(path: str | Path, *, read_only: bool = False, readonly: bool | None = None) -> Store:
    """Open the SQLite store at ``path``: writable (creating and migrating it if needed), or ``read_only``.

    Read-only creates nothing, runs no migration and fails clearly on a missing file, a file that is not
    a Pathwatch store, or a schema older or newer than this Pathwatch. ``readonly`` is the former spelling.
    """
    read_only = read_only if readonly is None else readonly
    p = Path(path)
    if read_only:
        return _open_read_only(p)
    if p.is_dir():
        raise StoreError(f"store {p}: not writable: it is a directory; name a file")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except sqlite3.Error as exc:
        raise translate(exc, str(p), "open") from exc
    except OSError as exc:
        why = "a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError) else exc.strerror
        raise StoreError(f"store {p}: not writable: cannot create its folder {str(p.parent)!r} ({why})") from exc
    return Store(conn, str(p))


def _has_wal(p: Path) -> bool:
    return os.path.exists(f"{p}-wal") and os.path.exists(f"{p}-shm")


def _connect_read_only(p: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection that can create nothing: mode=ro over a writer's -wal/-shm, else immutable. Returns (conn, immutable)."""
    immutable = not _has_wal(p)
    uri = p.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only = ON")
    return conn, immutable


def _open_read_only(p: Path) -> Store:
    if not p.exists():
        raise StoreError(f"store {p}: no such file; a read-only view creates no store (check PATHWATCH_DB or --db, or run a probe first)")
    if not p.is_file():
        raise StoreError(f"store {p}: not a file")
    try:
        conn, immutable = _connect_read_only(p)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()[0]
    except sqlite3.Error as exc:
        raise translate(exc, str(p), "open read-only") from exc
    if not tables:
        conn.close()
        raise StoreError(f"store {p}: not a Pathwatch store (no runs table)")
    if version != SCHEMA_VERSION:
        conn.close()
        what = "older" if version < SCHEMA_VERSION else "newer"
        fix = ("open it once writable (run a probe or `python -m analysis incidents detect`) to migrate it"
               if version < SCHEMA_VERSION else "upgrade Pathwatch")
        raise StoreError(f"store {p}: schema version {version} is {what} than this Pathwatch's ({SCHEMA_VERSION}); "
                         f"a read-only view never migrates: {fix}")
    return Store(conn, str(p), read_only=True, immutable=immutable)
