"""Silenced windows and the SLO and impact: off by default (said so), on with ``[alerting] exclude_silences``: the
error budget, the report's SLO and impact and each incident's cost leave the silenced runs out, and say so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from analysis import rollups
from analysis.alerting import AlertingSettings
from analysis.settings import Settings
from probes.timeutil import iso
from services import dashboard
from services import silences as svc
from services.impact import incident_costs
from services.incidents import save_incidents
from services.report import summary_report
from store.sqlite import open_store
from tests.store.test_sqlite import make_run

NOW = 1_795_600_000.0 // 3600 * 3600 + 1800  # half past an hour
ON = Settings(alerting=AlertingSettings(exclude_silences=True))


def _store(db_path: Path):  # type: ignore[no-untyped-def]
    """Forty minutes of runs on eu every minute: good, except ten failing minutes during a maintenance silence."""
    runs = []
    for i in range(40):
        t = NOW - 2400 + 60 * i
        failing = 10 <= i < 20
        run = make_run(i, outcome="server_error" if failing else "ok", started_at=iso(t), target="eu")
        runs.append(replace(run, total_ms=1000.0, failed_phase="agent_thinking" if failing else None))
    s = open_store(db_path)
    s.save_runs(runs)
    svc.add_silence(s, target="eu", group=None, starts_ts=NOW - 2400 + 600 - 1, until_ts=NOW + 3600, reason="maintenance",
                    author="a", now=NOW - 1800)
    svc.expire_silence(s, "S1", author="a", now=NOW - 2400 + 1200 - 1)
    return s


def test_the_budget_leaves_the_silenced_runs_out_only_when_asked(db_path: Path) -> None:
    with _store(db_path) as s:
        hourly = rollups.hourly_frame(dashboard.hourly_rows(s, good_under_ms=10_000, since_ts=None, targets=()), dashboard.HOURLY_COLUMNS)
        spans, said = dashboard.exclusion(s, Settings(), ["eu"], since_ts=None, now=NOW)
        assert spans == {} and "count in the SLO and impact" in said and "1 target" in said
        assert rollups.slo_budget(dashboard.hourly_excluding(s, hourly, spans, 10.0), 0.99)["compliance"] == pytest.approx(30 / 40)
        spans, said = dashboard.exclusion(s, ON, ["eu"], since_ts=None, now=NOW)
        assert spans == {"eu": [(NOW - 1801, NOW - 1201)]} and "left out" in said and "10 target-minutes on eu" in said
        left = dashboard.hourly_excluding(s, hourly, spans, 10.0)
        assert rollups.slo_budget(left, 0.99) == {"events": 30, "good": 30, "compliance": 1.0, "budget_remaining": 1.0}


def test_the_report_and_the_incident_costs_leave_the_silenced_runs_out(db_path: Path) -> None:
    from analysis import incidents
    from analysis.frame import COLUMNS, runs_frame

    with _store(db_path) as s:
        save_incidents(s, incidents.detect(runs_frame(s.run_rows(COLUMNS))), now=NOW)
        counted = summary_report(s, ON.report, now=NOW, settings=Settings())
        left_out = summary_report(s, ON.report, now=NOW, settings=ON)
        assert counted["slo"]["events"] == 40 and counted["impact"]["downtime_minutes"]["value"] == pytest.approx(10.0)
        assert left_out["slo"]["events"] == 30 and left_out["slo"]["compliance"] == 1.0
        assert left_out["impact"]["downtime_minutes"]["value"] == 0.0 and "left out" in left_out["silences"]
        assert left_out["runs"] == 40 and left_out["incidents"], "the incident is still detected and listed"
        spans, _ = dashboard.exclusion(s, ON, ["eu"], since_ts=None, now=NOW)
        [cost] = incident_costs(s, ON.report.impact, now=NOW, spans=spans)
        [full] = incident_costs(s, ON.report.impact, now=NOW)
        assert full.impact.downtime_minutes.value > 0 and cost.impact.downtime_minutes.value == 0.0
