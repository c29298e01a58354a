"""Which targets stopped sending runs, read from the store: each target's newest run and the gaps of its recent runs,
judged by ``analysis.no_data`` with the ``[alerting]`` settings."""

from __future__ import annotations

from analysis.alerting import AlertingSettings, Notice
from analysis.no_data import RECENT_RUNS, NoData, data_back_notices, interval, no_data_notices, stale_targets
from probes.timeutil import parse_iso
from services.silences import MEMBER_RECENT_S, target_groups
from store import deliveries
from store.rollup import latest_runs
from store.sqlite import Store


def last_seen_and_intervals(store: Store, default_interval_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """(target -> its newest run's start, target -> its probe interval: the median gap of its last runs)."""
    last: dict[str, float] = {}
    every: dict[str, float] = {}
    for run in latest_runs(store):
        last[run.target] = parse_iso(run.started_at)
        times = [float(r[0]) for r in store.run_rows(("started_ts",), targets=(run.target,), newest=RECENT_RUNS)]
        every[run.target] = interval(times, default_interval_s)
    return last, every


def stale(store: Store, settings: AlertingSettings, *, now: float) -> list[NoData]:
    """Targets with no run for more than ``no_data_after`` of their intervals (``analysis.no_data.stale_targets``), and
    for at most a week."""
    last, every = last_seen_and_intervals(store, settings.probe_interval_s)
    return _recent(stale_targets(last, every, now=now, after=settings.no_data_after), now)


def _recent(found: list[NoData], now: float) -> list[NoData]:
    """A target silent for longer than a group member may be (a week) was retired, not stopped: no longer news."""
    return [nd for nd in found if now - nd.since_ts <= MEMBER_RECENT_S]


def notices(store: Store, settings: AlertingSettings, public_url: str, *, now: float) -> list[Notice]:
    """The no-data notices due now, and the data-back notices of those already told whose target runs again (for
    ``policy_inputs``' ``extra``)."""
    last, every = last_seen_and_intervals(store, settings.probe_interval_s)
    found = _recent(stale_targets(last, every, now=now, after=settings.no_data_after), now)
    told = [Notice.from_doc(doc) for doc, _ in deliveries.notices(store, since_ts=now - MEMBER_RECENT_S)]
    back = data_back_notices([n for n in told if n.kind == "no_data"], last)
    if not found:
        return back
    groups, _ = target_groups(store, now=now)
    return no_data_notices(found, groups, public_url) + back
