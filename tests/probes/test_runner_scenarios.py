"""The real probe runner against the real sandbox server, one scenario at a time."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace

import pytest

from probes.config import Timeouts, target_from_url
from probes.phases import AGENT_EVENTS, MARK_FAILURE, MARK_START_AGENT_SENT
from probes.runner import probe_target, run_session
from tests.conftest import TEST_SECRET, running_sandbox

SCALE = 0.05


def _run(target):  # type: ignore[no-untyped-def]
    return asyncio.run(run_session(target))


@pytest.mark.parametrize(
    ("scenario", "overrides", "outcome", "failed_phase", "close_code"),
    [
        ("healthy", None, "ok", None, None),
        ("orchestrator_crash", None, "server_error", "agent_thinking", 1011),
        ("auth_close", None, "auth_rejected", "welcome", 1008),
        ("going_away", None, "going_away", "tool_executing", 1012),
        ("going_away", {"close_code": 1001}, "going_away", "tool_executing", 1001),
        ("partial", None, "incomplete", "tool_executing", 1000),
        ("out_of_order", None, "protocol_error", "agent_thinking", None),
        ("malformed", None, "protocol_error", "agent_thinking", None),
        ("cross_talk", None, "isolation_breach", "agent_thinking", None),
    ],
)
@pytest.mark.parametrize("dialect", ["netra", "generic"])
def test_scenario_outcome(scenario, overrides, outcome, failed_phase, close_code, dialect):  # type: ignore[no-untyped-def]
    """The same outcomes whichever dialect the server speaks, read with the probe's default (auto)."""
    with running_sandbox(scenario, overrides=overrides, time_scale=SCALE, dialect=dialect) as sb:
        run = _run(sb.target())
    assert (run.outcome, run.failed_phase, run.close_code) == (outcome, failed_phase, close_code), run.error
    if outcome == "ok":
        assert run.dialect == dialect and run.server_run_id
    if outcome != "ok":
        assert run.error
        assert run.phases_ms[failed_phase] is None
    assert (run.phases_ms["welcome"] is None) == (failed_phase == "welcome")
    assert run.phases_ms["tls"] is None  # ws:// has no TLS phase


def test_healthy_timings_match_injected_delays_and_ground_truth(healthy_sandbox):  # type: ignore[no-untyped-def]
    run = _run(healthy_sandbox.target())
    assert run.ok
    injected = healthy_sandbox.sandbox.story.chapters[0].scenario.delays
    for event in AGENT_EVENTS:
        want = injected[event] * SCALE * 1000
        assert want - 1.0 <= run.phases_ms[event] <= want + 25.0, (event, run.phases_ms[event], want)
    # Clock-independent check against what the server really did: interval between sends.
    sent = {e["type"]: e["sent_ns"] for e in healthy_sandbox.truth(run.run_id)}
    for before, after in zip(AGENT_EVENTS, AGENT_EVENTS[1:], strict=False):
        truth_ms = (sent[after] - sent[before]) / 1e6
        assert abs(run.phases_ms[after] - truth_ms) < 5.0, (after, run.phases_ms[after], truth_ms)
    # Every reached phase is positive and the marks are monotonic.
    marks = [run.elapsed_ms[p] for p in ("dns", "connect", "upgrade", "welcome", MARK_START_AGENT_SENT, *AGENT_EVENTS)]
    assert marks == sorted(marks) and all(v > 0 for v in marks)
    assert run.total_ms == pytest.approx(run.elapsed_ms["agent_completed"], abs=5)


@pytest.mark.parametrize(("dialect", "reason", "error"), [
    # routes/websocket_ssot.py:1801-1827 at aebb16f7: error_message (CONNECTION_ERROR), then 1011 "main mode error".
    ("netra", "main mode error", "CONNECTION_ERROR: Connection error in main mode (AttributeError)"),
    ("generic", "Internal error", "closed with 1011 'Internal error'"),
])
def test_crash_happens_about_seven_seconds_after_start_agent_scaled(dialect, reason, error):  # type: ignore[no-untyped-def]
    with running_sandbox("orchestrator_crash", time_scale=SCALE, dialect=dialect) as sb:
        run = _run(sb.target())
        log = sb.log.entries()
    assert (run.outcome, run.close_code, run.close_reason, run.error) == ("server_error", 1011, reason, error)
    after_start = run.elapsed_ms[MARK_FAILURE] - run.elapsed_ms[MARK_START_AGENT_SENT]
    assert 7.0 * SCALE * 1000 - 2 <= after_start <= 7.0 * SCALE * 1000 + 40
    assert run.phases_ms["agent_started"] is not None
    errors = [e for e in log if e["severity"] == "ERROR"]
    assert len(errors) == 1 and errors[0]["labels"]["pathwatch_run"] == run.run_id
    assert 'agent_service_core.py", line 544' in errors[0]["textPayload"]


