"""Server log entries fetched from Cloud Logging or the sandbox's file, kept so pages never refetch."""

from __future__ import annotations

import json
from typing import Any

from store.rows import SERVER_LOG_COLUMNS
from store.sqlite import Store

COLUMNS = SERVER_LOG_COLUMNS


def save(store: Store, rows: list[dict[str, Any]]) -> int:
    """Insert rows (dicts with COLUMNS but ``entry`` instead of ``entry_json``); entries already kept are updated (run links)."""
    with store.write("save server log entries") as conn:
        before = conn.total_changes
        conn.executemany(
            f"INSERT INTO server_logs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            "ON CONFLICT(insert_id) DO UPDATE SET run_id = COALESCE(excluded.run_id, run_id), signature = excluded.signature",
            [(r["insert_id"], r["ts"], r["severity"], r.get("service"), r.get("revision"), r.get("session"), r.get("signature"),
              r.get("run_id"), r["source"], json.dumps(r["entry"], sort_keys=True)) for r in rows],
        )
        return conn.total_changes - before


def in_window(store: Store, start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    """Entries with ``start_ts <= ts <= end_ts``, in time order."""
    return store.server_logs_between(start_ts, end_ts)


def for_run(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Entries linked to one run, in time order."""
    return store.server_logs_for_run(run_id)
