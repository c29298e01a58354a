"""Every store read and write and every outside call the pages make, in one place, all through ``services.dashboard``.

Reads go through the shared read-only connection (``pages._store``) and are kept by ``st.cache_data`` for a few
seconds. Writes never happen in read-only mode: there, fetched server errors are kept in the browser session.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from analysis import frame, incidents, rollups
from analysis.frame import COLUMNS, runs_frame
from pages._store import db_path as db_path  # the pages read the store's name, mode and settings from here too
from pages._store import read_only, reading, settings, writing
from probes.record import ProbeRun
from services import dashboard
from services.dashboard import Store

if TYPE_CHECKING:
    from pages._filters import Filters

#: Raw runs are loaded for windows up to this long; longer windows use the rollups (failures alone: up to a week).
RAW_LIMIT_S = 86400.0
RAW_FAILED_LIMIT_S = 7 * 86400.0
TTL_S = 10


# ---------------------------------------------------------------- cached reads

@st.cache_data(ttl=TTL_S, show_spinner=False)
def target_catalogue() -> dict[str, str | None]:
    """Every target ever probed and its environment (from its latest run)."""
    with reading() as s:
        return {r.target: r.tags.get("environment") for r in dashboard.latest_runs(s)}


def store_is_empty() -> bool:
    return not target_catalogue()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def deploy_markers() -> list[tuple[str, float]]:
    """(revision, first seen) from the runs, plus deploys entered by hand; in time order."""
    with reading() as s:
        seen = dict(dashboard.revision_first_seen(s))
        for rev, ts in dashboard.list_deploys(s):
            seen[rev] = min(ts, seen.get(rev, ts))
    return sorted(seen.items(), key=lambda r: r[1])


def revision_names() -> list[str]:
    return [r for r, _ in deploy_markers()]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def deploy_entries() -> list[dict[str, Any]]:
    with reading() as s:
        return dashboard.deploy_entries(s)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_runs(targets: tuple[str, ...]) -> list[ProbeRun]:
    with reading() as s:
        return dashboard.latest_runs(s, targets)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def streak_starts(targets_ok: tuple[tuple[str, bool, float | None], ...]) -> dict[str, float | None]:
    with reading() as s:
        return {t: dashboard.streak_start(s, t, ok, hour) for t, ok, hour in targets_ok}


@st.cache_data(ttl=TTL_S, show_spinner=False)
def hourly(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None) -> pd.DataFrame:
    good_ms = settings().report.slo.threshold_s * 1000.0
    with reading() as s:
        rows = dashboard.hourly_rows(s, good_under_ms=good_ms, since_ts=since_ts, targets=targets)
    df = rollups.hourly_frame(rows, dashboard.HOURLY_COLUMNS)
    return df if revision is None else df[df["revision"] == revision]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def phase_hist(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None) -> pd.DataFrame:
    with reading() as s:
        rows = dashboard.phase_histogram_rows(s, since_ts=since_ts, targets=targets)
    df = rollups.phase_frame(rows, dashboard.PHASE_COLUMNS)
    return df if revision is None else df[df["revision"] == revision]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def runs(targets: tuple[str, ...], since_ts: float | None, until_ts: float | None = None, revision: str | None = None,
         failed_only: bool = False) -> pd.DataFrame:
    """Every run of a time window as the analysis frame (failed_only reads through the partial index on failures)."""
    with reading() as s:
        rows = s.run_rows(COLUMNS, since_ts=since_ts, until_ts=until_ts, targets=targets, failed_only=failed_only)
    return frame.matching(runs_frame(rows), revision=revision)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def newest_runs(targets: tuple[str, ...], since_ts: float | None, revision: str | None = None, failed_only: bool = False,
                outcomes: tuple[str, ...] = (), failed_phase: str | None = None, limit: int = 2000) -> pd.DataFrame:
    """The newest ``limit`` runs that match (``analysis.frame.matching``), oldest first.

    The store limits before it can filter by revision, outcome or phase, so reading goes back page by page until
    ``limit`` runs match or the window is read: a filter never hides runs that a limit cut off.
    """
    kept: list[pd.DataFrame] = []
    found, until, page = 0, None, limit
    with reading() as s:
        while True:
            rows = s.run_rows(COLUMNS, since_ts=since_ts, until_ts=until, targets=targets, failed_only=failed_only, newest=page)
            df = runs_frame(rows)
            if not df.empty:  # every run at the oldest time read, so the next page (before that time) misses none
                oldest = float(df["started_ts"].min())
                edge = runs_frame(s.run_rows(COLUMNS, since_ts=oldest, until_ts=math.nextafter(oldest, math.inf), targets=targets,
                                             failed_only=failed_only))
                df = pd.concat([df, edge]).drop_duplicates("run_id")
                until = oldest
            match = frame.matching(df, revision, outcomes, failed_phase)
            kept.append(match)
            found += len(match)
            if len(rows) < page or found >= limit:
                break
            page = min(page * 2, 50_000)
    out = pd.concat(kept) if kept else runs_frame([])
    return out.sort_values(["started_ts", "run_id"], kind="stable").tail(limit).reset_index(drop=True)


def window_runs(f: Filters, failed_only: bool = False) -> tuple[pd.DataFrame, bool]:
    """Runs of the filtered window. Failures only: clipped to the last RAW_FAILED_LIMIT_S. All runs: nothing for a
    window longer than RAW_LIMIT_S. The flag says so, and the page then takes its answers from the rollups."""
    limit = RAW_FAILED_LIMIT_S if failed_only else RAW_LIMIT_S
    since = f.since_ts
    clipped = f.span_s is None or f.span_s > limit
    if clipped and not failed_only:  # long windows of all runs are answered from the rollups: read nothing
        return runs_frame([]), True
    if clipped:
        since = f.now - limit
    return runs(f.targets, bucket(since), None, f.revision, failed_only), clipped


def bucket(ts: float | None, step: float = 10.0) -> float | None:
    """Round a window start so cached reads are reused between reruns a few seconds apart."""
    return None if ts is None else ts // step * step


def recent_ok_runs(targets: tuple[str, ...], revision: str | None, limit: int = 200) -> list[str]:
    """The newest successful run ids (for the waterfall picker), newest first."""
    return list(reversed(newest_runs(targets, None, revision, outcomes=("ok",), limit=limit)["run_id"].tolist()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incidents_list() -> list[dict[str, Any]]:
    with reading() as s:
        return dashboard.incident_docs(s)


def incident_runs(incident: dict[str, Any], targets: tuple[str, ...], now: float, margin_s: float = 0.0) -> pd.DataFrame:
    """Runs from ``margin_s`` before the incident to ``margin_s`` after it (on its own targets when it names any)."""
    start, end = incidents.span(incident, now)
    return runs(tuple(incident.get("targets") or ()) or targets, bucket(start - margin_s), bucket(end + margin_s + 10))


def run_detail(run_id: str) -> ProbeRun | None:
    with reading() as s:
        return s.get_run(run_id)


# ---------------------------------------------------------------- five whys and GitHub

def five_whys_of(incident_id: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The incident's saved five whys (or None) and its edit history."""
    with reading() as s:
        return dashboard.five_whys_doc(s, incident_id)


