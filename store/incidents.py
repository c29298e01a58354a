"""Incidents, five-whys annotations (with who and when) and manual deploy entries.

The store keeps documents as JSON; their shape belongs to ``analysis`` (the
store never imports it). Upserts compare documents so that running detection
twice changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from store.errors import StoreError
from store.sqlite import Store


def upsert_incidents(store: Store, incidents: list[dict[str, Any]], now_iso: str) -> tuple[int, int]:
    """Insert new incidents and update changed ones; returns (added, changed).

    A manual incident is never overwritten by detection.
    """
    added = changed = 0
    with store.write("save incidents") as conn:
        for inc in incidents:
            doc = json.dumps(inc, sort_keys=True)
            row = conn.execute("SELECT doc_json, kind FROM incidents WHERE id = ?", (inc["id"],)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO incidents (id, kind, title, start_ts, end_ts, doc_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (inc["id"], inc["kind"], inc["title"], inc["start_ts"], inc["end_ts"], doc, now_iso),
                )
                added += 1
            elif row[0] != doc and not (row[1] == "manual" and inc["kind"] != "manual"):
                conn.execute(
                    "UPDATE incidents SET title = ?, start_ts = ?, end_ts = ?, doc_json = ?, updated_at = ? WHERE id = ?",
                    (inc["title"], inc["start_ts"], inc["end_ts"], doc, now_iso, inc["id"]),
                )
                changed += 1
    return added, changed


def delete_detected(store: Store, ids: list[str]) -> int:
    """Remove detected incidents (with their history); a manual incident is never removed this way."""
    with store.write("remove superseded incidents") as conn:
        return sum(conn.execute("DELETE FROM incidents WHERE id = ? AND kind <> 'manual'", (i,)).rowcount for i in ids)


def list_incidents(store: Store, since_ts: float | None = None) -> list[dict[str, Any]]:
    """Incident documents by start time; with ``since_ts``, those still open or ended at or after it."""
    return store.incidents(since_ts)


def get_incident(store: Store, incident_id: str) -> dict[str, Any] | None:
    """One incident document, or None."""
    return store.incident(incident_id)


def save_five_whys(store: Store, incident_id: str, doc: dict[str, Any], who: str, at_iso: str, what: str) -> None:
    """Save the annotation and append one line to its history, atomically."""
    with store.write("save five whys") as conn:
        if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone() is None:
            raise StoreError(f"no incident {incident_id!r}: run incident detection or create it first")
        conn.execute(
            "INSERT INTO five_whys (incident_id, doc_json, updated_by, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(incident_id) DO UPDATE SET doc_json = excluded.doc_json, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (incident_id, json.dumps(doc, sort_keys=True), who, at_iso),
        )
        seq = conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM annotation_history WHERE incident_id = ?", (incident_id,)).fetchone()[0]
        conn.execute("INSERT INTO annotation_history (incident_id, seq, who, at, what) VALUES (?, ?, ?, ?, ?)", (incident_id, seq, who, at_iso, what))


def load_five_whys(store: Store, incident_id: str) -> dict[str, Any] | None:
    """The incident's five-whys annotation, or None."""
    return store.five_whys(incident_id)


def annotation_history(store: Store, incident_id: str) -> list[dict[str, str]]:
    """Who changed the annotation, when and what, oldest first."""
    return store.annotation_history(incident_id)


def add_deploy(store: Store, revision: str, at_ts: float, source: str = "manual", note: str = "") -> None:
    with store.write("record a deploy") as conn:
        conn.execute("INSERT OR IGNORE INTO deploys (revision, at_ts, source, note) VALUES (?, ?, ?, ?)", (revision, at_ts, source, note))


def deploy_entries(store: Store) -> list[dict[str, Any]]:
    """Deploys entered by hand, oldest first, with their source and note."""
    return store.deploy_entries()


def list_deploys(store: Store) -> list[tuple[str, float]]:
    """(revision, time) of the deploys entered by hand, oldest first."""
    return [(d["revision"], d["at_ts"]) for d in deploy_entries(store)]
