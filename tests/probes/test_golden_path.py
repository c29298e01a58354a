"""The golden-path state machine with no sockets: fed frames and times, it names the outcome."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.golden_path import GoldenPath, State, phase_durations
from probes.outcomes import OUTCOMES
from probes.phases import AGENT_EVENTS, PHASES

THREAD, USER = "thread-1", "user-1"


def _connected(secure: bool = False, **kw) -> GoldenPath:  # type: ignore[no-untyped-def]
    gp = GoldenPath(thread_id=THREAD, user_id=USER, secure=secure, **kw)
    gp.resolved(0.001)
    gp.connected(0.002)
    if secure:
        gp.secured(0.010)
    gp.upgrade_response(101, 0.012)
    return gp


def _msg(kind: str, thread: str | None = THREAD, **extra) -> str:  # type: ignore[no-untyped-def]
    d = {"type": kind, **extra}
    if thread is not None:
        d["thread_id"] = thread
    return json.dumps(d)


def _started(**kw) -> GoldenPath:  # type: ignore[no-untyped-def]
    gp = _connected(**kw)
    gp.text_received(_msg("connection_established", None), 0.015)
    assert gp.wants_start_agent
    gp.start_agent_sent(0.016)
    return gp


def test_complete_path_is_ok_with_each_phase_measured_from_the_previous():
    gp = _started()
    t = 0.016
    for i, event in enumerate(AGENT_EVENTS):
        gp.text_received(_msg("heartbeat", None), t + 0.001)  # tolerated in between
        t += 0.1 * (i + 1)
        gp.text_received(_msg(event), t)
    assert gp.state is State.COMPLETED and gp.outcome == "ok" and gp.failed_phase is None
    p = gp.phases_ms()
    assert p["dns"] == 1.0 and p["connect"] == 1.0 and p["tls"] is None and p["upgrade"] == 10.0 and p["welcome"] == 3.0
    assert [p[e] for e in AGENT_EVENTS] == pytest.approx([100.0, 200.0, 300.0, 400.0, 500.0])


def test_tls_phase_is_measured_on_wss():
    gp = _connected(secure=True)
    assert gp.phases_ms()["tls"] == 8.0 and gp.phases_ms()["upgrade"] == 2.0


def test_1011_after_agent_started_fails_in_agent_thinking():
    gp = _started()
    gp.text_received(_msg("agent_started"), 0.1)
    gp.closed(1011, "Internal error", 7.016)
    assert (gp.outcome, gp.failed_phase, gp.close_code) == ("server_error", "agent_thinking", 1011)
    assert gp.phases_ms()["agent_thinking"] is None and gp.elapsed_ms()["failure"] == 7016.0


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(1000, "incomplete"), (1001, "going_away"), (1012, "going_away"), (1003, "protocol_error"), (1008, "auth_rejected"), (1011, "server_error"), (None, "abnormal_close"), (4000, "incomplete")],
)
def test_close_codes_before_completion(code, outcome):  # type: ignore[no-untyped-def]
    gp = _started()
    gp.closed(code, "", 1.0)
    assert gp.outcome == outcome and gp.failed_phase == "agent_started"
    assert gp.close_code == (1006 if code is None else code)


def test_close_after_completion_does_not_change_ok():
    gp = _started()
    for i, e in enumerate(AGENT_EVENTS):
        gp.text_received(_msg(e), 1 + i)
    gp.closed(1011, "late", 9.0)
    assert gp.outcome == "ok" and gp.close_code is None


def test_upgrade_rejected_keeps_http_status():
    gp = GoldenPath(thread_id=THREAD, user_id=USER, secure=False)
    gp.resolved(0.001)
    gp.connected(0.002)
    gp.upgrade_response(403, 0.003, "Forbidden")
    assert (gp.outcome, gp.failed_phase, gp.http_status) == ("upgrade_rejected", "upgrade", 403)


@pytest.mark.parametrize(
    ("state_setup", "phase", "outcome"),
    [
        (lambda gp: None, "dns", "dns_error"),
        (lambda gp: gp.resolved(0.1), "connect", "connect_timeout"),
        (lambda gp: (gp.resolved(0.1), gp.connected(0.2)), "upgrade", "upgrade_timeout"),
        (lambda gp: (gp.resolved(0.1), gp.connected(0.2), gp.upgrade_response(101, 0.3)), "welcome", "event_timeout"),
    ],
)
def test_deadline_outcome_names_the_phase(state_setup, phase, outcome):  # type: ignore[no-untyped-def]
    gp = GoldenPath(thread_id=THREAD, user_id=USER, secure=False)
    state_setup(gp)
    gp.deadline(5.0)
    assert (gp.outcome, gp.failed_phase) == (outcome, phase)
    assert phase in gp.error


def test_deadline_while_waiting_for_agent_events_is_event_timeout():
    gp = _started()
    gp.text_received(_msg("agent_started"), 0.2)
    gp.text_received(_msg("agent_thinking"), 0.3)
    gp.deadline(120.0)
    assert (gp.outcome, gp.failed_phase) == ("event_timeout", "tool_executing")


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"no": "type"}', "no string 'type'"),
        (_msg("mystery"), "unknown message type"),
        (_msg("agent_thinking"), "out of order"),
        (_msg("agent_thinking", None), "no thread_id"),
    ],
)
def test_protocol_errors_are_named(frame, why):  # type: ignore[no-untyped-def]
    gp = _started()
    gp.text_received(frame, 0.5)
    assert gp.outcome == "protocol_error" and why in gp.error


def test_binary_frame_is_a_protocol_error():
    gp = _started()
    gp.binary_received(3, 0.5)
    assert gp.outcome == "protocol_error" and gp.events[-1].type == "<binary>"


def test_event_for_another_thread_or_run_is_an_isolation_breach():
    gp = _started()
    gp.text_received(_msg("agent_started", "thread-2"), 0.5)
    assert gp.outcome == "isolation_breach" and "thread-2" in gp.error
    gp = _started()
    gp.text_received(_msg("agent_started", run_id="run-A"), 0.5)
    gp.text_received(_msg("agent_thinking", run_id="run-B"), 0.6)
    assert gp.outcome == "isolation_breach" and "run-B" in gp.error and "run-A" in gp.error


def test_a_server_assigned_user_is_recorded_not_a_breach():
    """DEMO mode makes every user demo-user-001 (auth_integration/auth_permissiveness.py:592-622 at aebb16f7)."""
    gp = _started()
    for event in AGENT_EVENTS:
        gp.text_received(_msg(event, payload={"user_id": "demo-user-001"}), 0.5)
    assert gp.outcome == "ok" and gp.server_user_id == "demo-user-001"


def test_agent_failed_and_auth_error_messages():
    gp = _started()
    gp.text_received(_msg("agent_failed", payload={"error": "orchestrator is None"}), 0.5)
    assert gp.outcome == "server_error" and "orchestrator is None" in gp.error
    gp = _connected()
    gp.text_received(_msg("error", None, payload={"code": "AUTH_FAILED", "message": "bad token"}), 0.5)
    assert not gp.finished, "the close that follows is kept as evidence"
    gp.closed(1011, "main mode error", 0.6)
    assert (gp.outcome, gp.failed_phase, gp.close_code, gp.error) == ("auth_rejected", "welcome", 1011, "AUTH_FAILED: bad token")
    gp = _connected()
    gp.text_received(_msg("error", None, payload={"code": "AUTH_FAILED", "message": "bad token"}), 0.5)
    gp.deadline(5.0)
    assert gp.outcome == "auth_rejected"


def test_non_auth_error_is_recorded_and_the_close_decides():
    gp = _started()
    gp.text_received(_msg("error", None, payload={"code": "RATE_LIMIT", "message": "slow down"}), 0.5)
    assert not gp.finished and "slow down" in gp.error
    gp.closed(1011, "Internal error", 1.0)
    assert gp.outcome == "server_error" and "slow down" in gp.error


def test_welcome_any_first_accepts_any_first_message():
    gp = _connected(welcome_any_first=True)
    gp.text_received(_msg("hello", None), 0.5)
    assert gp.wants_start_agent
    gp = _connected()
    gp.text_received(_msg("hello", None), 0.5)
    assert gp.outcome == "protocol_error" and "unknown message type 'hello'" in gp.error


def test_secrets_are_redacted_from_events_errors_and_reasons():
    secret = "super-secret-signing-key"
    gp = _started(secrets=(secret,))
    gp.text_received(_msg("system_message", None, payload={"message": f"key={secret} tok=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"}), 0.2)
    gp.closed(1008, f"Bearer {secret}", 0.3)
    blob = json.dumps([e.detail for e in gp.events]) + gp.error + gp.close_reason
    assert secret not in blob and "eyJhbGciOi" not in blob


def test_phase_durations_never_zero_for_unreached_and_keep_every_label():
    out = phase_durations({"dns": 0.001, "connect": 0.003})
    assert list(out) == list(PHASES)
    assert out["dns"] == 1.0 and out["connect"] == 2.0
    assert all(out[p] is None for p in PHASES[2:])


_frames = st.one_of(
    st.text(max_size=200),
    st.builds(lambda t, th: json.dumps({"type": t, "thread_id": th}), st.sampled_from([*AGENT_EVENTS, "heartbeat", "error", "agent_failed", "x"]), st.sampled_from([THREAD, "other", None])),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8).map(json.dumps),
)


@given(st.lists(st.tuples(st.sampled_from(["text", "binary", "close", "deadline"]), _frames, st.sampled_from([None, 1000, 1001, 1006, 1008, 1011, 1012, 4001])), max_size=12))
def test_any_sequence_of_server_behaviour_ends_in_exactly_one_known_outcome(steps):  # type: ignore[no-untyped-def]
    gp = _started()
    t = 0.02
    for kind, frame, code in steps:
        t += 0.01
        if kind == "text":
            gp.text_received(frame, t)
        elif kind == "binary":
            gp.binary_received(len(frame), t)
        elif kind == "close":
            gp.closed(code, frame[:50], t)
        else:
            gp.deadline(t)
    gp.deadline(t + 1)  # the runner always ends a run at its deadline at the latest
    assert gp.finished and gp.outcome in OUTCOMES
    assert (gp.failed_phase is None) == (gp.outcome == "ok")
    durations = gp.phases_ms()
    assert all(v is None or v >= 0 for v in durations.values())


def test_an_agent_that_thinks_and_calls_tools_more_than_once_is_ok():
    """Each phase is timed by its first event; later thinking steps and tool calls are evidence, not disorder."""
    gp = _started()
    for t, event in enumerate(["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_thinking",
                               "tool_executing", "tool_completed", "agent_thinking", "agent_completed"]):
        gp.text_received(_msg(event), 0.1 * (t + 1))
    assert gp.outcome == "ok" and gp.phases_ms()["tool_completed"] == pytest.approx(100.0)
    gp = _started()
    for event in ["agent_started", "agent_thinking", "agent_started"]:
        gp.text_received(_msg(event), 0.5)
    assert gp.outcome == "protocol_error", "agent_started twice, not re-sent: another run on the connection"


def test_an_error_frame_is_never_taken_for_the_welcome():
    gp = _connected(welcome_any_first=True)
    gp.text_received(_msg("error", None, payload={"code": "AUTH_FAILED", "message": "no"}), 0.5)
    assert not gp.wants_start_agent
    gp.closed(1008, "Authentication failed", 0.6)
    assert gp.outcome == "auth_rejected"


def test_json_beyond_pythons_own_limits_is_a_protocol_error_not_a_crash():
    gp = _started()
    gp.text_received('{"type":"heartbeat","n":' + "1" * 5000 + "}", 0.5)
    assert gp.outcome == "protocol_error" and "not valid JSON" in gp.error


def test_server_ids_are_redacted_and_bounded():
    secret = "hunter2-signing-secret-xyz"
    gp = _started(secrets=(secret,))
    gp.text_received(_msg("agent_started", run_id=f"r-{secret}" + "x" * 500, payload={"user_id": f"{secret}-user"}), 0.5)
    assert secret not in (gp.server_run_id or "") + (gp.server_user_id or "")
    assert len(gp.server_run_id or "") <= 128
