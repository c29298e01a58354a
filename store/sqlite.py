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
from pathlib import Path
from typing import Any

from probes.outcomes import SERVED
from probes.record import EventRecord, ProbeRun
from store.errors import StoreError, StoreReadOnlyError, translate
from store.rows import (
    DAY,
    HOUR,
    RUN_COLUMNS,
    SERVER_LOG_COLUMNS,
    STARTED_TS,
    add_to_rollups,
    bin_bounds,
    iso_to_ts,
    last_bin_under,
    run_from_row,
    run_row,
    server_log_from_row,
)
from store.schema import SCHEMA_VERSION, migrate

__all__ = ["Store", "iso_to_ts", "open_store"]

BUSY_TIMEOUT_MS = 15_000
#: Extra attempts when the lock is still held after the busy timeout.
LOCK_RETRIES = 5

_INSERT_RUN = f"INSERT OR IGNORE INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})"
_INSERT_EVENT = "INSERT INTO run_events (run_id, seq, type, elapsed_ms, detail) VALUES (?, ?, ?, ?, ?)"
_SERVER_LOGS = f"SELECT {', '.join(SERVER_LOG_COLUMNS)} FROM server_logs"


def _filters(column: str, since_ts: float | None, until_ts: float | None, targets: tuple[str, ...]) -> tuple[str, list[Any]]:
    where, args = [], []
    if since_ts is not None:
        where.append(f"{column} >= ?")
        args.append(since_ts)
    if until_ts is not None:
        where.append(f"{column} < ?")
        args.append(until_ts)
    if targets:
        where.append(f"target IN ({', '.join('?' * len(targets))})")
        args.extend(targets)
    return (" WHERE " + " AND ".join(where)) if where else "", args


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
                row = run_row(run)
                cur = conn.execute(_INSERT_RUN, row)
                if cur.rowcount:
                    added += 1
                    add_to_rollups(conn, run, row[STARTED_TS])
                    conn.executemany(
                        _INSERT_EVENT,
                        [(run.run_id, i, e.type, e.elapsed_ms, e.detail) for i, e in enumerate(run.events)],
                    )
        return added

    def count_runs(self) -> int:
        return self._read("SELECT COUNT(*) FROM runs")[0][0]

    def get_run(self, run_id: str) -> ProbeRun | None:
        rows = self._read(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        run = run_from_row(rows[0])
        run.events = [
            EventRecord(t, ms, d)
            for t, ms, d in self._read("SELECT type, elapsed_ms, detail FROM run_events WHERE run_id = ? ORDER BY seq", (run_id,))
        ]
        return run

    def list_runs(self, *, since_ts: float | None = None, until_ts: float | None = None, target: str | None = None, limit: int | None = None) -> list[ProbeRun]:
        """Runs (without events) in time order; filters are optional."""
        rows = self.run_rows(RUN_COLUMNS, since_ts=since_ts, until_ts=until_ts, targets=(target,) if target else (), limit=limit)
        return [run_from_row(r) for r in rows]

    def run_rows(
        self, columns: tuple[str, ...], *, since_ts: float | None = None, until_ts: float | None = None, targets: tuple[str, ...] = (),
        limit: int | None = None, failed_only: bool = False, newest: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of the named run columns in time order: the input of ``analysis.frame.runs_frame``.

        ``failed_only`` reads through the partial index of failures; ``newest`` keeps only the last N runs.
        """
        bad = [c for c in columns if c not in RUN_COLUMNS]
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

    # Rollups (``run_hours``, ``phase_days``): long windows without reading every run.

    def hourly_rows(self, *, good_under_ms: float, since_ts: float | None = None, until_ts: float | None = None,
                    targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``rows.HOURLY_COLUMNS``, aggregated in SQL; ``good`` counts completed runs whose total latency bin
        ends under ``good_under_ms`` (the SLO's good events, exact to one bin). Hours are whole: ``since_ts`` is
        rounded down to the hour."""
        since = None if since_ts is None else since_ts // HOUR * HOUR
        where, args = _filters("hour_ts", since, until_ts, targets)
        sql = ("SELECT target, hour_ts, revision, outcome, failed_phase, close_code, SUM(n), "
               f"SUM(CASE WHEN total_bin >= 0 AND total_bin <= ? THEN n ELSE 0 END) FROM run_hours{where} "
               "GROUP BY target, hour_ts, revision, outcome, failed_phase, close_code")
        rows = self._read(sql, (last_bin_under(good_under_ms), *args))
        return [(t, h, rev or None, o, ph or None, None if code == -1 else code, n, g) for t, h, rev, o, ph, code, n, g in rows]

    def phase_histogram_rows(self, *, since_ts: float | None = None, until_ts: float | None = None,
                             targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``rows.PHASE_HISTOGRAM_COLUMNS``: per target, day, revision and phase, each latency bin's bounds
        (ms) and count. Days are whole: ``since_ts`` is rounded down to the day."""
        since = None if since_ts is None else since_ts // DAY * DAY
        where, args = _filters("day_ts", since, until_ts, targets)
        rows = self._read(f"SELECT target, day_ts, revision, phase, bin, n FROM phase_days{where}", tuple(args))
        return [(t, d, r or None, p, *bin_bounds(b), n) for t, d, r, p, b, n in rows]

    def revision_first_seen(self) -> list[tuple[str, float]]:
        """(revision, when it was first probed), oldest first: the rollup finds the hour, one index seek the run."""
        out = []
        for rev, hour in self._read("SELECT revision, MIN(hour_ts) FROM run_hours WHERE revision <> '' GROUP BY revision"):
            ts = self._read("SELECT MIN(started_ts) FROM runs WHERE started_ts >= ? AND started_ts < ? AND revision = ?",
                            (hour, hour + HOUR, rev))[0][0]
            out.append((rev, ts if ts is not None else float(hour)))
        return sorted(out, key=lambda r: r[1])

    def known_targets(self) -> list[str]:
        """Every target with a stored run, by name."""
        return [r[0] for r in self._read("SELECT DISTINCT target FROM run_hours ORDER BY target")]

    def latest_runs(self, targets: tuple[str, ...] = ()) -> list[ProbeRun]:
        """The newest run (without events) of each target, all known targets if none named (an index seek each)."""
        out = []
        for target in targets or tuple(self.known_targets()):
            rows = self._read(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE target = ? ORDER BY started_ts DESC LIMIT 1", (target,))
            if rows:
                out.append(run_from_row(rows[0]))
        return out

    def streak_start(self, target: str, ok_now: bool, from_ts: float | None) -> float | None:
        """When the target's current run of successes (or failures) began: the first run after the last opposite one.

        ``from_ts`` narrows the search (the hour of the last opposite run, from the rollup); None means the streak
        covers everything stored.
        """
        served = ", ".join(f"'{o}'" for o in sorted(SERVED))
        op = "NOT IN" if ok_now else "IN"
        args: tuple[Any, ...] = (target,) if from_ts is None else (target, from_ts)
        since = "" if from_ts is None else " AND started_ts >= ?"
        last_other = self._read(f"SELECT MAX(started_ts) FROM runs WHERE target = ?{since} AND outcome {op} ({served})", args)[0][0]
        if last_other is None:
            return self._read("SELECT MIN(started_ts) FROM runs WHERE target = ?", (target,))[0][0]
        return self._read("SELECT MIN(started_ts) FROM runs WHERE target = ? AND started_ts > ?", (target, last_other))[0][0]

    # Incidents, their five whys and deploys entered by hand: documents kept as JSON, shaped by ``analysis``.

    def incidents(self, since_ts: float | None = None) -> list[dict[str, Any]]:
        """Incident documents by start time; with ``since_ts``, those still open or ended at or after it."""
        sql = "SELECT doc_json FROM incidents"
        args: tuple[Any, ...] = ()
        if since_ts is not None:
            sql += " WHERE end_ts IS NULL OR end_ts >= ?"
            args = (since_ts,)
        return [json.loads(r[0]) for r in self._read(sql + " ORDER BY start_ts", args)]

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident document, or None."""
        rows = self._read("SELECT doc_json FROM incidents WHERE id = ?", (incident_id,))
        return json.loads(rows[0][0]) if rows else None

    def five_whys(self, incident_id: str) -> dict[str, Any] | None:
        """The five-whys annotation of an incident, or None."""
        rows = self._read("SELECT doc_json FROM five_whys WHERE incident_id = ?", (incident_id,))
        return json.loads(rows[0][0]) if rows else None

    def annotation_history(self, incident_id: str) -> list[dict[str, str]]:
        """Who changed an incident's annotation, when and what, oldest first."""
        rows = self._read("SELECT who, at, what FROM annotation_history WHERE incident_id = ? ORDER BY seq", (incident_id,))
        return [{"who": w, "at": a, "what": x} for w, a, x in rows]

    def deploy_entries(self) -> list[dict[str, Any]]:
        """Deploys entered by hand, oldest first, with their source and note."""
        rows = self._read("SELECT revision, at_ts, source, note FROM deploys ORDER BY at_ts")
        return [{"revision": r, "at_ts": t, "source": src, "note": n or ""} for r, t, src, n in rows]

    # Small state and the server's own log.

    def kv_get(self, key: str) -> str | None:
        """A small named value (a sync cursor, an incident's issue number), or None."""
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def server_logs_between(self, start_ts: float, end_ts: float) -> list[dict[str, Any]]:
        """Server log entries with ``start_ts <= ts <= end_ts``, in time order."""
        return [server_log_from_row(r) for r in self._read(f"{_SERVER_LOGS} WHERE ts >= ? AND ts <= ? ORDER BY ts", (start_ts, end_ts))]

    def server_logs_for_run(self, run_id: str) -> list[dict[str, Any]]:
        """Server log entries linked to one run, in time order."""
        return [server_log_from_row(r) for r in self._read(f"{_SERVER_LOGS} WHERE run_id = ? ORDER BY ts", (run_id,))]

    def read_rows(self, table: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read for the store's own table modules (``store.deliveries``, ``store.silences``) that keep their SQL beside their writes;
        ``table`` names the table read (kept for readers of the call site). Same reopen and error translation as every read."""
        return self._read(sql, args)

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Every read goes through here: it follows a writer that appeared after a read-only open, and translates errors.

        Private to this class: code outside it reads through the named methods above.
        """
        if self.immutable and _has_wal(Path(self.path)):
            self._reopen()  # a writer started: its commits (and checkpoints) are only safe to read through mode=ro
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.path, "read") from exc

    def _reopen(self) -> None:
        self.conn.close()
        self.conn, self.immutable = _connect_read_only(Path(self.path))


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
