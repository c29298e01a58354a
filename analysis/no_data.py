"""No data is news: a target whose runs stop arriving for longer than ``no_data_after`` of its probe intervals.

Pure: each target's last run time and its interval come in (the interval is the median gap between its recent runs,
else the configured ``probe_interval_s``), ``now`` is passed. The probe stopping is not the golden path failing: the
SLO and impact never count the gap as good time (there are no runs in it), and a notice says the probe itself stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote

import numpy as np

from analysis.alerting import BACK_SUFFIX, Notice
from probes.timeutil import human_utc

#: Recent runs whose gaps give a target's interval.
RECENT_RUNS = 20


@dataclass(frozen=True)
class NoData:
    """``target`` has sent no run since ``since_ts`` (its last run), though one was due every ``interval_s``."""

    target: str
    since_ts: float
    interval_s: float

    def missed(self, now: float) -> int:
        """Runs that should have arrived since the last one."""
        return int((now - self.since_ts) // self.interval_s) if self.interval_s > 0 else 0


#: Gaps shorter than this are runs of one probe cycle (``--users N``, several targets' runs, a burst), not its interval.
MIN_GAP_S = 1.0


def interval(times: Sequence[float], default_s: float) -> float:
    """A target's probe interval: the median gap between its recent cycles (``times`` in any order; runs less than
    :data:`MIN_GAP_S` apart are one cycle), else ``default_s``."""
    ts = np.sort(np.asarray(times, dtype=float))
    gaps = np.diff(ts)
    gaps = gaps[gaps >= MIN_GAP_S]
    return float(np.median(gaps)) if gaps.size else float(default_s)


def stale_targets(last_seen: Mapping[str, float], intervals: Mapping[str, float], *, now: float, after: int) -> list[NoData]:
    """The targets whose last run is more than ``after`` intervals old, longest silent first.

    A target with no interval known uses the smallest interval known (else it cannot be judged and is left out)."""
    fallback = min(intervals.values()) if intervals else None
    out = []
    for target, last in last_seen.items():
        every = intervals.get(target, fallback)
        if every is None or every <= 0:
            continue
        if now - last > after * every:
            out.append(NoData(target, float(last), float(every)))
    return sorted(out, key=lambda n: (n.since_ts, n.target))


def sentence(nd: NoData, now: float) -> str:
    """The overview's line: ``No data from eu since 2026-11-25 10:00 UTC (a run was due every 60 s; 12 missed)``."""
    every = f"{nd.interval_s:.3g} s" if nd.interval_s < 120 else f"{nd.interval_s / 60:.3g} min"
    return (f"No data from {nd.target} since {human_utc(nd.since_ts)} (a run was due every {every}; {nd.missed(now)} missed): "
            "the probe itself has stopped, so nobody knows whether the golden path works there.")


def no_data_notices(stale: Sequence[NoData], groups: Mapping[str, str], public_url: str) -> list[Notice]:
    """One page-severity notice per stale target, keyed by the target and when its runs stopped (``no_data:<t>:<since>``), so
    the outbox sends it once per silence of the probe and again only if it stops again later."""
    out = []
    for nd in stale:
        since = int(nd.since_ts)
        out.append(Notice(
            key=f"no_data:{nd.target}:{since}", kind="no_data", incident_id=None, targets=(nd.target,),
            group=groups.get(nd.target, nd.target), severity="page", outcome="no_data",
            summary=f"No runs from {nd.target} since {human_utc(nd.since_ts)}: the probe itself has stopped",
            impact=f"Nobody can see whether the golden path works on {nd.target}: a run was due every {nd.interval_s:.3g} s.",
            starts_at=nd.since_ts,
            url=f"{public_url.rstrip('/')}/overview?target={quote(nd.target, safe='')}" if public_url else "",
        ))
    return out


def data_back_notices(told: Sequence[Notice], last_seen: Mapping[str, float]) -> list[Notice]:
    """For each no-data notice already told whose target has run again since, the notice that closes it (``data_back``,
    keyed by the no-data key plus ``:back``, with its labels, so Alertmanager resolves that alert and PagerDuty that
    incident); sent once, like any notice."""
    out = []
    for n in told:
        back = last_seen.get(n.targets[0]) if n.kind == "no_data" and n.targets else None
        if back is not None and back > n.starts_at:
            out.append(replace(n, key=n.key + BACK_SUFFIX, kind="data_back", ends_at=back,
                               summary=f"Runs from {n.targets[0]} arrive again since {human_utc(back)} (none from {human_utc(n.starts_at)})"))
    return out
