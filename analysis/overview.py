"""The overview page's answers: per target, is the golden path up, since when, how reliable, what is open."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis import rollups
from analysis.incidents import Incident
from analysis.slo import SLOConfig
from probes.phases import PHASES
from probes.record import ProbeRun

WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}


def phase_strip(run: ProbeRun) -> list[dict[str, Any]]:
    """The last run's phases, in order: done (with ms), failed, skipped (not applicable) or not reached."""
    strip = []
    for phase in PHASES:
        ms = run.phases_ms.get(phase)
        if ms is not None:
            state = "done"
        elif phase == run.failed_phase:
            state = "failed"
        elif phase == "tls" and not run.url.startswith("wss://"):
            state = "skipped"
        else:
            state = "not_reached"
        strip.append({"phase": phase, "state": state, "ms": ms})
    return strip


def opposite_hour(hourly: pd.DataFrame, target: str, ok_now: bool) -> float | None:
    """The latest hour with a run of the other status: where the current streak began (or later)."""
    h = hourly[(hourly["target"] == target) & (hourly["ok"] != ok_now)]
    return None if h.empty else float(h["hour_ts"].max())


@dataclass(frozen=True)
class TargetStatus:
    target: str
    up: bool
    since_ts: float | None
    last_run: ProbeRun
    strip: list[dict[str, Any]]
    success: dict[str, dict[str, Any]]
    budget_remaining: float | None
    revision: str | None
    #: The open incident covering this target, as it was passed in (an :class:`Incident`; a stored document from older callers).
    open_incident: Incident | Mapping[str, Any] | None

    @property
    def status(self) -> str:
        return "up" if self.up else "down"


def target_statuses(
    last_runs: Iterable[ProbeRun], streak_starts: dict[str, float | None], hourly: pd.DataFrame, open_incidents: Iterable[Incident | Mapping[str, Any]],
    *, now: float, slo: SLOConfig | None = None, budget_hourly: pd.DataFrame | None = None,
) -> list[TargetStatus]:
    """One status per target from its last run, its streak start, the hourly rollup and open incidents.
    ``budget_hourly``: the rollup the error budget is measured on (default ``hourly``; silenced windows taken out)."""
    slo = slo or SLOConfig()
    incidents = list(open_incidents)
    out = []
    budget_from = hourly if budget_hourly is None else budget_hourly
    window = budget_from[budget_from["hour_ts"] >= (now - slo.window_s) // 3600 * 3600]
    for run in sorted(last_runs, key=lambda r: r.target):
        mine = hourly[hourly["target"] == run.target]
        success = {name: rollups.success(mine, now - span) for name, span in WINDOWS.items()}
        budget = rollups.slo_budget(window[window["target"] == run.target], slo.objective)["budget_remaining"]
        incident = next((i for i in incidents if not _targets(i) or run.target in _targets(i)), None)
        out.append(TargetStatus(
            target=run.target, up=run.served, since_ts=streak_starts.get(run.target), last_run=run, strip=phase_strip(run),
            success=success, budget_remaining=budget, revision=run.revision_after or run.revision, open_incident=incident,
        ))
    return out


def _targets(incident: Incident | Mapping[str, Any]) -> tuple[str, ...]:
    return incident.targets if isinstance(incident, Incident) else tuple(incident.get("targets") or ())


def headline(statuses: list[TargetStatus]) -> str:
    """One sentence for the top of the page."""
    if not statuses:
        return "No probe runs yet."
    down = [s.target for s in statuses if not s.up]
    if not down:
        return f"The golden path works on all {len(statuses)} targets."
    return f"The golden path is DOWN on {len(down)} of {len(statuses)} targets: {', '.join(down[:5])}" + ("..." if len(down) > 5 else "")


def auth_notices(last_runs: Iterable[ProbeRun]) -> list[str]:
    """Plain sentences for targets whose auth the probe cannot vouch for, from each target's last run's canary."""
    out = []
    for run in sorted(last_runs, key=lambda r: r.target):
        verdict = run.auth_canary or ""
        if verdict == "accepted":
            out.append(
                f"Auth is not being exercised on {run.target}: the server accepted a deliberately wrong token in the last run. "
                "Its golden-path runs pass whatever token they send (DEMO mode or a test-header bypass?), so they prove nothing about auth."
            )
        elif verdict.startswith("inconclusive"):
            out.append(f"The auth canary on {run.target} was inconclusive in the last run ({verdict.partition(': ')[2] or 'no verdict'}).")
    return out


def streak_query(last_runs: Iterable[ProbeRun], hourly: pd.DataFrame) -> tuple[tuple[str, bool, float | None], ...]:
    """Per target: (target, served now, the latest hour of the other status) - where the store looks for the streak's start."""
    return tuple((r.target, r.served, opposite_hour(hourly, r.target, r.served)) for r in last_runs)


def open_incidents(incidents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incidents whose status is still open, in the order given."""
    return [i for i in incidents if i.get("status") == "open"]


def last_resolved(incidents: Iterable[dict[str, Any]], now: float, within_s: float = 7 * 86400.0) -> dict[str, Any] | None:
    """The latest incident resolved within ``within_s`` of ``now`` (incidents come oldest first), or None."""
    recent = [i for i in incidents if i.get("end_ts") is not None and float(i["end_ts"]) >= now - within_s]
    return recent[-1] if recent else None
