"""Small named values kept beside the data: sync cursors, an incident's GitHub issue number."""

from __future__ import annotations

from store.sqlite import Store


def get(store: Store, key: str) -> str | None:
    rows = store._read("SELECT value FROM kv WHERE key = ?", (key,))
    return rows[0][0] if rows else None


def put(store: Store, key: str, value: str) -> None:
    with store.write(f"save {key}") as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
