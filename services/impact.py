"""What each incident cost, for the Impact page: every incident overlapping a period, measured on its own runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis.frame import COLUMNS, runs_frame
from analysis.impact import Impact, ImpactConfig, impact
from analysis.incidents import Incident, incident_runs, incident_window
from analysis.silences import without_silenced
from probes.timeutil import iso
from services.incidents import list_incidents
from store.sqlite import Store


@dataclass(frozen=True)
class IncidentCost:
    incident: Incident
    impact: Impact

    def to_row(self) -> dict[str, object]:
        """One table row: id, start, status, downtime minutes, revenue at risk, signature."""
        return {"id": self.incident.id, "start": iso(self.incident.start_ts), "status": self.incident.state,
                "downtime_minutes": self.impact.downtime_minutes.value, "revenue_at_risk": self.impact.revenue_at_risk.value,
                "signature": self.incident.headline}


def incident_costs(store: Store, config: ImpactConfig, *, now: float, since_ts: float | None = None,
                   targets: tuple[str, ...] = (), spans: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> list[IncidentCost]:
    """Each incident still open or ended at or after ``since_ts``, with the impact of the runs in its window
    (``analysis.incidents.incident_runs``); an incident naming no targets is measured on ``targets`` (all when empty).
    ``spans`` (per target, from ``services.dashboard.exclusion``) are left out. Costliest first."""
    out = []
    for inc in list_incidents(store, since_ts):
        w = incident_window(inc, now=now)
        rows = store.run_rows(COLUMNS, since_ts=w.start_ts, until_ts=w.end_ts, targets=inc.targets or targets)
        runs = without_silenced(incident_runs(runs_frame(rows), inc, now=now), spans or {})
        out.append(IncidentCost(inc, impact(runs, config)))
    return sorted(out, key=lambda c: -c.impact.revenue_at_risk.value)