@pytest.mark.parametrize(("dialect", "evidence"), [("netra", {"heartbeat"}), ("generic", {"heartbeat", "system_message"})])
def test_silent_stall_is_an_event_timeout_not_a_success(dialect, evidence):  # type: ignore[no-untyped-def]
    with running_sandbox("silent_stall", time_scale=SCALE, dialect=dialect) as sb:
        run = _run(sb.target(total_s=0.6))
    assert (run.outcome, run.failed_phase) == ("event_timeout", "agent_started")
    assert {e.type for e in run.events} == {"connection_established", *evidence}
    assert 590 <= run.total_ms <= 700


def test_per_phase_deadline_ends_the_run_early():  # type: ignore[no-untyped-def]
    with running_sandbox("silent_stall", time_scale=SCALE) as sb:
        run = _run(sb.target(total_s=30, phases={"agent_started": 0.25}))
    assert (run.outcome, run.failed_phase) == ("event_timeout", "agent_started")
    waited = run.elapsed_ms[MARK_FAILURE] - run.elapsed_ms[MARK_START_AGENT_SENT]
    assert 245 <= waited <= 350


def test_slow_thinking_is_five_to_ten_times_slower():  # type: ignore[no-untyped-def]
    with running_sandbox("slow_thinking", time_scale=SCALE) as sb:
        run = _run(sb.target())
    assert run.ok
    base = 0.4 * SCALE * 1000
    assert 5 * base - 1 <= run.phases_ms["agent_thinking"] <= 10 * base + 25


def test_generic_auth_reject_is_403_at_the_upgrade():  # type: ignore[no-untyped-def]
    with running_sandbox("auth_reject", time_scale=SCALE, dialect="generic") as sb:
        run = _run(sb.target())
    assert (run.outcome, run.failed_phase, run.http_status) == ("upgrade_rejected", "upgrade", 403)
    assert run.phases_ms["upgrade"] is None and run.phases_ms["connect"] is not None


def test_netra_auth_reject_is_accept_then_1008():  # type: ignore[no-untyped-def]
    """The real backend never answers 403: it accepts, then closes 1008 "Authentication failed" (websocket_ssot.py:843)."""
    with running_sandbox("auth_reject", time_scale=SCALE) as sb:
        run = _run(sb.target())
    assert (run.outcome, run.failed_phase, run.http_status, run.close_code) == ("auth_rejected", "welcome", 101, 1008)
    assert run.close_reason == "Authentication failed" and run.phases_ms["upgrade"] is not None


@pytest.mark.parametrize(("dialect", "outcome", "http_status"), [("netra", "auth_rejected", 101), ("generic", "upgrade_rejected", 403)])
def test_wrong_secret_is_refused(dialect, outcome, http_status):  # type: ignore[no-untyped-def]
    with running_sandbox("healthy", time_scale=SCALE, secret="a-different-secret-0123456789abcdef", dialect=dialect) as sb:
        run = _run(sb.target())
    assert (run.outcome, run.http_status) == (outcome, http_status)


@pytest.mark.parametrize("transport", ["subprotocol", "query"])
def test_token_in_subprotocol_or_query_is_accepted(transport):  # type: ignore[no-untyped-def]
    with running_sandbox("healthy", time_scale=SCALE) as sb:
        t = sb.target()
        run = _run(replace(t, auth=replace(t.auth, transport=transport)))
    assert run.ok
    assert "token" not in run.url and TEST_SECRET not in str(run.to_dict())


def test_handshake_hang_ends_at_the_deadline_as_upgrade_timeout():  # type: ignore[no-untyped-def]
    with running_sandbox("handshake_hang", time_scale=SCALE) as sb:
        run = _run(sb.target(total_s=0.4))
    assert (run.outcome, run.failed_phase) == ("upgrade_timeout", "upgrade")
    assert 400 <= run.total_ms <= 500


def test_closed_port_is_connect_refused():  # type: ignore[no-untyped-def]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    run = _run(target_from_url(f"ws://127.0.0.1:{port}/ws", timeout=5))
    assert (run.outcome, run.failed_phase) == ("connect_refused", "connect")
    assert run.phases_ms["dns"] is not None and run.phases_ms["connect"] is None


