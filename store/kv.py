"""Small named values kept beside the data: sync cursors, an incident's GitHub issue number."""

from __future__ import annotations

from store.sqlite import Store


def get(store: Store, key: str) -> str | None:
    """The value under ``key``, or None."""
    return store.kv_get(key)


def put(store: Store, key: str, value: str) -> None:
    """Set ``key`` to ``value`` in its own transaction."""
    with store.write(f"save {key}") as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
