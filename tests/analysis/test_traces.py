"""Trace links (the ``[otel] trace_url`` template), a signature's example runs, and reading the trace from a server
log entry: pure functions, no store or network."""

from __future__ import annotations

import pytest

from analysis.frame import from_runs
from analysis.server_logs import link_to_runs, parse_entry, trace_of
from analysis.settings import parse_settings
from analysis.signatures import group_failures
from analysis.traces import signature_examples, template_problem, trace_url
from probes.errors import ConfigError
from probes.record import ProbeRun

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLOUD_TRACE = "https://console.cloud.google.com/traces/list?tid={trace_id}"


def test_the_template_makes_a_link_only_for_a_valid_trace_id() -> None:
    assert trace_url(CLOUD_TRACE, TID) == f"https://console.cloud.google.com/traces/list?tid={TID}"
    assert trace_url("https://jaeger.example/trace/{trace_id}", TID) == f"https://jaeger.example/trace/{TID}"
    assert trace_url(CLOUD_TRACE, "x) [click](javascript:alert(1)") is None
    assert trace_url(CLOUD_TRACE, None) is None
    assert trace_url("", TID) is None


@pytest.mark.parametrize(("template", "why"), [
    ("javascript:alert(1)//{trace_id}", "http"), ("https://x/{trace_id}/{trace_id}", "exactly once"), ("https://x/trace", "exactly once"),
    ("https://x/{trace_id} onclick", "plain URL"), ('https://x/"{trace_id}', "plain URL"), ("https://x/{span_id}/{trace_id}", "plain URL"),
    ("https://x/" + "a" * 3000 + "{trace_id}", "at most"),
    ("https://kibana.example/app/apm?q=trace.id:'{trace_id}'&x=*", "percent-encode"),  # a link the pages could not draw
])
def test_a_bad_template_is_refused_naming_why(template: str, why: str) -> None:
    assert why in (template_problem(template) or "")
    with pytest.raises(ConfigError) as err:
        parse_settings({"otel": {"trace_url": template}})
    assert str(err.value).startswith("otel.trace_url:")


def test_every_template_settings_accept_is_drawn_as_a_link_on_the_pages() -> None:
    from pages._format import trace_link

    for template in (CLOUD_TRACE, "https://jaeger.example/trace/{trace_id}", "https://kibana.example/app/apm?q=trace.id:%27{trace_id}%27"):
        assert template_problem(template) is None
        url = trace_url(template, TID)
        assert f"]({url})" in trace_link(url, TID), template


def test_settings_carry_the_template() -> None:
    assert parse_settings({"otel": {"trace_url": CLOUD_TRACE}}).otel.trace_url == CLOUD_TRACE
    assert parse_settings({}).otel.trace_url == ""
    with pytest.raises(ConfigError, match=r"otel.trace_url: must be text"):
        parse_settings({"otel": {"trace_url": 3}})
    with pytest.raises(ConfigError, match=r"unknown key"):
        parse_settings({"otel": {"endpoint": "http://x"}})


def _run(i: int, outcome: str, code: int | None, ttf_ms: float | None) -> ProbeRun:
    elapsed = {"start_agent_sent": 10.0}
    if ttf_ms is not None:
        elapsed["failure"] = 10.0 + ttf_ms
    return ProbeRun(run_id=f"r{i}", target="t", url="ws://x/ws", started_at=f"2026-11-25T10:00:{i:02d}Z", outcome=outcome,
                    failed_phase="agent_thinking" if outcome != "ok" else None, close_code=code, elapsed_ms=elapsed,
                    trace_id=f"{i:032x}")


def test_signature_examples_are_its_own_runs_newest_first() -> None:
    runs = [_run(1, "server_error", 1011, 7000), _run(2, "event_timeout", None, 30000), _run(3, "server_error", 1011, 7100),
            _run(4, "ok", None, None), _run(5, "server_error", 1011, 200)]
    failed = from_runs(runs)
    sigs = {s.key: s for s in group_failures(failed)}
    crash = next(s for s in sigs.values() if s.ttf_band == "5-10s")
    assert signature_examples(failed, crash) == ["r3", "r1"]
    assert signature_examples(failed, crash, limit=1) == ["r3"]
    timeout = next(s for s in sigs.values() if s.outcome == "event_timeout")
    assert signature_examples(failed, timeout) == ["r2"]
    with_server = group_failures(failed, {"r1": "AttributeError at agent_service_core.py:544"})
    by_server = next(s for s in with_server if s.server_signature)
    assert signature_examples(failed, by_server, {"r1": "AttributeError at agent_service_core.py:544"}) == ["r1"]


def _entry(**extra: object) -> dict:  # type: ignore[type-arg]
    return {"timestamp": "2026-11-25T10:00:07Z", "severity": "ERROR", "insertId": "e1",
            "textPayload": "Traceback (most recent call last):\n  File \"/app/x.py\", line 5, in f\nValueError: boom", **extra}


def test_the_trace_is_read_from_either_place_a_cloud_run_log_puts_it() -> None:
    assert trace_of(_entry(trace=f"projects/p/traces/{TID}")) == TID
    assert trace_of(_entry(**{"logging.googleapis.com/trace": f"projects/p/traces/{TID}"})) == TID
    assert trace_of({"jsonPayload": {"logging.googleapis.com/trace": f"projects/p/traces/{TID}"}}) == TID
    assert trace_of(_entry(trace="projects/p/traces/<script>")) is None
    assert trace_of(_entry(trace=["not", "text"])) is None
    assert parse_entry(_entry(trace=f"projects/p/traces/{TID}")).trace_id == TID


def test_the_trace_link_wins_over_the_session_and_the_clock() -> None:
    err = parse_entry(_entry(trace=f"projects/p/traces/{TID}", labels={"pathwatch_run": "r-near"}))
    ts = err.ts
    ids, starts, ends = ["r-near", "r-traced"], [ts - 1, ts - 3600], [ts + 1, ts - 3590]
    assert link_to_runs([err], ids, starts, ends, trace_ids=[None, TID]) == ["r-traced"]
    assert link_to_runs([err], ids, starts, ends, trace_ids=[None, "f" * 32]) == ["r-near"]  # no run of that trace: the session
