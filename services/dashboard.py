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
def alerting_ledger(s: Store) -> tuple[list[str], list[dict[str, Any]]]:
    """The Alerting page's reads: one sentence per failing channel, and the latest deliveries (newest first)."""
    from services.notify import failure_sentences, ledger_rows

    return failure_sentences(s), ledger_rows(s)


def alerting_warning(s: Store) -> str | None:
    """The overview's one line about alerting: channels whose deliveries fail ("slack: 3 failed deliveries, last 404"),
    or None when every delivery went out."""
    from services.notify import failure_sentences

    said = failure_sentences(s)
    return "Alerting: " + "; ".join(said) + " (see the Alerting page)" if said else None


# -- silences, quorum, no data (issue 15's policy) -------------------------------------------------------------
def silences(s: Store, *, now: float) -> list[dict[str, Any]]:
    """Every silence as the page's rows (``Silence.to_dict`` at ``now``), newest first."""
    from services.silences import all_silences

    return [x.to_dict(now) for x in reversed(all_silences(s))]


def add_silence(s: Store, *, now: float, **kwargs: Any) -> dict[str, Any]:
    """Check and record a silence (``services.silences.add_silence``; a :class:`ConfigError` names the field)."""
    from services.silences import add_silence as add

    return add(s, now=now, **kwargs).to_dict(now)


def expire_silence(s: Store, silence_id: str, author: str, *, now: float) -> tuple[dict[str, Any], bool]:
    from services.silences import expire_silence as expire

    sil, ended = expire(s, silence_id, author=author, now=now)
    return sil.to_dict(now), ended


def incident_policy(s: Store, docs: list[dict[str, Any]], quorum: int | None, *, now: float) -> tuple[dict[str, str], dict[str, str]]:
    """(incident id -> why it is silenced, incident id -> why it does not page) for the incidents shown."""
    from analysis.incidents import Incident
    from services.silences import held_incidents, muted_incidents

    incs = [Incident.from_doc(d) for d in docs]
    muted = muted_incidents(s, incs, now=now)
    return muted, held_incidents(s, [i for i in incs if i.id not in muted and i.open], quorum, now=now)


def no_data_lines(s: Store, alerting: Any, *, now: float) -> list[str]:
    """One sentence per target whose probe stopped ("No data from X since T ..."), for the overview."""
    from analysis.no_data import sentence
    from services.no_data import stale

    return [sentence(nd, now) for nd in stale(s, alerting, now=now)]


def exclusion(s: Store, settings: Any, targets: Iterable[str], *, since_ts: float | None,
              now: float) -> tuple[dict[str, list[tuple[float, float]]], str]:
    """(per target the silenced spans to leave out of the SLO and impact, the sentence saying so). The spans are empty
    unless ``[alerting] exclude_silences`` is on; the sentence is said either way."""
    from analysis.silences import exclusion_sentence, silenced_spans
    from services.silences import all_silences, spans_to_exclude, target_groups

    on = settings.alerting.exclude_silences
    spans = spans_to_exclude(s, targets, since_ts=since_ts, now=now, enabled=on)
    if not on:  # said anyway, so a reader knows silenced time was counted
        groups, _ = target_groups(s, now=now)
        spans_seen = silenced_spans(all_silences(s), list(targets) or list(groups), groups, start=since_ts, end=now)
        return {}, exclusion_sentence(False, spans_seen)
    return spans, exclusion_sentence(True, spans)


def silenced_runs(s: Store, spans: dict[str, list[tuple[float, float]]]) -> Any:
    """The runs inside the silenced spans (target, started_ts, ok, total_ms): what the hourly rollup must give back."""
    import pandas as pd

    from probes.outcomes import SERVED

    rows = [r for t, ss in spans.items() for a, b in ss
            for r in s.run_rows(("target", "started_ts", "outcome", "total_ms"), since_ts=a, until_ts=b, targets=(t,))]
    df = pd.DataFrame(rows, columns=["target", "started_ts", "outcome", "total_ms"])
    return df.assign(ok=df["outcome"].isin(SERVED), total_ms=pd.to_numeric(df["total_ms"], errors="coerce").astype("float64"))


def hourly_excluding(s: Store, hourly: Any, spans: dict[str, list[tuple[float, float]]], threshold_s: float) -> Any:
    """The hourly rollup with the silenced runs taken out (``analysis.silences.hourly_without``); as it is when no span."""
    from analysis.silences import hourly_without, silenced_hourly_counts

    if not spans:
        return hourly
    return hourly_without(hourly, silenced_hourly_counts(silenced_runs(s, spans), threshold_s))
