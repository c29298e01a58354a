"""No data from a real store: each target's interval read from its runs, the stale one named, its notice keyed once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from analysis.alerting import AlertingSettings
from probes.timeutil import iso
from services import no_data
from store.sqlite import open_store
from tests.store.test_sqlite import make_run

NOW = 1_795_600_000.0


def test_the_target_whose_probe_stopped_is_stale_and_gets_one_notice(db_path: Path) -> None:
    runs = [replace(make_run(i, target="gp-eu", started_at=iso(NOW - 3000 + 30 * i)), tags={"group": "gp"}) for i in range(10)]
    runs += [replace(make_run(100 + i, target="gp-us", started_at=iso(NOW - 300 + 30 * i)), tags={"group": "gp"}) for i in range(10)]
    with open_store(db_path) as s:
        s.save_runs(runs)
        last, every = no_data.last_seen_and_intervals(s, 60.0)
        assert every == {"gp-eu": 30.0, "gp-us": 30.0} and last["gp-us"] == NOW - 30
        stale = no_data.stale(s, AlertingSettings(no_data_after=3), now=NOW)
        assert [(n.target, n.since_ts) for n in stale] == [("gp-eu", NOW - 3000 + 270)]
        [notice] = no_data.notices(s, AlertingSettings(), "", now=NOW)
        assert notice.key == f"no_data:gp-eu:{int(NOW - 2730)}" and notice.group == "gp"
        assert no_data.notices(s, AlertingSettings(), "", now=NOW + 60) == [notice], "the same stop, the same key"
        assert no_data.stale(s, AlertingSettings(no_data_after=1000), now=NOW) == []
        assert no_data.stale(s, AlertingSettings(), now=NOW + 8 * 86400) == [], "a target silent for over a week was retired: no news"



def test_a_told_stop_is_closed_once_runs_arrive_again(db_path: Path) -> None:
    from store import deliveries

    runs = [replace(make_run(i, target="gp-eu", started_at=iso(NOW - 3000 + 30 * i)), tags={"group": "gp"}) for i in range(10)]
    with open_store(db_path) as s:
        s.save_runs(runs)
        [stop] = no_data.notices(s, AlertingSettings(), "", now=NOW)
        assert no_data.notices(s, AlertingSettings(), "", now=NOW) == [stop], "nothing to close before it was told"
        deliveries.enqueue(s, [(stop.key, "pd", stop.kind, None, stop.thread, stop.to_doc(), "pending")], now=NOW)
        s.save_runs([replace(make_run(50, target="gp-eu", started_at=iso(NOW + 10)), tags={"group": "gp"})])
        [back] = no_data.notices(s, AlertingSettings(), "", now=NOW + 20)
        assert (back.key, back.kind, back.thread, back.targets, back.ends_at) == (stop.key + ":back", "data_back", stop.key, ("gp-eu",), NOW + 10)
        assert back.severity == stop.severity and back.group == stop.group, "the same labels: Alertmanager resolves that alert"
        assert "arrive again" in back.summary
