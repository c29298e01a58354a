"""``services.case_file``: one incident's case file, built once from a real store, is what the GitHub body says.

The recorded incident story (tests/fixtures/incident_runs.jsonl: a 1011 crash, a "fix" that only silenced it, a
real fix) in a real SQLite store; the body is published with the real PyGithub client to the local GitHub stand-in.
"""

from __future__ import annotations

import secrets
import time

import pytest

from analysis import incidents, publish
from analysis.five_whys import FiveWhys, Why, escape
from analysis.frame import COLUMNS, from_runs, runs_frame
from analysis.impact import impact
from analysis.incidents import incident_runs, incident_window, manual
from analysis.settings import DashboardSettings, Settings
from probes.redact import known_secrets
from probes.timeutil import human_utc
from services.case_file import case_file
from services.incidents import list_incidents, save_five_whys, save_incidents
from services.publish import publish_incident
from store import server_logs as stored_logs
from store.sqlite import Store
from tests.fakes.github_api import fake_github
from tests.fixtures.record import load_fixture

TOKEN = "ghp_" + secrets.token_hex(18)
SETTINGS = Settings(dashboard=DashboardSettings(public_url="https://pathwatch.example"))


def _detected(store: Store) -> incidents.Incident:
    return next(i for i in list_incidents(store) if i.kind == "detected")


def test_the_case_file_holds_the_incidents_runs_by_the_one_window_rule(store: Store) -> None:
    inc = _detected(store)
    now = time.time()
    case = case_file(store, inc.id, now=now, settings=SETTINGS)
    everything = runs_frame(store.run_rows(COLUMNS))
    assert case.window == incident_window(inc, now=now) and case.window.end_ts == inc.end_ts, "resolved: [start, end)"
    assert list(case.during["run_id"]) == list(incident_runs(everything, inc, now=now)["run_id"]), "the same runs as the rule says"
    assert case.during["started_ts"].min() == inc.start_ts and case.during["started_ts"].max() < inc.end_ts  # type: ignore[operator]
    assert set(case.during["target"]) <= set(inc.targets)
    assert case.runs_in_window == len(case.during) and 0 < case.failed_in_window <= inc.failed_runs
    assert case.impact == impact(case.during, SETTINGS.report.impact), "impact is computed on exactly the window's runs"
    assert [v.verdict for v in case.verdicts] == ["regressed", "failure_mode_changed", "fixed"], "the context holds every deploy"
    assert "1011" in case.signature and case.signature == inc.signature
    assert case.signatures and case.signatures[0].close_code == 1011
    assert case.five_whys is None and case.drafted_whys and all(w.draft for w in case.drafted_whys)
    assert case.annotation.whys == list(case.drafted_whys), "without a saved annotation the editor starts from the drafts"
    assert case.incident_url == f"https://pathwatch.example/incidents?incident={inc.id}"


def test_an_open_incident_runs_to_now(store: Store) -> None:
    first = load_fixture()[0]
    t0 = from_runs([first])["started_ts"].iloc[0]
    inc = manual("MAN-open", "still happening", t0, None, (first.target,))
    save_incidents(store, [inc], now=time.time())
    now = t0 + 30
    case = case_file(store, inc.id, now=now)
    assert case.window.start_ts == t0 and case.window.end_ts == now
    assert len(case.during) and case.during["started_ts"].max() < now and set(case.during["target"]) == {first.target}


def test_server_errors_are_those_around_the_window(store: Store) -> None:
    inc = _detected(store)
    assert inc.end_ts is not None
    times = {"too early": inc.start_ts - 61, "just before": inc.start_ts - 59, "inside": inc.start_ts + 1, "just after": inc.end_ts + 59,
             "too late": inc.end_ts + 61}
    stored_logs.save(store, [{"insert_id": name, "ts": ts, "severity": "ERROR", "signature": name, "run_id": None, "source": "file:x",
                              "entry": {"timestamp": "2026-11-25T00:00:00Z", "severity": "ERROR", "textPayload": f"{name}: boom"}}
                             for name, ts in times.items()])
    case = case_file(store, inc.id, now=time.time())
    assert [r["insert_id"] for r in case.server_errors] == ["just before", "inside", "just after"]
    assert {g["signature"] for g in case.server_signatures} == {"just before: boom", "inside: boom", "just after: boom"}


def test_the_github_body_is_the_case_file_rendered_and_they_agree(store: Store) -> None:
    inc = _detected(store)
    fw = FiveWhys(inc.id, [Why("Why no answer?", "The orchestrator was None.")], root_cause="No guard on the factory")
    save_five_whys(store, inc.id, fw, "alice", now=time.time())
    now = time.time()
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 9)
        env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.api_url}
        publish_incident(store, inc.id, "acme/backend", 9, now=now, settings=SETTINGS, environ=env)
        (sent,) = [c["body"] for c in gh.comments_on("acme/backend", 9)]
    hidden = (TOKEN, *known_secrets(env))
    case = case_file(store, inc.id, now=now, settings=SETTINGS, secrets=hidden)
    assert sent == publish.incident_body(case, secrets=hidden), "what GitHub got is the case file, rendered"
    assert escape(case.signature) in sent
    assert f"started {human_utc(case.window.start_ts)}, ended {human_utc(case.window.end_ts)}" in sent
    assert f"{inc.failed_runs} of {inc.total_runs} runs failed" in sent
    for v in case.verdicts:
        assert f"**{escape(v.verdict)}**" in sent
    for f in case.impact.figures():
        assert f"{f.value:,.2f}" in sent
    assert "No guard on the factory" in sent and case.five_whys is not None and case.history[0]["who"] == "alice"
    assert str(case.github_url).startswith("https://github.example/acme/backend/issues/9#issuecomment-"), "the link is part of the file"


def test_an_unknown_incident_is_a_config_error(store: Store) -> None:
    from probes.errors import ConfigError

    with pytest.raises(ConfigError, match="no such incident"):
        case_file(store, "INC-nope", now=time.time())