def save_five_whys(incident_id: str, doc: dict[str, Any], who: str, at: str, what: str) -> None:
    """Store an annotation, redacted (a pasted log line may hold a token; it is later published)."""
    from probes.redact import known_secrets, redact_data

    with writing() as s:
        dashboard.save_five_whys_doc(s, incident_id, redact_data(doc, known_secrets()), who, at, what)


def github_link(incident_id: str) -> str | None:
    with reading() as s:
        return dashboard.github_link(s, incident_id)


def publish_to_github(incident_id: str, repo: str, issue: int | None, now: float) -> Any:
    """Publish the incident's case file to a GitHub issue; returns what GitHub answered (action, url)."""
    with writing() as s:
        return dashboard.publish(s, incident_id, repo, issue, now=now, settings=settings())


# ---------------------------------------------------------------- the server's errors

def log_source() -> Any:
    return dashboard.log_source()


SESSION_LOGS_KEY = "pw_session_server_logs"
FETCHED_KEY = "pw_fetched_log_windows"


def _session_logs() -> dict[str, dict[str, Any]]:
    """Server error entries fetched while read-only, kept for this browser session only (by insert id)."""
    return st.session_state.setdefault(SESSION_LOGS_KEY, {})


class _SessionWrites:
    """What ``collect`` writes to while read-only: it reads runs from the read-only store and saves into a private
    in-memory database, so the entries it returns live in the session and the store file is never touched."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def run_rows(self, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return self._store.run_rows(*args, **kwargs)

    @contextmanager
    def write(self, doing: str) -> Iterator[Any]:
        with dashboard.scratch_store() as scratch, scratch.write(doing) as conn:
            yield conn


def collect_server_logs(source: Any, start_ts: float, end_ts: float, **kwargs: Any) -> list[dict[str, Any]]:
    """Fetch the backend's errors for a window and keep them: in the store, or while read-only in this session only."""
    collect = dashboard.collect_server_errors
    if not read_only():
        with writing() as s:
            return collect(s, source, start_ts, end_ts, **kwargs)
    with reading() as s:
        rows = collect(_SessionWrites(s), source, start_ts, end_ts, **kwargs)  # type: ignore[arg-type]
    kept = _session_logs()
    for row in rows:
        old = kept.get(row["insert_id"])
        kept[row["insert_id"]] = {**row, "run_id": row["run_id"] or (old or {}).get("run_id")}
    return rows


