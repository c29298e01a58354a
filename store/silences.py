"""Silences (maintenance windows): added and expired with who and when, never deleted.

Rows are plain dicts; their meaning (which silence covers what, when) belongs to ``analysis.silences``.
An id is ``S<n>``: ``n`` comes from SQLite's AUTOINCREMENT, so two processes adding at once get two ids.
"""

from __future__ import annotations

from typing import Any

from store.sqlite import Store

COLUMNS = ("seq", "target", "group", "starts_ts", "until_ts", "reason", "author", "created_ts", "expired_ts", "expired_by")
#: The columns above as stored (the group's column is ``grp``: GROUP is an SQL word).
_SELECT = "SELECT seq, target, grp, starts_ts, until_ts, reason, author, created_ts, expired_ts, expired_by FROM silences"


def _doc(row: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(COLUMNS, row, strict=True))
    d["id"] = f"S{d.pop('seq')}"
    return d


def seq_of(silence_id: str) -> int | None:
    """The number in ``S12`` (or ``12``), or None when the text is not a silence id."""
    text = silence_id.strip()
    text = text[1:] if text[:1] in ("S", "s") else text
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def add_silence(store: Store, *, target: str | None, group: str | None, starts_ts: float, until_ts: float, reason: str,
                author: str, created_ts: float) -> dict[str, Any]:
    """Record one silence (exactly one of ``target`` / ``group``) and return it with its new id."""
    with store.write("add a silence") as conn:
        cur = conn.execute(
            "INSERT INTO silences (target, grp, starts_ts, until_ts, reason, author, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (target, group, starts_ts, until_ts, reason, author, created_ts),
        )
        seq = cur.lastrowid
    return _doc((seq, target, group, starts_ts, until_ts, reason, author, created_ts, None, None))


def expire_silence(store: Store, silence_id: str, *, author: str, at_ts: float) -> tuple[dict[str, Any] | None, bool]:
    """End a silence now, recording who and when. Returns (the silence, whether this call ended it): a silence already
    expired or already over is left as it is; (None, False) when there is no such silence."""
    seq = seq_of(silence_id)
    with store.write("expire a silence") as conn:
        row = None if seq is None else conn.execute(f"{_SELECT} WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return None, False
        if row[8] is not None or row[4] <= at_ts:
            return _doc(row), False
        conn.execute("UPDATE silences SET expired_ts = ?, expired_by = ? WHERE seq = ? AND expired_ts IS NULL", (at_ts, author, seq))
    return _doc((*row[:8], at_ts, author)), True


def list_silences(store: Store, *, ending_after: float | None = None) -> list[dict[str, Any]]:
    """Every silence, oldest first; with ``ending_after``, only those that end (or were expired) after it."""
    where = "" if ending_after is None else " WHERE MIN(until_ts, COALESCE(expired_ts, until_ts)) > ?"
    args: tuple[Any, ...] = () if ending_after is None else (ending_after,)
    return [_doc(r) for r in store.read_rows("silences", f"{_SELECT}{where} ORDER BY seq", args)]
