"""Rollups kept beside the raw runs so long windows stay fast (the habit of Gatus's hourly tables).

* ``run_hours``: runs per target, hour, revision, outcome, failed phase, close code
  and total-latency bin: success rates, SLO good events (latency under a
  threshold), revision statistics and failures over time come from here.
* ``phase_days``: per-phase latency histograms per target, day and revision:
  percentiles over weeks come from here.

Both are written in the same transaction as the run, so they never disagree
with it. Latency bins are log-spaced (ratio 2^(1/8), about 9 %); readers get
each bin's bounds in ms and need not know the scheme.
"""

from __future__ import annotations

import math
import sqlite3
from typing import TYPE_CHECKING, Any

from probes.outcomes import SERVED
from probes.phases import PHASES
from probes.record import ProbeRun

if TYPE_CHECKING:
    from store.sqlite import Store

BIN_RATIO = 2 ** 0.125
_LOG_RATIO = math.log(BIN_RATIO)
HOUR = 3600
DAY = 86400

MIGRATION_SQL = """
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


def latency_bin(ms: float) -> int:
    return math.floor(math.log(max(ms, 0.001)) / _LOG_RATIO)


def bin_bounds(b: int) -> tuple[float, float]:
    return BIN_RATIO ** b, BIN_RATIO ** (b + 1)


_UPSERT_HOUR = (
    "INSERT INTO run_hours (target, hour_ts, revision, outcome, failed_phase, close_code, total_bin, n) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT DO UPDATE SET n = n + 1"
)
_UPSERT_PHASE = "INSERT INTO phase_days (target, day_ts, revision, phase, bin, n) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1"


def add_run(conn: sqlite3.Connection, run: ProbeRun, started_ts: float) -> None:
    """Count one new run into the rollups (call inside the run's write transaction)."""
    hour = int(started_ts // HOUR * HOUR)
    day = int(started_ts // DAY * DAY)
    rev = run.revision or ""
    total_bin = latency_bin(run.total_ms) if run.served and run.total_ms is not None else -1
    conn.execute(_UPSERT_HOUR, (run.target, hour, rev, run.outcome, run.failed_phase or "", run.close_code if run.close_code is not None else -1, total_bin))
    conn.executemany(_UPSERT_PHASE, [(run.target, day, rev, p, latency_bin(ms)) for p in PHASES if (ms := run.phases_ms.get(p)) is not None])


def backfill(conn: sqlite3.Connection) -> None:
    """Migration step: build the rollups from runs already stored."""
    from store.sqlite import RUN_COLUMNS_V1, _run_from_row

    # The columns of this migration's own version: columns added later do not exist yet in an old store.
    cur = conn.execute(f"SELECT {', '.join(RUN_COLUMNS_V1)} FROM runs")
    while rows := cur.fetchmany(10_000):
        for row in rows:
            run = _run_from_row(row, RUN_COLUMNS_V1)
            add_run(conn, run, row[RUN_COLUMNS_V1.index("started_ts")])


HOURLY_COLUMNS = ("target", "hour_ts", "revision", "outcome", "failed_phase", "close_code", "n", "good")
PHASE_COLUMNS = ("target", "day_ts", "revision", "phase", "lower_ms", "upper_ms", "n")


def last_bin_under(threshold_ms: float) -> int:
    """The highest latency bin lying wholly at or under ``threshold_ms``."""
    b = latency_bin(threshold_ms)
    return b if bin_bounds(b)[1] <= threshold_ms else b - 1


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


def hourly(store: Store, *, good_under_ms: float, since_ts: float | None = None, until_ts: float | None = None,
           targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of HOURLY_COLUMNS, aggregated in SQL; ``good`` counts completed runs whose total latency bin ends
    under ``good_under_ms`` (the SLO's good events, exact to one bin). Hours are whole: ``since_ts`` is
    rounded down to the hour."""
    since = None if since_ts is None else since_ts // HOUR * HOUR
    where, args = _filters("hour_ts", since, until_ts, targets)
    sql = ("SELECT target, hour_ts, revision, outcome, failed_phase, close_code, SUM(n), "
           f"SUM(CASE WHEN total_bin >= 0 AND total_bin <= ? THEN n ELSE 0 END) FROM run_hours{where} "
           "GROUP BY target, hour_ts, revision, outcome, failed_phase, close_code")
    rows = store._read(sql, (last_bin_under(good_under_ms), *args))
    return [(t, h, rev or None, o, ph or None, None if code == -1 else code, n, g) for t, h, rev, o, ph, code, n, g in rows]


def revision_first_seen(store: Store) -> list[tuple[str, float]]:
    """When each revision was first probed: the rollup finds its hour, one index seek finds the run."""
    out = []
    for rev, hour in store._read("SELECT revision, MIN(hour_ts) FROM run_hours WHERE revision <> '' GROUP BY revision"):
        ts = store._read("SELECT MIN(started_ts) FROM runs WHERE started_ts >= ? AND started_ts < ? AND revision = ?", (hour, hour + HOUR, rev))[0][0]
        out.append((rev, ts if ts is not None else float(hour)))
    return sorted(out, key=lambda r: r[1])


def phase_histograms(store: Store, *, since_ts: float | None = None, until_ts: float | None = None, targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of PHASE_COLUMNS: per target, day, revision and phase, each latency bin's bounds (ms) and count."""
    since = None if since_ts is None else since_ts // DAY * DAY
    where, args = _filters("day_ts", since, until_ts, targets)
    rows = store._read(f"SELECT target, day_ts, revision, phase, bin, n FROM phase_days{where}", tuple(args))
    return [(t, d, r or None, p, *bin_bounds(b), n) for t, d, r, p, b, n in rows]


def known_targets(store: Store) -> list[str]:
    return [r[0] for r in store._read("SELECT DISTINCT target FROM run_hours ORDER BY target")]


def latest_runs(store: Store, targets: tuple[str, ...] = ()) -> list[ProbeRun]:
    """The newest run of each target (an index seek per target)."""
    from store.sqlite import _RUN_COLUMNS, _run_from_row

    out = []
    for target in targets or tuple(known_targets(store)):
        rows = store._read(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE target = ? ORDER BY started_ts DESC LIMIT 1", (target,))
        if rows:
            out.append(_run_from_row(rows[0]))
    return out


def streak_start(store: Store, target: str, ok_now: bool, from_ts: float | None) -> float | None:
    """When the target's current run of successes (or failures) began: the first run after the last opposite one.

    ``from_ts`` narrows the search (the hour of the last opposite run, from the rollup); None means the streak
    covers everything stored.
    """
    served = ", ".join(f"'{o}'" for o in sorted(SERVED))
    op = "NOT IN" if ok_now else "IN"
    args: tuple[Any, ...] = (target,) if from_ts is None else (target, from_ts)
    since = "" if from_ts is None else " AND started_ts >= ?"
    last_other = store._read(f"SELECT MAX(started_ts) FROM runs WHERE target = ?{since} AND outcome {op} ({served})", args)[0][0]
    if last_other is None:
        first = store._read("SELECT MIN(started_ts) FROM runs WHERE target = ?", (target,))[0][0]
        return first
    nxt = store._read("SELECT MIN(started_ts) FROM runs WHERE target = ? AND started_ts > ?", (target, last_other))[0][0]
    return nxt
