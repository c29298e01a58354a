"""The shape of the store's rows: how a run becomes a ``runs`` row and its rollup counts, and how rows read back.

A leaf: it imports only ``probes`` record types and the standard library, so ``schema`` (migrations),
``sqlite`` (the Store) and the thin reader modules all use it without importing each other in a circle.

Column lists are frozen per schema version: a migration reads the columns of its own version
(``RUN_COLUMNS_V1`` for the rollup backfill), never the current list, so adding a column to ``runs``
cannot break upgrading an old store. Latency bins are log-spaced (ratio 2^(1/8), about 9 %).
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from probes.phases import MARK_FAILURE, MARK_START_AGENT_SENT, PHASES
from probes.record import ProbeRun
from probes.timeutil import parse_iso

#: The per-phase duration columns of ``runs``: ``ms_<phase>``.
PHASE_COLUMNS: dict[str, str] = {p: f"ms_{p}" for p in PHASES}

#: The columns of ``runs`` as migration 1 made them (frozen: a migration before 6 reads only these).
RUN_COLUMNS_V1: tuple[str, ...] = (
    "run_id", "target", "url", "started_at", "started_ts", "environment", "revision", "revision_after",
    "outcome", "failed_phase", "close_code", "close_reason", "http_status", "error", "total_ms",
    "ms_to_start_agent", "ms_to_failure", *PHASE_COLUMNS.values(), "elapsed_json", "tags_json",
    "thread_id", "user_id",
)
#: The columns migration 6 added: what the server said about itself and the auth canary's verdict.
RUN_COLUMNS_V6_ADDED: tuple[str, ...] = ("dialect", "server_run_id", "server_user_id", "auth_canary")
#: The column migration 7 added: the W3C trace id the run sent in ``traceparent``.
RUN_COLUMNS_V7_ADDED: tuple[str, ...] = ("trace_id",)
#: The columns of ``runs`` now (the current schema version).
RUN_COLUMNS: tuple[str, ...] = (*RUN_COLUMNS_V1, *RUN_COLUMNS_V6_ADDED, *RUN_COLUMNS_V7_ADDED)
STARTED_TS = RUN_COLUMNS.index("started_ts")

#: The columns of ``server_logs`` (migration 5).
SERVER_LOG_COLUMNS: tuple[str, ...] = (
    "insert_id", "ts", "severity", "service", "revision", "session", "signature", "run_id", "source", "entry_json",
)

#: Rows of ``Store.hourly_rows`` and ``Store.phase_histogram_rows``.
HOURLY_COLUMNS: tuple[str, ...] = ("target", "hour_ts", "revision", "outcome", "failed_phase", "close_code", "n", "good")
PHASE_HISTOGRAM_COLUMNS: tuple[str, ...] = ("target", "day_ts", "revision", "phase", "lower_ms", "upper_ms", "n")

BIN_RATIO = 2 ** 0.125
_LOG_RATIO = math.log(BIN_RATIO)
HOUR = 3600
DAY = 86400


def iso_to_ts(iso: str) -> float:
    """Seconds since the epoch of a stored UTC ISO 8601 time (``Z`` or an offset; see :mod:`probes.timeutil`)."""
    return parse_iso(iso)


def run_row(run: ProbeRun) -> tuple[Any, ...]:
    """The ``runs`` row of a run, in the order of ``RUN_COLUMNS``."""
    return (
        run.run_id, run.target, run.url, run.started_at, iso_to_ts(run.started_at), run.tags.get("environment"),
        run.revision, run.revision_after, run.outcome, run.failed_phase, run.close_code, run.close_reason,
        run.http_status, run.error, run.total_ms,
        run.elapsed_ms.get(MARK_START_AGENT_SENT), run.elapsed_ms.get(MARK_FAILURE),
        *(run.phases_ms.get(p) for p in PHASES),
        json.dumps(run.elapsed_ms, sort_keys=True), json.dumps(run.tags, sort_keys=True),
        run.thread_id, run.user_id, run.dialect, run.server_run_id, run.server_user_id, run.auth_canary, run.trace_id,
    )


def run_from_row(row: tuple[Any, ...], columns: tuple[str, ...] = RUN_COLUMNS) -> ProbeRun:
    """A run (without events) from a row of ``columns``; columns a version lacks read as None."""
    d = dict(zip(columns, row, strict=True))
    return ProbeRun(
        run_id=d["run_id"], target=d["target"], url=d["url"], started_at=d["started_at"], outcome=d["outcome"],
        failed_phase=d["failed_phase"], revision=d["revision"], revision_after=d["revision_after"],
        tags=json.loads(d["tags_json"]), close_code=d["close_code"], close_reason=d["close_reason"],
        http_status=d["http_status"], error=d["error"],
        phases_ms={p: d[c] for p, c in PHASE_COLUMNS.items()}, elapsed_ms=json.loads(d["elapsed_json"]),
        total_ms=d["total_ms"], thread_id=d["thread_id"], user_id=d["user_id"], dialect=d.get("dialect"),
        server_run_id=d.get("server_run_id"), server_user_id=d.get("server_user_id"), auth_canary=d.get("auth_canary"),
        trace_id=d.get("trace_id"),
    )


def server_log_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A server log entry from a row of ``SERVER_LOG_COLUMNS``, with ``entry`` parsed from ``entry_json``."""
    d = dict(zip(SERVER_LOG_COLUMNS, row, strict=True))
    d["entry"] = json.loads(d.pop("entry_json"))
    return d


def latency_bin(ms: float) -> int:
    """The log-spaced bin of a latency in ms."""
    return math.floor(math.log(max(ms, 0.001)) / _LOG_RATIO)


def bin_bounds(b: int) -> tuple[float, float]:
    """A bin's lower and upper bound in ms, so readers need not know the scheme."""
    return BIN_RATIO ** b, BIN_RATIO ** (b + 1)


def last_bin_under(threshold_ms: float) -> int:
    """The highest latency bin lying wholly at or under ``threshold_ms``."""
    b = latency_bin(threshold_ms)
    return b if bin_bounds(b)[1] <= threshold_ms else b - 1


_UPSERT_HOUR = (
    "INSERT INTO run_hours (target, hour_ts, revision, outcome, failed_phase, close_code, total_bin, n) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT DO UPDATE SET n = n + 1"
)
_UPSERT_PHASE = "INSERT INTO phase_days (target, day_ts, revision, phase, bin, n) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1"


def add_to_rollups(conn: sqlite3.Connection, run: ProbeRun, started_ts: float) -> None:
    """Count one new run into ``run_hours`` and ``phase_days`` (call inside the run's write transaction)."""
    hour = int(started_ts // HOUR * HOUR)
    day = int(started_ts // DAY * DAY)
    rev = run.revision or ""
    total_bin = latency_bin(run.total_ms) if run.served and run.total_ms is not None else -1
    conn.execute(_UPSERT_HOUR, (run.target, hour, rev, run.outcome, run.failed_phase or "", run.close_code if run.close_code is not None else -1, total_bin))
    conn.executemany(_UPSERT_PHASE, [(run.target, day, rev, p, latency_bin(ms)) for p in PHASES if (ms := run.phases_ms.get(p)) is not None])