def fetch_server_errors(source: Any, start_ts: float, end_ts: float, revisions: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    """Fetch and keep the backend's errors of an incident's window (the service from PATHWATCH_SERVICE for Cloud
    Logging); returns how many entries were skipped as malformed, and the first ids of them."""
    skips = dashboard.Skips()
    collect_server_logs(source, start_ts, end_ts, service=os.environ.get("PATHWATCH_SERVICE"), revisions=revisions, skips=skips)
    return skips.count, [str(i) for i in skips.ids]


def _merged(stored_rows: list[dict[str, Any]], wanted: Any) -> list[dict[str, Any]]:
    """Stored rows plus this session's fetched ones that ``wanted`` accepts, one per insert id, in time order."""
    extra = {k: r for k, r in _session_logs().items() if wanted(r)}
    if not extra:
        return stored_rows
    rows = {r["insert_id"]: r for r in stored_rows}
    rows.update({k: r for k, r in extra.items() if k not in rows})
    return sorted(rows.values(), key=lambda r: r["ts"])


def server_logs_for(run: ProbeRun) -> list[dict[str, Any]] | None:
    """Server error entries linked to the run: from the store, else fetched from a local log file on first view
    (Cloud Logging is fetched on request from the Incidents page). None when no log source is configured."""
    from probes.timeutil import parse_iso

    def linked() -> list[dict[str, Any]]:
        with reading() as s:
            return _merged(dashboard.server_logs_for_run(s, run.run_id), lambda r: r["run_id"] == run.run_id)

    source = log_source()
    rows = linked()
    if rows or source is None or not source.log_file:
        return rows if (rows or source is not None) else None
    start = parse_iso(run.started_at)
    collect_server_logs(source, start, start + (run.total_ms or 0.0) / 1000.0, margin_s=5.0)
    return linked()


def server_logs_in(start_ts: float, end_ts: float) -> list[dict[str, Any]]:
    with reading() as s:
        return _merged(dashboard.server_logs_in_window(s, start_ts, end_ts), lambda r: start_ts <= r["ts"] <= end_ts)


def server_signatures(start_ts: float, end_ts: float) -> dict[str, str]:
    """run id -> the server's error signature, for the runs of a window: from what is kept, after reading a local log
    file once per session and window (Cloud Logging is fetched on request from the Incidents page)."""
    from analysis.server_logs import signatures_by_run

    source = log_source()
    window = (getattr(source, "name", None), bucket(start_ts, 60.0), bucket(end_ts, 60.0))
    fetched = st.session_state.setdefault(FETCHED_KEY, set())
    if source is not None and source.log_file and window not in fetched:
        collect_server_logs(source, start_ts, end_ts)
        fetched.add(window)
    return signatures_by_run(server_logs_in(start_ts - 60.0, end_ts + 60.0))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerting_warning() -> str | None:
    """Failed alert deliveries in one sentence, or None (``services.dashboard.alerting_warning``)."""
    with reading() as s:
        return dashboard.alerting_warning(s)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerting_ledger() -> tuple[list[str], list[dict[str, Any]]]:
    """(one sentence per failing channel, the latest deliveries): ``services.dashboard.alerting_ledger``."""
    with reading() as s:
        return dashboard.alerting_ledger(s)


# ---------------------------------------------------------------- silences, quorum, no data

@st.cache_data(ttl=TTL_S, show_spinner=False)
def silences(now: float) -> list[dict[str, Any]]:
    """Every silence, newest first, with its state at ``now`` (pass a bucketed time so reruns share the read)."""
    with reading() as s:
        return dashboard.silences(s, now=now)


def add_silence(now: float, **kwargs: Any) -> dict[str, Any]:
    """Record a silence (checked and redacted by ``services.silences``); never called read-only."""
    with writing() as s:
        added = dashboard.add_silence(s, now=now, **kwargs)
    silences.clear()
    incident_policy.clear()
    return added


def expire_silence(silence_id: str, author: str, now: float) -> tuple[dict[str, Any], bool]:
    with writing() as s:
        done = dashboard.expire_silence(s, silence_id, author, now=now)
    silences.clear()
    incident_policy.clear()
    return done


@st.cache_data(ttl=TTL_S, show_spinner=False)
def incident_policy(now: float) -> tuple[dict[str, str], dict[str, str]]:
    """(incident id -> why it is silenced now, incident id -> why it does not page: quorum not met)."""
    with reading() as s:
        return dashboard.incident_policy(s, dashboard.incident_docs(s), settings().alerting.quorum, now=now)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def no_data_lines(now: float) -> list[str]:
    """"No data from X since T" per target whose probe stopped."""
    with reading() as s:
        return dashboard.no_data_lines(s, settings().alerting, now=now)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def exclusion(targets: tuple[str, ...], since_ts: float | None, now: float) -> tuple[dict[str, list[tuple[float, float]]], str]:
    """(silenced spans to leave out of the SLO and impact, the sentence saying what was done with them)."""
    with reading() as s:
        return dashboard.exclusion(s, settings(), targets, since_ts=since_ts, now=now)


def budget_hourly(targets: tuple[str, ...], since_ts: float | None, now: float) -> pd.DataFrame:
    """The hourly rollup the error budget is measured on: silenced runs taken out when the setting asks for it."""
    rollup = hourly(targets, since_ts)
    spans, _ = exclusion(targets, since_ts, now)
    if not spans:
        return rollup
    with reading() as s:
        return dashboard.hourly_excluding(s, rollup, spans, settings().report.slo.threshold_s)
