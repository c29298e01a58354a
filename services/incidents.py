"""Incidents in the store: detect them from stored runs, list them as typed objects, declare one by hand,
annotate one with five whys, remember where one was published.

The store keeps each incident as a JSON document; this module is the edge where documents become
:class:`~analysis.incidents.Incident` and back. The judging is ``analysis.incidents`` (pure).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from analysis import five_whys, incidents
from analysis.five_whys import FiveWhys
from analysis.frame import COLUMNS, runs_frame
from analysis.incidents import Incident
from analysis.report import ReportConfig
from probes.errors import ConfigError
from probes.redact import known_secrets, redact, redact_data
from probes.timeutil import compact, iso
from store import deliveries, kv
from store import incidents as store_incidents
from store.errors import StoreError
from store.sqlite import Store

#: Where the last detection got to (seconds since the epoch): an incremental detection starts from it.
DETECT_MARK = "incidents_detected_until"
#: The shortest chunk of a full detection: a full pass reads the store in (span / chunk) passes, so seconds would mean millions.
MIN_CHUNK_S = 60.0


def _typed(doc: dict[str, object]) -> Incident:
    try:
        return Incident.from_doc(doc)
    except ValueError as exc:
        raise StoreError(f"a stored incident cannot be read ({exc}); it was written by another version of Pathwatch?") from None


def list_incidents(store: Store, since_ts: float | None = None) -> list[Incident]:
    """Every stored incident by start time; with ``since_ts``, those still open or ended at or after it."""
    return [_typed(d) for d in store_incidents.list_incidents(store, since_ts)]


def get_incident(store: Store, incident_id: str) -> Incident | None:
    doc = store_incidents.get_incident(store, incident_id)
    return None if doc is None else _typed(doc)


def require_incident(store: Store, incident_id: str, flag: str = "--incident") -> Incident:
    """The incident, or a :class:`ConfigError` saying how incidents come to exist."""
    inc = get_incident(store, incident_id)
    if inc is None:
        raise ConfigError(f"{flag} {incident_id!r}: no such incident (run `python -m analysis incidents detect`)")
    return inc


def save_incidents(store: Store, found: Iterable[Incident], *, now: float) -> tuple[int, int]:
    """Upsert incidents by id; returns (added, changed). Saving the same incidents again changes nothing."""
    return store_incidents.upsert_incidents(store, [i.to_doc() for i in found], iso(now))


# ---------------------------------------------------------------- detection

@dataclass(frozen=True)
class Detection:
    """What a detection did: incidents it found, how many were new, changed or removed as superseded, how many are open."""

    incidents: int
    added: int
    changed: int
    removed: int
    open: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _mark(store: Store) -> float | None:
    raw = kv.get(store, DETECT_MARK)
    return float(raw) if raw else None


def detect_incidents(store: Store, config: ReportConfig, *, now: float, full_chunk_s: float | None = None) -> Detection:
    """Detect incidents and save them. Incremental by default: from the last detection, minus an hour (and back to
    the start of any incident still open), plus the burn-rate alerts' history. ``full_chunk_s`` re-reads every
    run, as a series of such passes over consecutive time chunks, so memory stays bounded on a large store."""
    stored = list_incidents(store)
    mark = None if full_chunk_s is not None else _mark(store)
    ends: list[float | None] = [None]
    if full_chunk_s is not None:
        first = store.run_rows(("started_ts",), limit=1)
        start = float(first[0][0]) if first else now
        n = max(1, int((now - start) // max(full_chunk_s, 1.0)) + 1)
        ends = [start + (k + 1) * full_chunk_s for k in range(n - 1)] + [None]
    history = incidents.history_s(config.slo, config.incidents)
    added = changed = removed = 0
    latest: dict[str, Incident] = {}
    for until in ends:
        since = incidents.detect_since(stored, mark)
        read_from = None if since is None else since - history  # burn-rate alerts need their long window before `since`
        rows = store.run_rows(COLUMNS, since_ts=read_from, until_ts=until)
        found = incidents.detect(runs_frame(rows), config.incidents, config.slo, complete_from=read_from)
        if since is not None:  # what starts earlier was stored whole by an earlier pass
            found = [i for i in found if i.start_ts >= since]
        found = incidents.keep_ids(found, stored)
        kept, gone = _retire_superseded(store, stored, found, since, until)
        a, c = save_incidents(store, found + kept, now=now)
        added, changed, removed = added + a, changed + c, removed + gone
        latest.update({i.id: i for i in found})
        stored = list_incidents(store)
        mark = until if until is not None else now
    kv.put(store, DETECT_MARK, repr(now))
    final = [latest[s.id] for s in stored if s.id in latest]
    return Detection(len(final), added, changed, removed, sum(i.open for i in final))


def _retire_superseded(store: Store, stored: list[Incident], found: list[Incident], since: float | None,
                       until: float | None) -> tuple[list[Incident], int]:
    """Stored detected incidents in [since, until) that this pass no longer finds: unannotated ones are removed (their
    count is returned); one with five whys, a GitHub link or an alert notice is kept, closed and marked superseded
    (returned for saving), so its page is resolved rather than left open."""
    gone = incidents.no_longer_found(stored, found, since, until)
    told = deliveries.incidents_told(store, tuple(s.id for s in gone)) if gone else set()
    keep = [s for s in gone if s.id in told or store_incidents.load_five_whys(store, s.id) or kv.get(store, link_key(s.id))]
    kept = {s.id for s in keep}
    removed = store_incidents.delete_detected(store, [s.id for s in gone if s.id not in kept])
    return [incidents.retire(s) for s in keep if not s.superseded], removed


# ---------------------------------------------------------------- declared by hand

def create_manual_incident(store: Store, title: str, start_ts: float, end_ts: float | None = None, targets: Iterable[str] = (), *,
                           now: float, secrets: Iterable[str] | None = None) -> Incident:
    """Declare an incident; its title is redacted (a pasted log line may hold a token: never stored)."""
    if end_ts is not None and end_ts < start_ts:
        raise ConfigError(f"--end {iso(end_ts)}: before --start {iso(start_ts)}")
    said = redact(title, known_secrets() if secrets is None else tuple(secrets))
    inc = incidents.manual("MAN-" + compact(now), said, start_ts, end_ts, tuple(targets))
    save_incidents(store, [inc], now=now)
    return inc


# ---------------------------------------------------------------- five whys

def load_five_whys(store: Store, incident_id: str) -> FiveWhys | None:
    doc = store_incidents.load_five_whys(store, incident_id)
    return FiveWhys.from_dict(doc) if doc else None


def save_five_whys(store: Store, incident_id: str, fw: FiveWhys, who: str, *, now: float, secrets: Iterable[str] | None = None) -> None:
    """Check the annotation (:class:`~analysis.five_whys.AnnotationError` names the field), redact it (a pasted log line
    may hold a token) and save it with who and when, one line added to its history saying what changed."""
    five_whys.validate(fw)
    if not who.strip():
        raise five_whys.AnnotationError("who: give your name (it is recorded with the edit)")
    before = load_five_whys(store, incident_id)
    secrets = known_secrets() if secrets is None else tuple(secrets)
    store_incidents.save_five_whys(store, incident_id, redact_data(fw.to_dict(), secrets), redact(who, secrets), iso(now),
                                   five_whys.describe_change(before, fw))


def five_whys_markdown(store: Store, incident_id: str, *, secrets: Iterable[str] | None = None) -> str:
    """The incident's five whys as Markdown (an empty annotation when none is saved)."""
    inc = require_incident(store, incident_id)
    fw = load_five_whys(store, incident_id) or FiveWhys(incident_id)
    return five_whys.to_markdown(fw, inc.title, known_secrets() if secrets is None else tuple(secrets))


# ---------------------------------------------------------------- where it was published

def link_key(incident_id: str) -> str:
    """The store's key for where an incident was published."""
    return f"github:{incident_id}"


def remembered_publication(store: Store, incident_id: str) -> dict[str, object] | None:
    """``{"repo", "issue", "url"}`` of the last publication, or None."""
    raw = kv.get(store, link_key(incident_id))
    try:
        return dict(json.loads(raw)) if raw else None
    except (ValueError, TypeError):
        return None


def remembered_link(store: Store, incident_id: str) -> str | None:
    """The URL the incident was last published to, or None."""
    prev = remembered_publication(store, incident_id)
    return str(prev["url"]) if prev and prev.get("url") else None


def remember_publication(store: Store, incident_id: str, repo: str, issue: int, url: str) -> None:
    kv.put(store, link_key(incident_id), json.dumps({"repo": repo, "issue": issue, "url": url}))
