"""The summary report over the store (``python -m analysis report``): the runs of the period, the stored manual
incidents and the deploys entered by hand, judged by ``analysis.report``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analysis.frame import COLUMNS, runs_frame
from analysis.report import ReportConfig, build
from analysis.silences import without_silenced
from services.incidents import list_incidents
from store import incidents as store_incidents
from store.sqlite import Store

if TYPE_CHECKING:
    from analysis.settings import Settings


def summary_report(store: Store, config: ReportConfig, *, now: float, since_s: float | None = None,
                   settings: Settings | None = None) -> dict[str, Any]:
    """Every answer of the report as one plain dict (see ``analysis.report.build``); ``since_s``: only runs this recent.
    With ``settings`` the report says what it did with silenced windows, and leaves them out of the SLO and impact when
    ``[alerting] exclude_silences`` is on."""
    since_ts = None if since_s is None else now - since_s
    df = runs_frame(store.run_rows(COLUMNS, since_ts=since_ts))
    measured, said = df, None
    if settings is not None:
        from services.dashboard import exclusion

        spans, said = exclusion(store, settings, sorted(df["target"].unique()), since_ts=since_ts, now=now)
        measured = without_silenced(df, spans)
    return build(df, now=now, since_s=since_s, config=config, stored_incidents=list_incidents(store),
                 manual_deploys=store_incidents.list_deploys(store), measured=measured, exclusion=said)


def has_open_incident(report: dict[str, Any]) -> bool:
    """Whether the report holds an incident still open (the report command then exits 1)."""
    return any(i.get("status") == "open" for i in report["incidents"])
