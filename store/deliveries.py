"""The alerting outbox (delivery ledger): one row per (notice key, channel), what was sent where, when, the answer.

Exactly once, and where that stops being true:

- enqueue is ``INSERT OR IGNORE`` on the UNIQUE (notice key, channel) in one write transaction, so any number of
  ``detect`` / ``notify`` passes planning the same notice leave one row;
- a row is sent by whoever *claims* it: an atomic ``UPDATE`` in a write transaction (``BEGIN IMMEDIATE``) that sets a
  lease only when the row is due and unleased (or its lease expired); one process wins, the others see rowcount 0;
- a process that dies mid-send leaves its lease: when it expires the row is claimed again and retried.
- The one gap: a process that dies *after the channel accepted* but before it wrote ``sent`` re-sends once after the
  lease expires. Each channel dedupes that re-send: Alertmanager merges alerts with the same labels (a second POST of
  a firing alert is no new notification); PagerDuty merges events with the same ``dedup_key``; a webhook (Apprise)
  receives the notice key in the body, so the receiver can drop a key it has seen.

States: ``pending`` (never tried), ``failed`` (retrying at ``next_ts``, exponential backoff), ``sent``, ``dead`` (gave
up after the last attempt), ``skipped`` (nothing to send on this channel, e.g. Alertmanager repeats by itself).
The response text is bounded and redacted by the caller and never holds the channel's URL (a credential).
"""

from __future__ import annotations

import json
from typing import Any

from store.sqlite import Store

STATES = ("pending", "failed", "sent", "dead", "skipped")
#: Columns of a ledger row as :func:`latest` and :func:`claim` return them.
COLUMNS = ("id", "notice_key", "channel", "kind", "incident_id", "notice_json", "state", "attempts", "created_ts", "next_ts",
           "lease_owner", "lease_until", "last_ts", "sent_ts", "status", "response")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM deliveries"


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(COLUMNS, r, strict=True))
    d["notice"] = json.loads(d.pop("notice_json"))
    return d


def enqueue(store: Store, rows: list[tuple[str, str, str, str | None, str, dict[str, Any], str]], *, now: float) -> int:
    """Add (key, channel, kind, incident id, thread, notice document, state) rows in one transaction, skipping any (key,
    channel) already there; returns how many were new. ``state`` is ``pending`` or ``skipped``; ``thread`` names what
    the notice continues (its incident, a target's stop), so a channel hears a thread's notices in order."""
    if not rows:
        return 0
    with store.write("enqueue notices") as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO deliveries (notice_key, channel, kind, incident_id, thread, notice_json, state, created_ts, next_ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(k, c, kind, inc, thread, json.dumps(doc, sort_keys=True), state, now, now) for k, c, kind, inc, thread, doc, state in rows])
        return conn.total_changes - before


def claim(store: Store, owner: str, *, now: float, lease_s: float, channels: tuple[str, ...],
          due_by: float | None = None) -> dict[str, Any] | None:
    """Take the oldest row of ``channels`` due by ``due_by`` (default ``now``) for ``owner`` until ``now + lease_s``, or
    None when nothing is due. A pass passes its start as ``due_by``, so a row that failed during it waits for the next.

    One atomic UPDATE: only rows pending or failed, due, and not leased (or whose lease expired) qualify, so two
    processes never hold the same row; the claim counts as an attempt (a process that dies mid-send used one).
    In order per thread: a row waits while an older row of its channel and thread is still to be sent (a resolve never
    overtakes an open that is waiting out its backoff; PagerDuty would drop the resolve and keep the late trigger)."""
    if not channels:
        return None
    marks = ", ".join("?" * len(channels))
    with store.write("claim a delivery") as conn:
        got = conn.execute(
            f"UPDATE deliveries SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, last_ts = ? WHERE id = ("
            f"SELECT id FROM deliveries AS d WHERE state IN ('pending', 'failed') AND next_ts <= ? AND channel IN ({marks}) "
            f"AND (lease_until IS NULL OR lease_until <= ?) AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.channel = d.channel "
            f"AND e.thread = d.thread AND e.thread <> '' AND e.id < d.id AND e.state IN ('pending', 'failed')) "
            f"ORDER BY created_ts, id LIMIT 1) RETURNING id",
            (owner, now + lease_s, now, now if due_by is None else due_by, *channels, now)).fetchone()
        if got is None:
            return None
        return _row(conn.execute(f"{_SELECT} WHERE id = ?", (got[0],)).fetchone())


