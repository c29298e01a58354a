"""``services.impact``: what each incident cost, measured on the runs of its window (the same runs its case file holds)."""

from __future__ import annotations

import time

from analysis.impact import ImpactConfig, trend_bucket_s
from analysis.incidents import manual
from services.case_file import case_file
from services.impact import incident_costs
from services.incidents import save_incidents
from store.sqlite import Store


def test_an_incidents_cost_is_its_case_files_impact(store: Store) -> None:
    now = time.time()
    save_incidents(store, [manual("MAN-empty", "nothing ran", now - 10, now - 5)], now=now)
    costs = incident_costs(store, ImpactConfig(), now=now)
    by_id = {c.incident.id: c for c in costs}
    detected = next(c for c in costs if c.incident.kind == "detected")
    assert detected.impact == case_file(store, detected.incident.id, now=now).impact
    assert detected.impact.downtime_minutes.value > 0 and by_id["MAN-empty"].impact.downtime_minutes.value == 0
    assert costs[0] is detected, "costliest first"
    assert detected.to_row()["status"] == "resolved" and "1011" in str(detected.to_row()["signature"])
    assert [c.incident.id for c in incident_costs(store, ImpactConfig(), now=now, since_ts=now - 60)] == ["MAN-empty"], \
        "only incidents still open or ended in the period"


def test_trend_bars() -> None:
    assert [trend_bucket_s(s) for s in (3600.0, 2 * 86400.0, 7 * 86400.0, None)] == [3600.0, 3600.0, 86400.0, 86400.0]
