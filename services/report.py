"""The summary report over the store (``python -m analysis report``): the runs of the period, the stored manual
incidents and the deploys entered by hand, judged by ``analysis.report``."""

from __future__ import annotations

from typing import Any

from analysis.frame import COLUMNS, runs_frame
from analysis.report import ReportConfig, build
from services.incidents import list_incidents
from store import incidents as store_incidents
from store.sqlite import Store


def summary_report(store: Store, config: ReportConfig, *, now: float, since_s: float | None = None) -> dict[str, Any]:
    """Every answer of the report as one plain dict (see ``analysis.report.build``); ``since_s``: only runs this recent."""
    rows = store.run_rows(COLUMNS, since_ts=None if since_s is None else now - since_s)
    return build(runs_frame(rows), now=now, since_s=since_s, config=config, stored_incidents=list_incidents(store),
                 manual_deploys=store_incidents.list_deploys(store))


def has_open_incident(report: dict[str, Any]) -> bool:
    """Whether the report holds an incident still open (the report command then exits 1)."""
    return any(i.get("status") == "open" for i in report["incidents"])
