"""An incident's case file, read from the store once: what the Incidents page shows and what GitHub is sent."""

from __future__ import annotations

from collections.abc import Iterable

from analysis import case_file as cf
from analysis.case_file import CaseFile
from analysis.frame import COLUMNS, runs_frame
from analysis.incidents import Incident, incident_window
from analysis.settings import Settings
from probes.redact import known_secrets
from services.incidents import remembered_link, require_incident
from store import incidents as store_incidents
from store import server_logs as stored_logs
from store.sqlite import Store


def case_file(store: Store, incident_id: str, *, now: float, settings: Settings | None = None,
              secrets: Iterable[str] | None = None) -> CaseFile:
    """Everything about one incident as of ``now``: its window and runs, signatures, impact, fix verdicts, the server's
    stored errors, its five whys (or drafts) with their history, and its links. Raises ConfigError for an unknown id."""
    return case_file_of(store, require_incident(store, incident_id), now=now, settings=settings, secrets=secrets)


def case_file_of(store: Store, incident: Incident, *, now: float, settings: Settings | None = None,
                 secrets: Iterable[str] | None = None) -> CaseFile:
    """:func:`case_file` for an incident already read."""
    settings = settings or Settings()
    context = incident_window(incident, now=now, margin_s=cf.CONTEXT_S)
    rows = store.run_rows(COLUMNS, since_ts=context.start_ts, until_ts=context.end_ts, targets=incident.targets)
    logs = incident_window(incident, now=now, margin_s=cf.LOG_MARGIN_S)
    return cf.build(
        incident, runs_frame(rows), now=now, config=settings.report,
        five_whys=store_incidents.load_five_whys(store, incident.id), history=store_incidents.annotation_history(store, incident.id),
        server_rows=stored_logs.in_window(store, logs.start_ts, logs.end_ts), github_url=remembered_link(store, incident.id),
        dashboard_url=settings.dashboard.public_url, secrets=known_secrets() if secrets is None else tuple(secrets),
    )
