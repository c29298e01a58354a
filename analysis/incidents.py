"""Incidents: opened when a target fails K runs in a row, resolved after M clean runs; or when a
page-severity burn-rate alert fires on a target, resolved when it stops firing.

The burn-rate rule catches what the streak rule cannot: a target failing often but never K times
in a row (a flaky path burning the error budget 14x too fast). Where both rules see the same
failure on a target, the streak's episode stands and the alert's is dropped.

Detection is a pure function of the runs, so running it twice gives the same
incidents with the same ids (idempotent); the store upserts them by id.
Overlapping episodes on several targets with the same failure mode are one
incident (three regions seeing the same crash is one outage, not three).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.deploys import failure_mode
from analysis.signatures import group_failures, sentence
from analysis.slo import BurnAlert, SLOConfig, alert_fires, good, trailing_burn


@dataclass(frozen=True)
class IncidentRule:
    open_after: int = 3
    close_after: int = 3
    #: Also open incidents on the SLO's page-severity burn-rate alerts (when detect() is given the SLO).
    burn_alerts: bool = True
    #: Runs the alert's short window must hold before it may fire (one bad run is not an outage).
    burn_min_runs: int = 5


@dataclass(frozen=True)
class Incident:
    id: str
    start_ts: float
    end_ts: float | None
    targets: tuple[str, ...]
    revisions: tuple[str, ...]
    failure_mode: str
    signature: str
    failed_runs: int
    total_runs: int
    evidence_runs: tuple[str, ...]
    kind: str = "detected"
    title: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.end_ts is None

    def to_dict(self) -> dict[str, object]:
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if k != "extra"}
        d["status"] = "open" if self.open else "resolved"
        return d


@dataclass
class _Episode:
    target: str
    start_ts: float
    end_ts: float | None
    run_ids: list[str]
    failed_ids: list[str]


def incident_id(first_failed_run_id: str) -> str:
    return "INC-" + hashlib.sha1(first_failed_run_id.encode()).hexdigest()[:8]


def _episodes(df: pd.DataFrame, rule: IncidentRule) -> list[_Episode]:
    out: list[_Episode] = []
    for target, g in df.groupby("target", sort=False):
        streak: list[tuple[str, float]] = []
        clean = 0
        current: _Episode | None = None
        for run_id, ts, ok in zip(g["run_id"], g["started_ts"], g["ok"], strict=True):
            if current is None:
                if ok:
                    streak = []
                    continue
                streak.append((run_id, ts))
                if len(streak) >= rule.open_after:
                    ids = [r for r, _ in streak]
                    current = _Episode(str(target), streak[0][1], None, list(ids), list(ids))
                    streak = []
                continue
            current.run_ids.append(run_id)
            if ok:
                clean += 1
                if clean == 1:
                    recovered_at = ts
                if clean >= rule.close_after:
                    current.end_ts = recovered_at
                    out.append(current)
                    current, clean = None, 0
            else:
                clean = 0
                current.failed_ids.append(run_id)
        if current is not None:
            out.append(current)
    return out


def page_alerts(slo: SLOConfig | None, rule: IncidentRule) -> tuple[BurnAlert, ...]:
    """The burn-rate alerts that open incidents: the SLO's page-severity ones, when the rule uses them."""
    if slo is None or not rule.burn_alerts:
        return ()
    return tuple(a for a in slo.alerts if a.severity == "page")


def history_s(slo: SLOConfig | None, rule: IncidentRule) -> float:
    """How much history before a moment a burn-rate evaluation needs (the longest page window)."""
    return max((a.long_s for a in page_alerts(slo, rule)), default=0.0)


