"""What the dashboard reads and writes, composed here so that pages never touch the store or an integration.

The pages (``pages/_store.py`` for the connection, ``pages/_data.py`` for every read, write and outside call) cache
and lay out what these functions return; the SQL stays in ``store``, the fetching in ``integrations``, the judging in
``analysis``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from probes.record import ProbeRun
from services import incidents as _incidents
from services.server_errors import Skips, collect_server_errors
from services.settings import Source, log_source
from store import incidents as _stored_incidents
from store import resolve_db_path
from store import rollup as _rollup
from store import server_logs as _stored_logs
from store.errors import StoreError
from store.sqlite import Store, open_store

__all__ = ["HOURLY_COLUMNS", "PHASE_COLUMNS", "Skips", "Source", "Store", "StoreError", "collect_server_errors", "log_source"]

HOURLY_COLUMNS = _rollup.HOURLY_COLUMNS
PHASE_COLUMNS = _rollup.PHASE_COLUMNS


# -- the connection ------------------------------------------------------------------------------------------
def db_path() -> Path:
    """The store the dashboard shows: ``PATHWATCH_DB``, else ``data/pathwatch.db``."""
    return resolve_db_path(None)


def open_dashboard_store(path: str | Path, *, read_only: bool) -> Store:
    return open_store(path, read_only=read_only)


def scratch_store() -> Store:
    """A private in-memory store: where a read-only page keeps what it fetched for this session only."""
    return open_store(":memory:")


# -- runs and rollups ----------------------------------------------------------------------------------------
def latest_runs(s: Store, targets: Iterable[str] = ()) -> list[ProbeRun]:
    return _rollup.latest_runs(s, tuple(targets))


def revision_first_seen(s: Store) -> list[tuple[str, float]]:
    return _rollup.revision_first_seen(s)


def streak_start(s: Store, target: str, ok_now: bool, from_ts: float | None) -> float | None:
    return _rollup.streak_start(s, target, ok_now, from_ts)


def hourly_rows(s: Store, *, good_under_ms: float, since_ts: float | None, targets: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return _rollup.hourly(s, good_under_ms=good_under_ms, since_ts=since_ts, targets=targets)


def phase_histogram_rows(s: Store, *, since_ts: float | None, targets: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return _rollup.phase_histograms(s, since_ts=since_ts, targets=targets)


# -- incidents, deploys, annotations -------------------------------------------------------------------------
def incident_docs(s: Store) -> list[dict[str, Any]]:
    return _stored_incidents.list_incidents(s)


def deploy_entries(s: Store) -> list[dict[str, Any]]:
    return _stored_incidents.deploy_entries(s)


def list_deploys(s: Store) -> list[tuple[str, float]]:
    return _stored_incidents.list_deploys(s)


def five_whys_doc(s: Store, incident_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The incident's saved five whys (or None) and its edit history."""
    return _stored_incidents.load_five_whys(s, incident_id), _stored_incidents.annotation_history(s, incident_id)


def save_five_whys_doc(s: Store, incident_id: str, doc: dict[str, Any], who: str, at: str, what: str) -> None:
    _stored_incidents.save_five_whys(s, incident_id, doc, who, at, what)


def github_link(s: Store, incident_id: str) -> str | None:
    return _incidents.remembered_link(s, incident_id)


def publish(s: Store, incident_id: str, repo: str, issue: int | None, *, now: float, settings: Any) -> Any:
    from services.publish import publish_incident

    return publish_incident(s, incident_id, repo, issue, now=now, settings=settings)


# -- the server's errors ---------------------------------------------------------------------------------------
def server_logs_for_run(s: Store, run_id: str) -> list[dict[str, Any]]:
    return _stored_logs.for_run(s, run_id)


def server_logs_in_window(s: Store, start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    return _stored_logs.in_window(s, start_ts, end_ts)


# -- alerting ----------------------------------------------------------------------------------------------------
def alerting_warning(s: Store) -> str | None:
    """The overview's one line about alerting: channels whose deliveries fail ("slack: 3 failed deliveries, last 404"),
    or None when every delivery went out."""
    from services.notify import failure_sentences

    said = failure_sentences(s)
    return "Alerting: " + "; ".join(said) + " (see the Alerting page)" if said else None