def record(store: Store, row_id: int, owner: str, *, ok: bool, status: int | None, response: str, now: float,
           next_ts: float | None, dead: bool) -> bool:
    """Write the answer of a claimed row: ``sent``; or ``failed`` again at ``next_ts``; or ``dead``. Only the lease's owner
    may (False when its lease expired and another process took the row)."""
    state = "sent" if ok else ("dead" if dead else "failed")
    with store.write("record a delivery") as conn:
        return conn.execute(
            "UPDATE deliveries SET state = ?, status = ?, response = ?, last_ts = ?, sent_ts = CASE WHEN ? THEN ? ELSE sent_ts END, "
            "next_ts = COALESCE(?, next_ts), lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (state, status, response, now, ok, now, next_ts, row_id, owner)).rowcount == 1


def record_test(store: Store, key: str, channel: str, doc: dict[str, Any], *, ok: bool, status: int | None, response: str,
                now: float) -> None:
    """Keep a test notification's answer in the ledger (sent or dead: a test is never retried)."""
    with store.write("record a test notification") as conn:
        conn.execute(
            "INSERT OR REPLACE INTO deliveries (notice_key, channel, kind, incident_id, notice_json, state, attempts, created_ts, "
            "next_ts, last_ts, sent_ts, status, response) VALUES (?, ?, 'test', NULL, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (key, channel, json.dumps(doc, sort_keys=True), "sent" if ok else "dead", now, now, now, now if ok else None, status, response))


def notices(store: Store, incident_ids: tuple[str, ...] = (), *, since_ts: float | None = None) -> list[tuple[dict[str, Any], float]]:
    """Every distinct notice in the outbox (any channel) with when it was first enqueued: those of ``incident_ids``,
    plus those about no incident (no data) enqueued since ``since_ts``. What the planner is told was already due."""
    out: dict[str, tuple[dict[str, Any], float]] = {}
    for i in range(0, len(incident_ids), 500):
        part = incident_ids[i:i + 500]
        rows = store.read_rows("deliveries", f"SELECT notice_key, notice_json, MIN(created_ts) FROM deliveries WHERE incident_id IN "
                                             f"({', '.join('?' * len(part))}) AND kind <> 'test' GROUP BY notice_key", tuple(part))
        out.update({k: (json.loads(doc), at) for k, doc, at in rows})
    rows = store.read_rows("deliveries", "SELECT notice_key, notice_json, MIN(created_ts) FROM deliveries WHERE incident_id IS NULL "
                                         "AND kind <> 'test' AND created_ts >= ? GROUP BY notice_key", (since_ts or 0.0,))
    out.update({k: (json.loads(doc), at) for k, doc, at in rows})
    return list(out.values())


def incidents_told(store: Store, incident_ids: tuple[str, ...]) -> set[str]:
    """Which of ``incident_ids`` have a notice in the outbox (sent or on its way): people were told, so a later
    detection that no longer finds one must close it (and resolve the page), never just remove it."""
    found: set[str] = set()
    for i in range(0, len(incident_ids), 500):
        part = incident_ids[i:i + 500]
        found |= {r[0] for r in store.read_rows("deliveries", f"SELECT DISTINCT incident_id FROM deliveries WHERE kind <> 'test' AND "
                                                             f"incident_id IN ({', '.join('?' * len(part))})", tuple(part))}
    return found


def latest(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ledger rows, newest first (the Alerting page)."""
    return [_row(r) for r in store.read_rows("deliveries", f"{_SELECT} ORDER BY created_ts DESC, id DESC LIMIT ?", (limit,))]


def for_channel_state(store: Store, channel: str, state: str, *, since_ts: float = 0.0) -> list[dict[str, Any]]:
    """Rows of one channel in one state enqueued since ``since_ts``, oldest first (Alertmanager's sent opens, to re-POST)."""
    return [_row(r) for r in store.read_rows("deliveries", f"{_SELECT} WHERE channel = ? AND state = ? AND created_ts >= ? "
                                             "ORDER BY created_ts, id", (channel, state, since_ts))]


def keys_on_channel(store: Store, channel: str, keys: tuple[str, ...]) -> set[str]:
    """Which of ``keys`` have a row on ``channel`` (whatever its state)."""
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        found |= {r[0] for r in store.read_rows("deliveries", f"SELECT notice_key FROM deliveries WHERE channel = ? AND notice_key IN "
                                                             f"({', '.join('?' * len(part))})", (channel, *part))}
    return found


def failures(store: Store) -> list[dict[str, Any]]:
    """Per channel: failed (retrying) and dead deliveries, and the status and answer of the newest failed attempt."""
    rows = store.read_rows("deliveries",
                           "SELECT channel, SUM(state = 'failed'), SUM(state = 'dead'), MAX(last_ts) FROM deliveries "
                           "WHERE state IN ('failed', 'dead') GROUP BY channel ORDER BY channel")
    out = []
    for channel, failed, dead, last_ts in rows:
        last = store.read_rows("deliveries", "SELECT status, response FROM deliveries WHERE channel = ? AND state IN ('failed', 'dead') "
                                             "ORDER BY last_ts DESC, id DESC LIMIT 1", (channel,))
        out.append({"channel": channel, "failed": int(failed or 0), "dead": int(dead or 0), "last_ts": last_ts,
                    "last_status": last[0][0] if last else None, "last_response": last[0][1] if last else ""})
    return out