def _burn_episodes(df: pd.DataFrame, slo: SLOConfig, rule: IncidentRule, complete_from: float | None) -> list[_Episode]:
    """Spans where a page alert fires on one target: from the run at which it fires to the first at which it stops,
    holding at least ``open_after`` failed runs (right after a long outage the long window still burns, and a
    single failed run would otherwise fire the alert again).

    An evaluation needs its long window of history; with ``complete_from`` (the data before it was not read)
    evaluations whose window reaches before it are skipped rather than computed on part of the runs.
    """
    alerts = page_alerts(slo, rule)
    out: list[_Episode] = []
    if not alerts or df.empty:
        return out
    for target, g in df.groupby("target", sort=False):
        ts = g["started_ts"].to_numpy(dtype=float)
        bad = ~good(g, slo).to_numpy(dtype=bool)
        ok = g["ok"].to_numpy(dtype=bool)
        ids = g["run_id"].to_numpy()
        firing = np.zeros(len(ts), dtype=bool)
        for a in alerts:
            long_burn, _ = trailing_burn(ts, bad, a.long_s, slo.objective)
            short_burn, short_n = trailing_burn(ts, bad, a.short_s, slo.objective)
            fires = alert_fires(a, long_burn, short_burn) & (short_n >= rule.burn_min_runs)
            if complete_from is not None:
                fires &= ts - a.long_s >= complete_from
            firing |= fires
        i = 0
        while i < len(ts):
            if not firing[i]:
                i += 1
                continue
            j = i
            while j < len(ts) and firing[j]:
                j += 1
            span_ids = [str(r) for r in ids[i:j + 1]]
            failed = [str(r) for r, b, o in zip(ids[i:j], bad[i:j], ok[i:j], strict=True) if b and not o]
            if len(failed) >= rule.open_after:  # as for streaks: fewer failed runs than that are not an outage
                out.append(_Episode(str(target), float(ts[i]), float(ts[j]) if j < len(ts) else None, span_ids, failed))
            i = j
    return out


def detect(df: pd.DataFrame, rule: IncidentRule = IncidentRule(), slo: SLOConfig | None = None,
           complete_from: float | None = None) -> list[Incident]:
    """Every incident in the runs of ``df`` (sorted by time), oldest first.

    With ``slo``, page-severity burn-rate alerts open incidents too; ``complete_from`` says from when ``df``
    holds every run (None: all of it), so no alert is evaluated on a window missing runs.
    """
    episodes = _episodes(df, rule)
    streaks: dict[str, list[_Episode]] = {}
    for ep in episodes:
        streaks.setdefault(ep.target, []).append(ep)
    if slo is not None:
        episodes += [ep for ep in _burn_episodes(df, slo, rule, complete_from)
                     if not any(_overlap(ep, other) for other in streaks.get(ep.target, ()))]
    by_id = df.set_index("run_id")
    described = []
    for ep in episodes:
        failed = by_id.loc[ep.failed_ids]
        modes = [failure_mode(o, p, c) for o, p, c in zip(failed["outcome"], failed["failed_phase"], failed["close_code"], strict=True)]
        described.append((ep, pd.Series(modes).mode().iloc[0]))
    described.sort(key=lambda x: x[0].start_ts)
    groups: list[list[tuple[_Episode, str]]] = []
    for ep, mode in described:
        for group in groups:
            if group[0][1] == mode and any(_overlap(ep, other) for other, _ in group):
                group.append((ep, mode))
                break
        else:
            groups.append([(ep, mode)])
    return [_incident(group, df) for group in groups]


def _overlap(a: _Episode, b: _Episode) -> bool:
    return _spans_overlap(a.start_ts, a.end_ts, b.start_ts, b.end_ts)


def _spans_overlap(a_start: float, a_end: float | None, b_start: float, b_end: float | None) -> bool:
    """Whether two time spans meet; an end of None is still open."""
    return a_start <= (float("inf") if b_end is None else b_end) and b_start <= (float("inf") if a_end is None else a_end)


