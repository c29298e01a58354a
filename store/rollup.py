"""Rollups kept beside the raw runs so long windows stay fast (the habit of Gatus's hourly tables).

* ``run_hours``: runs per target, hour, revision, outcome, failed phase, close code
  and total-latency bin: success rates, SLO good events (latency under a
  threshold), revision statistics and failures over time come from here.
* ``phase_days``: per-phase latency histograms per target, day and revision:
  percentiles over weeks come from here.

Both are written in the same transaction as the run (``rows.add_to_rollups``), so they never
disagree with it; their tables are created in ``schema``. Latency bins are log-spaced (ratio
2^(1/8), about 9 %); readers get each bin's bounds in ms and need not know the scheme.

The functions here are the readers' names for the Store's rollup reads.
"""

from __future__ import annotations

from typing import Any

from probes.record import ProbeRun
from store.rows import (
    BIN_RATIO,
    DAY,
    HOUR,
    HOURLY_COLUMNS,
    PHASE_HISTOGRAM_COLUMNS,
    bin_bounds,
    last_bin_under,
    latency_bin,
)
from store.sqlite import Store

#: Rows of :func:`phase_histograms` (not the ``ms_<phase>`` columns of ``runs``: those are ``rows.PHASE_COLUMNS``).
PHASE_COLUMNS = PHASE_HISTOGRAM_COLUMNS

__all__ = [
    "BIN_RATIO", "DAY", "HOUR", "HOURLY_COLUMNS", "PHASE_COLUMNS", "bin_bounds", "hourly", "known_targets",
    "last_bin_under", "latency_bin", "latest_runs", "phase_histograms", "revision_first_seen", "streak_start",
]


def hourly(store: Store, *, good_under_ms: float, since_ts: float | None = None, until_ts: float | None = None,
           targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of HOURLY_COLUMNS: see :meth:`Store.hourly_rows`."""
    return store.hourly_rows(good_under_ms=good_under_ms, since_ts=since_ts, until_ts=until_ts, targets=targets)


def revision_first_seen(store: Store) -> list[tuple[str, float]]:
    """When each revision was first probed: see :meth:`Store.revision_first_seen`."""
    return store.revision_first_seen()


def phase_histograms(store: Store, *, since_ts: float | None = None, until_ts: float | None = None, targets: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of PHASE_COLUMNS: see :meth:`Store.phase_histogram_rows`."""
    return store.phase_histogram_rows(since_ts=since_ts, until_ts=until_ts, targets=targets)


def known_targets(store: Store) -> list[str]:
    """Every target with a stored run."""
    return store.known_targets()


def latest_runs(store: Store, targets: tuple[str, ...] = ()) -> list[ProbeRun]:
    """The newest run of each target (an index seek per target)."""
    return store.latest_runs(targets)


def streak_start(store: Store, target: str, ok_now: bool, from_ts: float | None) -> float | None:
    """When the target's current run of successes (or failures) began: see :meth:`Store.streak_start`."""
    return store.streak_start(target, ok_now, from_ts)