def test_unresolvable_host_name_is_a_dns_error():  # type: ignore[no-untyped-def]
    # A label longer than 63 characters is refused before any lookup leaves the machine.
    run = _run(target_from_url(f"ws://{'x' * 70}.invalid/ws", timeout=5))
    assert (run.outcome, run.failed_phase) == ("dns_error", "dns")


def test_tcp_that_never_answers_ends_at_deadline():  # type: ignore[no-untyped-def]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        t = target_from_url(f"ws://127.0.0.1:{listener.getsockname()[1]}/ws")
        run = _run(replace(t, timeouts=Timeouts(total=0.3)))
    finally:
        listener.close()
    assert (run.outcome, run.failed_phase) == ("upgrade_timeout", "upgrade")
    assert 300 <= run.total_ms <= 400


def test_probe_target_reads_revision_and_runs_many_isolated_users():  # type: ignore[no-untyped-def]
    with running_sandbox("healthy", time_scale=SCALE) as sb:
        runs = asyncio.run(probe_target(sb.target(), users=50))
    assert len(runs) == 50 and all(r.ok for r in runs)
    assert len({r.user_id for r in runs}) == 50 and len({r.thread_id for r in runs}) == 50
    assert {r.revision for r in runs} == {"netra-backend-staging-00290-h7q"}


def test_many_users_detect_cross_talk_between_real_sessions():  # type: ignore[no-untyped-def]
    with running_sandbox("cross_talk", time_scale=SCALE) as sb:
        runs = asyncio.run(probe_target(sb.target(), users=10))
    assert all(r.outcome == "isolation_breach" for r in runs)


def _upgrade_headers(sb, run_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    connect = next(e for e in sb.log.entries() if e.get("jsonPayload", {}).get("event") == "connect" and e["labels"].get("pathwatch_run") == run_id)
    assert "Authorization" not in json.dumps(connect)
    return {k: v for k, v in connect["jsonPayload"]["headers"].items() if v}


def test_synthetic_traffic_headers_never_switch_the_backend_auth_bypass_on():
    """Any header whose name holds "test" or "e2e" makes the real backend skip the JWT signature check
    (websocket_core/unified_websocket_auth.py:98-111 at aebb16f7), so by default the probe sends none."""
    with running_sandbox("healthy", time_scale=SCALE) as sb:
        run = _run(replace(sb.target(), environment="staging-eu", headers={"X-Extra": "1"}))
        h = _upgrade_headers(sb, run.run_id)
    assert run.ok and h == {"User-Agent": h["User-Agent"], "X-Pathwatch-Run": run.run_id, "traceparent": f"00-{run.trace_id}-{run.span_id}-01"}
    assert h["User-Agent"].startswith("pathwatch/") and "synthetic" in h["User-Agent"]
    assert not [name for name in h if "test" in name.lower() or "e2e" in name.lower()]


def test_backend_test_headers_are_opt_in_and_do_switch_the_bypass_on():
    """With the backend's own test headers, the netra sandbox (like the real backend) takes sub from an unverified JWT:
    a wrong signing secret passes. Without them, the same token is refused."""
    with running_sandbox("healthy", time_scale=SCALE, secret="the-server-has-another-secret-0123456789") as sb:
        refused = _run(sb.target())
        bypassed = _run(replace(sb.target(), environment="staging-eu", backend_test_headers=True))
        h = _upgrade_headers(sb, bypassed.run_id)
    assert refused.outcome == "auth_rejected" and bypassed.ok
    assert h["X-Test-Type"] == "E2E" and h["X-Test-Environment"] == "staging-eu" and h["X-Pathwatch-Run"] == bypassed.run_id


def test_static_token_from_an_env_var_or_a_file(tmp_path):  # type: ignore[no-untyped-def]
    from probes.auth import AuthConfig, mint_jwt

    tok = mint_jwt(TEST_SECRET, subject="static-user", now=__import__("time").time())
    (tmp_path / "static.secret").write_text(tok + "\n", encoding="utf-8")
    with running_sandbox("healthy", time_scale=SCALE) as sb:
        by_env = asyncio.run(run_session(replace(sb.target(), auth=AuthConfig(mode="static", token_env="STATIC_TOK", subject="static-user")), environ={"STATIC_TOK": tok}))
        by_file = _run(replace(sb.target(), auth=AuthConfig(mode="static", token_file=str(tmp_path / "static.secret"), subject="static-user")))
    assert by_env.ok and by_file.ok
    assert tok not in json.dumps(by_env.to_dict())
