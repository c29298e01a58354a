"""The analysis on real probe runs of the sandbox's golden-path-incident story (recorded fixture and live)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from analysis import deploys, failures, incidents, latency, signatures
from analysis.frame import from_runs
from analysis.impact import impact, plain_sentence
from analysis.report import build
from store import incidents as store_incidents
from store.sqlite import iso_to_ts, open_store
from tests.fixtures.record import load_fixture

REVS = ["netra-backend-staging-00290-h7q", "netra-backend-staging-00291-abc", "netra-backend-staging-00292-k6b", "netra-backend-staging-00293-x2m"]


@pytest.fixture(scope="module")
def df():  # type: ignore[no-untyped-def]
    return from_runs(load_fixture())


def test_the_crash_signature_is_named_like_an_engineer_would(df):  # type: ignore[no-untyped-def]
    top = signatures.group_failures(df)[0]
    assert (top.outcome, top.failed_phase, top.close_code) == ("server_error", "agent_thinking", 1011)
    assert top.first_revision == REVS[1]
    assert top.description.startswith("1011 Internal error about ") and "s after start_agent, before agent_thinking" in top.description
    text = signatures.sentence(top)
    assert f"of {top.total_failures} failures since {REVS[1]}" in text


def test_fix_validation_catches_the_silent_stall_trap(df):  # type: ignore[no-untyped-def]
    verdicts = [(v.from_revision, v.to_revision, v.verdict) for v in deploys.fix_validations(df)]
    assert verdicts == [(REVS[0], REVS[1], "regressed"), (REVS[1], REVS[2], "failure_mode_changed"), (REVS[2], REVS[3], "fixed")]


def test_one_incident_across_regions_spanning_crash_and_stall(df):  # type: ignore[no-untyped-def]
    found = incidents.detect(df)
    assert len(found) == 1
    inc = found[0]
    assert inc.failure_mode == "server_error/agent_thinking/1011" and not inc.open
    assert set(inc.revisions) == {REVS[1], REVS[2]} and len(inc.targets) == 2
    crash_start = df[df["revision"] == REVS[1]]["started_ts"].min()
    fixed_start = df[df["revision"] == REVS[3]]["started_ts"].min()
    assert crash_start <= inc.start_ts < crash_start + 2 and fixed_start <= inc.end_ts < fixed_start + 2


def test_detection_is_idempotent_in_the_store(df, db_path):  # type: ignore[no-untyped-def]
    found = [i.to_dict() for i in incidents.detect(df)]
    with open_store(db_path) as s:
        assert store_incidents.upsert_incidents(s, found, "t1") == (1, 0)
        again = [i.to_dict() for i in incidents.detect(df)]
        assert store_incidents.upsert_incidents(s, again, "t2") == (0, 0)
        assert [i["id"] for i in store_incidents.list_incidents(s)] == [found[0]["id"]]


def test_an_open_incident_stays_open_until_m_clean_runs(df):  # type: ignore[no-untyped-def]
    upto_stall = df[df["revision"].isin(REVS[:3])]
    assert incidents.detect(upto_stall)[0].open
    rule = incidents.IncidentRule(open_after=3, close_after=10_000)
    assert incidents.detect(df, rule)[0].open


def test_latency_failures_and_impact_numbers(df):  # type: ignore[no-untyped-def]
    healthy = df[df["revision"] == REVS[0]]
    summary = latency.phase_summary(healthy)
    assert summary["agent_thinking"]["count"] == len(healthy) and summary["tls"]["count"] == 0
    # The sandbox's healthy agent_thinking delay is 0.4 s x time scale 0.02 = 8 ms.
    assert 8.0 <= summary["agent_thinking"]["p50"] < 12.0
    by_rev = latency.phase_percentiles(df, by=["revision"])
    assert set(by_rev["revision"]) == set(REVS)
    crashes = int((df["revision"] == REVS[1]).sum())
    stalls = int((df["revision"] == REVS[2]).sum())
    assert failures.counts(df, "close_code") == {"1011": crashes, "none": stalls}
    assert failures.counts(df, "failed_phase") == {"agent_thinking": crashes, "agent_started": stalls}
    ttf = failures.time_to_failure(df[df["revision"] == REVS[1]])
    assert 7.0 * 0.02 * 1000 - 5 <= ttf["p50"] <= 7.0 * 0.02 * 1000 + 30
    imp = impact(df)
    broken = df[df["revision"].isin(REVS[1:3])]
    span_min = (broken["started_ts"].max() - broken["started_ts"].min()) / 60
    assert span_min * 0.8 <= imp.downtime_minutes.value <= span_min * 1.3
    assert "$120,000 monthly revenue" in imp.revenue_at_risk.formula
    assert plain_sentence(imp, "this week").startswith("The agent chat path was down ")


def test_latency_regression_rule():
    import pandas as pd

    base = pd.DataFrame({f"ms_{p}": [10.0] * 40 for p in latency.PHASES})
    slow = base.copy()
    slow["ms_agent_thinking"] = 50.0
    changes = {c.phase: c for c in latency.regressions(base, slow)}
    assert changes["agent_thinking"].regressed and changes["agent_thinking"].change_pct == pytest.approx(400.0)
    assert not changes["dns"].regressed
    few = latency.regressions(base.head(5), slow.head(5))
    assert not any(c.regressed for c in few) and not any(c.enough_data for c in few)


def test_report_cli_json_has_every_section(df, db_path):  # type: ignore[no-untyped-def]
    with open_store(db_path) as s:
        s.save_runs(load_fixture())
    p = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(db_path), "--json"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    for key in ("runs", "success_rate", "phases", "outcomes", "signatures", "incidents", "revisions", "fix_validations"):
        assert key in report
    assert report["runs"] == len(df)
    assert set(report["phases"]["agent_thinking"]) >= {"p50", "p95", "p99", "count"}
    assert {"outcome", "failed_phase", "close_code", "count", "description"} <= set(report["signatures"][0])
    assert {"id", "start", "end", "signature", "revisions", "runs", "impact"} <= set(report["incidents"][0])
    assert {"revision", "runs", "success_rate", "first_seen", "last_seen", "dominant_outcome"} <= set(report["revisions"][0])
    assert [v["verdict"] for v in report["fix_validations"]] == ["regressed", "failure_mode_changed", "fixed"]
    text = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(db_path)], capture_output=True, text=True, timeout=60)
    assert "failure_mode_changed" in text.stdout and "1011 Internal error" in text.stdout
    detect = subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect", "--db", str(db_path), "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(detect.stdout) == {"incidents": 1, "added": 1, "changed": 0, "removed": 0, "open": 0}
    detect = subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect", "--db", str(db_path), "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(detect.stdout)["added"] == 0


def test_report_on_an_empty_store_says_how_to_start(db_path):  # type: ignore[no-untyped-def]
    p = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(db_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "python -m probes run" in p.stdout
    bad = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(db_path), "--since", "forever"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "duration" in bad.stderr


@pytest.mark.slow
def test_live_story_gives_the_same_verdicts(story_runs):  # type: ignore[no-untyped-def]
    runs = story_runs
    report = build(from_runs(runs), now=max(from_runs(runs)["started_ts"]) + 1)
    assert [v["verdict"] for v in report["fix_validations"]] == ["regressed", "failure_mode_changed", "fixed"]
    assert report["incidents"] and report["incidents"][0]["failure_mode"] == "server_error/agent_thinking/1011"


def test_incremental_detection_equals_a_full_pass(db_path):  # type: ignore[no-untyped-def]
    """Detect while the incident is open, again after it closed: the stored result is the one a full pass gives."""
    runs = load_fixture()
    df_all = from_runs(runs)
    cut = float(df_all[df_all["revision"] == REVS[2]]["started_ts"].median())  # during the silent stall
    env = {**os.environ, "PATHWATCH_DB": str(db_path)}
    with open_store(db_path) as s:
        s.save_runs([r for r in runs if iso_to_ts(r.started_at) < cut])
    first = subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect", "--json"], env=env, capture_output=True, text=True, timeout=60)
    with open_store(db_path) as s:
        opened = store_incidents.list_incidents(s)
        s.save_runs([r for r in runs if iso_to_ts(r.started_at) >= cut])
    second = subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert [i["status"] for i in opened] == ["open"]
    with open_store(db_path) as s:
        stored = store_incidents.list_incidents(s)
    full = [i.to_dict() for i in incidents.detect(df_all)]
    assert [(i["id"], i["start_ts"], i["end_ts"], i["status"]) for i in stored] == [(i["id"], i["start_ts"], i["end_ts"], i["status"]) for i in full]


def test_detect_since_never_cuts_an_incident():
    stored = [incidents.Incident.from_doc(d) for d in ({"id": "a", "kind": "detected", "start_ts": 100.0, "end_ts": 5000.0},
                                                       {"id": "b", "kind": "detected", "start_ts": 6000.0, "end_ts": None})]
    assert incidents.detect_since([], None) is None, "the first detection reads everything"
    assert incidents.detect_since(stored, 10_000.0) == 6000.0, "an open incident is re-read from its start"
    assert incidents.detect_since(stored[:1], 10_000.0) == 6400.0, "an incident that ended before the window is left alone"
    assert incidents.detect_since(stored[:1], 5500.0) == 100.0, "one that ends inside the window is re-read whole"