def _incident(group: list[tuple[_Episode, str]], df: pd.DataFrame) -> Incident:
    eps = [ep for ep, _ in group]
    first = min(eps, key=lambda e: e.start_ts)
    ends = [e.end_ts for e in eps]
    failed_ids = [r for e in eps for r in e.failed_ids]
    runs = df[df["run_id"].isin({r for e in eps for r in e.run_ids})]
    failed = runs[runs["run_id"].isin(set(failed_ids))]
    sigs = group_failures(failed)
    return Incident(
        id=incident_id(first.failed_ids[0]),
        start_ts=first.start_ts,
        end_ts=None if any(e is None for e in ends) else max(e for e in ends if e is not None),
        targets=tuple(sorted({e.target for e in eps})),
        revisions=tuple(dict.fromkeys(str(r) for r in failed["revision"].dropna())),
        failure_mode=group[0][1],
        signature=sentence(sigs[0]) if sigs else group[0][1],
        failed_runs=len(failed_ids),
        total_runs=len(runs),
        evidence_runs=tuple(failed_ids[:5] + failed_ids[-5:] if len(failed_ids) > 10 else failed_ids),
        title=f"Golden path failing: {sigs[0].description}" if sigs else "Golden path failing",
    )


def manual(incident_id_: str, title: str, start_ts: float, end_ts: float | None, targets: tuple[str, ...] = ()) -> Incident:
    """An incident declared by a person (no detection behind it)."""
    return Incident(incident_id_, start_ts, end_ts, targets, (), "manual", title, 0, 0, (), kind="manual", title=title)


def with_end(incident: Incident, end_ts: float | None) -> Incident:
    return replace(incident, end_ts=end_ts)


def keep_ids(found: list[Incident], stored: list[dict[str, object]]) -> list[Incident]:
    """Re-detected incidents keep the id already stored for them.

    An incident's id comes from its first failed run. When a later detection sees a second target's streak
    that began earlier (it completed only after the last detection), the grouped incident's first run moves
    earlier and its id would change, leaving the stored one open forever with its five whys and GitHub link.
    So a found incident that covers a stored detected one (same failure mode, overlapping time) takes its id.
    """
    known = {str(s["id"]) for s in stored}
    taken = {i.id for i in found if i.id in known}
    candidates = sorted((s for s in stored if s.get("kind") != "manual" and str(s["id"]) not in taken),
                        key=lambda s: float(s["start_ts"]))  # type: ignore[arg-type]
    out = []
    for inc in found:
        if inc.id not in known:
            for s in candidates:
                s_end = None if s.get("end_ts") is None else float(s["end_ts"])  # type: ignore[arg-type]
                if (str(s["id"]) not in taken and s.get("failure_mode") == inc.failure_mode
                        and _spans_overlap(float(s["start_ts"]), s_end, inc.start_ts, inc.end_ts)):  # type: ignore[arg-type]
                    inc = replace(inc, id=str(s["id"]))
                    taken.add(inc.id)
                    break
        out.append(inc)
    return out


#: How far before the last detection an incremental detection re-reads (a failing streak may straddle it).
LOOKBACK_S = 3600.0


def detect_since(stored: list[dict[str, object]], last_detection_ts: float | None, lookback_s: float = LOOKBACK_S) -> float | None:
    """Where incremental detection must start reading so it recomputes every incident it can touch whole.

    None (read everything) on the first detection. Otherwise an hour before the last detection, moved back to
    the start of any detected incident still open or ending inside the window, so none is seen truncated.
    """
    if last_detection_ts is None:
        return None
    since = last_detection_ts - lookback_s
    detected = [i for i in stored if i.get("kind") != "manual"]
    while True:
        reach = [float(i["start_ts"]) for i in detected  # type: ignore[arg-type]
                 if float(i["start_ts"]) < since and (i.get("end_ts") is None or float(i["end_ts"]) >= since)]  # type: ignore[arg-type]
        if not reach:
            return since
        since = min(reach)


# ---------------------------------------------------------------- one incident on the pages

def span(incident: dict[str, object], now: float) -> tuple[float, float]:
    """(start, end) of an incident; an open one ends ``now``."""
    end = incident.get("end_ts")
    return float(incident["start_ts"]), float(end) if end is not None else now  # type: ignore[arg-type]


def runs_during(df: pd.DataFrame, incident: dict[str, object], now: float) -> pd.DataFrame:
    """The runs of ``df`` inside the incident's span, on its targets when it names any."""
    start, end = span(incident, now)
    during = df[(df["started_ts"] >= start) & (df["started_ts"] <= end)]
    targets = incident.get("targets")
    return during[during["target"].isin(list(targets))] if targets else during  # type: ignore[call-overload]
