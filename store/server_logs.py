"""Server log entries fetched from Cloud Logging or the sandbox's file, kept so pages never refetch."""

from __future__ import annotations

import json
from typing import Any

from store.sqlite import Store

COLUMNS = ("insert_id", "ts", "severity", "service", "revision", "session", "signature", "run_id", "source", "entry_json")


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
    rows = store._read(f"SELECT {', '.join(COLUMNS)} FROM server_logs WHERE ts >= ? AND ts <= ? ORDER BY ts", (start_ts, end_ts))
    return [_row(r) for r in rows]


def for_run(store: Store, run_id: str) -> list[dict[str, Any]]:
    rows = store._read(f"SELECT {', '.join(COLUMNS)} FROM server_logs WHERE run_id = ? ORDER BY ts", (run_id,))
    return [_row(r) for r in rows]


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(COLUMNS, r, strict=True))
    d["entry"] = json.loads(d.pop("entry_json"))
    return d
