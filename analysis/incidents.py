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
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.deploys import failure_mode
from analysis.frame import window
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
    """An incident, detected or declared by a person: what detection returns, the store keeps and every page shows.

    The store keeps it as a JSON document (:meth:`to_doc`, :meth:`from_doc`); nothing else reads the document.
    """

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
    #: Closed because a later detection no longer finds it; kept (not removed) because people annotated or published it.
    superseded: bool = False
    #: Keys of a stored document this version does not know: kept, so reading and saving it again loses nothing.
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.end_ts is None

    @property
    def status(self) -> str:
        """``open`` or ``resolved`` (a superseded incident is resolved)."""
        return "open" if self.open else "resolved"

    @property
    def state(self) -> str:
        """What a person is shown: ``open``, ``resolved`` or ``superseded``."""
        return "superseded" if self.superseded else self.status

    @property
    def headline(self) -> str:
        """The one line that names it: its signature, else its title."""
        return self.signature or self.title or ("manual incident" if self.kind == "manual" else "golden path incident")

    def to_doc(self) -> dict[str, object]:
        """The stored document (JSON types; ``status`` derived; ``superseded`` only when true)."""
        d: dict[str, object] = {k: v for k, v in self.extra.items() if k not in _DOC_KEYS}
        for f in fields(self):
            if f.name in ("extra", "superseded"):
                continue
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        d["status"] = self.status
        if self.superseded:
            d["superseded"] = True
        return d

    def to_dict(self) -> dict[str, object]:
        """The same as :meth:`to_doc` (the name older callers use)."""
        return self.to_doc()

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Incident:
        """The incident a stored document describes; a missing field takes its default, a wrong one raises ``ValueError``."""
        try:
            end = doc.get("end_ts")
            return cls(
                id=str(doc["id"]), start_ts=float(doc["start_ts"]), end_ts=None if end is None else float(end),
                targets=tuple(str(t) for t in doc.get("targets") or ()), revisions=tuple(str(r) for r in doc.get("revisions") or ()),
                failure_mode=str(doc.get("failure_mode") or ""), signature=str(doc.get("signature") or ""),
                failed_runs=int(doc.get("failed_runs") or 0), total_runs=int(doc.get("total_runs") or 0),
                evidence_runs=tuple(str(r) for r in doc.get("evidence_runs") or ()), kind=str(doc.get("kind") or "detected"),
                title=str(doc.get("title") or ""), superseded=bool(doc.get("superseded")),
                extra={k: v for k, v in doc.items() if k not in _DOC_KEYS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"incident document {str(doc.get('id', '?'))[:80]!r}: {type(exc).__name__}: {exc}") from None


#: Every key :meth:`Incident.to_doc` writes (the rest of a document is ``extra``).
_DOC_KEYS = frozenset({"id", "start_ts", "end_ts", "targets", "revisions", "failure_mode", "signature", "failed_runs", "total_runs",
                       "evidence_runs", "kind", "title", "status", "superseded"})


@dataclass(frozen=True)
class Window:
    """A half-open span of time: a run belongs to it when ``start_ts <= started_ts < end_ts``."""

    start_ts: float
    end_ts: float

    def contains(self, ts: float) -> bool:
        return self.start_ts <= ts < self.end_ts

    def widened(self, before_s: float, after_s: float | None = None) -> Window:
        """The same window with ``before_s`` more at the start and ``after_s`` (default: the same) more at the end."""
        return Window(self.start_ts - before_s, self.end_ts + (before_s if after_s is None else after_s))


def incident_window(incident: Incident, *, now: float, margin_s: float = 0.0) -> Window:
    """The one definition of an incident's window: ``[start, end)``, an open incident ending ``now``, widened by
    ``margin_s`` on both sides (the context a timeline, a fix verdict or the server's log needs)."""
    end = incident.end_ts if incident.end_ts is not None else now
    return Window(incident.start_ts, max(end, incident.start_ts)).widened(margin_s)


def incident_runs(df: pd.DataFrame, incident: Incident, *, now: float, margin_s: float = 0.0) -> pd.DataFrame:
    """The runs of ``df`` that belong to the incident: inside :func:`incident_window`, on its targets (all when it names none)."""
    w = incident_window(incident, now=now, margin_s=margin_s)
    runs = window(df, w.start_ts, w.end_ts)
    return runs[runs["target"].isin(incident.targets)] if incident.targets else runs


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


def incidents_overlap(a: Incident, b: Incident) -> bool:
    """Whether two incidents were under way at the same time (an open one runs until now), as episodes are merged."""
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


def keep_ids(found: list[Incident], stored: list[Incident]) -> list[Incident]:
    """Re-detected incidents keep the id already stored for them.

    An incident's id comes from its first failed run. When a later detection sees a second target's streak
    that began earlier (it completed only after the last detection), the grouped incident's first run moves
    earlier and its id would change, leaving the stored one open forever with its five whys and GitHub link.
    So a found incident that covers a stored detected one (same failure mode, overlapping time) takes its id.
    """
    known = {s.id for s in stored}
    taken = {i.id for i in found if i.id in known}
    candidates = sorted((s for s in stored if s.kind != "manual" and s.id not in taken), key=lambda s: s.start_ts)
    out = []
    for inc in found:
        if inc.id not in known:
            for s in candidates:
                if (s.id not in taken and s.failure_mode == inc.failure_mode
                        and _spans_overlap(s.start_ts, s.end_ts, inc.start_ts, inc.end_ts)):
                    inc = replace(inc, id=s.id)
                    taken.add(inc.id)
                    break
        out.append(inc)
    return out


#: How far before the last detection an incremental detection re-reads (a failing streak may straddle it).
LOOKBACK_S = 3600.0


def detect_since(stored: list[Incident], last_detection_ts: float | None, lookback_s: float = LOOKBACK_S) -> float | None:
    """Where incremental detection must start reading so it recomputes every incident it can touch whole.

    None (read everything) on the first detection. Otherwise an hour before the last detection, moved back to
    the start of any detected incident still open or ending inside the window, so none is seen truncated.
    """
    if last_detection_ts is None:
        return None
    since = last_detection_ts - lookback_s
    detected = [i for i in stored if i.kind != "manual"]
    while True:
        reach = [i.start_ts for i in detected if i.start_ts < since and (i.end_ts is None or i.end_ts >= since)]
        if not reach:
            return since
        since = min(reach)


def no_longer_found(stored: list[Incident], found: list[Incident], since: float | None, until: float | None) -> list[Incident]:
    """Stored detected incidents starting in the re-examined range [since, until) that this pass no longer finds
    (seen on partial runs, e.g. an alert's span that a streak on the same target later covered)."""
    ids = {i.id for i in found}
    return [s for s in stored if s.kind != "manual" and s.id not in ids
            and (since is None or s.start_ts >= since) and (until is None or s.start_ts < until)]


def retire(incident: Incident) -> Incident:
    """A superseded incident kept for its annotations: closed (at its start when it was still open) and marked."""
    return replace(incident, superseded=True, end_ts=incident.end_ts if incident.end_ts is not None else incident.start_ts)


# ---------------------------------------------------------------- one incident on the pages

def _as_incident(incident: Incident | dict[str, object]) -> Incident:
    return incident if isinstance(incident, Incident) else Incident.from_doc(incident)  # type: ignore[arg-type]


def span(incident: Incident | dict[str, object], now: float) -> tuple[float, float]:
    """(start, end) of an incident by :func:`incident_window` (an open one ends ``now``)."""
    w = incident_window(_as_incident(incident), now=now)
    return w.start_ts, w.end_ts


def runs_during(df: pd.DataFrame, incident: Incident | dict[str, object], now: float) -> pd.DataFrame:
    """The runs of ``df`` that belong to the incident, by :func:`incident_runs` (the one window rule)."""
    return incident_runs(df, _as_incident(incident), now=now)
