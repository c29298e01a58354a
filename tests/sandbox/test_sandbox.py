"""The sandbox driven by a plain websockets client: shapes, order, closes, auth, logs, isolation, garbage."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from probes.phases import AGENT_EVENTS
from sandbox.scenarios import get_scenario
from sandbox.stories import load_story, parse_story
from tests.conftest import TEST_SECRET, poll, running_sandbox

SCALE = 0.05


def token(sub: str = "user-1", *, secret: str = TEST_SECRET, exp_in: int = 900) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + exp_in, "jti": uuid.uuid4().hex}, secret, algorithm="HS256")


async def golden_path(url: str, *, sub: str = "user-1", session: str | None = None, headers: dict[str, str] | None = None,
                      repeated: list[tuple[str, str]] = ()) -> tuple[list[dict[str, Any]], Any]:  # type: ignore[assignment]
    """Connect, send start_agent, collect every message until agent_completed or a close. ``repeated``: header lines
    sent as given (a name may appear twice)."""
    h: list[tuple[str, str]] = [("Authorization", f"Bearer {token(sub)}"), *(headers or {}).items(), *repeated]
    if session:
        h.append(("X-Pathwatch-Run", session))
    got: list[dict[str, Any]] = []
    async with connect(url, additional_headers=h) as ws:
        thread = str(uuid.uuid4())
        welcome = json.loads(await ws.recv())
        got.append(welcome)
        await ws.send(json.dumps({"type": "start_agent", "payload": {"user_request": "hi", "user_id": sub}, "thread_id": thread, "timestamp": "2026-11-25T10:00:00Z"}))
        try:
            while True:
                raw = await asyncio.wait_for(ws.recv(), 5)
                got.append(json.loads(raw) if isinstance(raw, str) else {"binary": raw})
                if got[-1].get("type") == "agent_completed":
                    break
        except ConnectionClosed:
            pass
        except (ValueError, TimeoutError):
            pass
        return got, ws


def test_health_reports_status_and_revision():
    with running_sandbox() as sb:
        h = sb.get_json("/health")
        assert h["status"] == "healthy" and h["revision"] == "netra-backend-staging-00290-h7q"
        assert sb.get_json("/api/health")["revision"] == h["revision"]


def test_netra_healthy_sends_the_real_frames():
    """Shapes of routes/websocket_ssot.py:974-989 (welcome) and unified_emitter.py:646-770 (flat events, agent_thinking
    sent as "reasoning") at aebb16f7."""
    with running_sandbox(time_scale=SCALE) as sb:
        got, _ = asyncio.run(golden_path(sb.url, sub="alice-in-wonderland"))
    welcome, *events = got
    assert welcome["type"] == "connection_established" and welcome["data"]["user_id"] == "alice-in..."
    assert isinstance(welcome["timestamp"], float) and isinstance(welcome["data"]["timestamp"], str)
    assert welcome["data"]["golden_path_events"] == list(AGENT_EVENTS)
    assert [e["type"] for e in events] == ["agent_started", "reasoning", "tool_executing", "tool_completed", "agent_completed"]
    assert all(e["critical"] is True and e["user_id"] == "alice-in-wonderland" and "payload" not in e for e in events)
    assert all(e["run_id"].startswith("run_session_") and e["thread_id"].startswith("thread_alice-in_") for e in events)
    assert len({e["thread_id"] for e in events}) == 1 and len({e["run_id"] for e in events}) == 1 and len({e["request_id"] for e in events}) == 1


def test_netra_demo_mode_makes_everyone_demo_user_001_whatever_the_token():
    """auth_integration/auth_permissiveness.py:124,164,592-622 at aebb16f7."""
    async def go(url: str) -> list[dict[str, Any]]:
        async with connect(url, additional_headers={"Authorization": "Bearer not-even-a-jwt"}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "start_agent", "thread_id": "t-1", "payload": {}}))
            return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(5)]

    with running_sandbox(time_scale=SCALE, demo_mode=True) as sb:
        events = asyncio.run(go(sb.url))
    assert {e["user_id"] for e in events} == {"demo-user-001"}
    # The server's own thread id, derived from the client's (dependencies.py:752-789 at aebb16f7).
    [thread] = {e["thread_id"] for e in events}
    assert thread.startswith("thread_demo-use_t-1_session_")


def test_generic_healthy_sends_welcome_then_five_events_in_order_with_the_thread():
    with running_sandbox(time_scale=SCALE, dialect="generic") as sb:
        got, _ = asyncio.run(golden_path(sb.url, sub="alice"))
    welcome, *events = got
    assert welcome["type"] == "connection_established" and welcome["user_id"] == "alice"
    assert {"connection_id", "server_time", "revision"} <= set(welcome)
    assert [e["type"] for e in events] == list(AGENT_EVENTS)
    assert len({e["thread_id"] for e in events}) == 1 and len({e["run_id"] for e in events}) == 1
    assert all({"timestamp", "payload"} <= set(e) for e in events)
    assert events[2]["payload"]["tool_name"] and events[3]["payload"]["tool_name"] and "result" in events[4]["payload"]


_BAD_TOKENS = [None, "expired", "wrong-secret", "garbage"]


def _bad_token(bad: str | None) -> dict[str, str]:
    tok = {None: None, "expired": token(exp_in=-10), "wrong-secret": token(secret="other-secret-0123456789abcdef0123"), "garbage": "not.a.jwt"}[bad]
    return {"Authorization": f"Bearer {tok}"} if tok else {}


@pytest.mark.parametrize("bad", _BAD_TOKENS)
def test_generic_bad_tokens_get_403_at_the_upgrade(bad):  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with connect(f"{sb.url}", additional_headers=_bad_token(bad)):
            pass

    with running_sandbox(dialect="generic") as sb, pytest.raises(InvalidStatus) as err:
        asyncio.run(go())
    assert err.value.response.status_code == 403


@pytest.mark.parametrize("bad", _BAD_TOKENS)
def test_netra_bad_tokens_are_accepted_then_closed_1008(bad):  # type: ignore[no-untyped-def]
    """The real backend answers no 403 for a bad token: accept, a flat error_message AUTH_FAILED, then close 1008
    "Authentication failed" (websocket_ssot.py:826-843 at aebb16f7; tests/fixtures/netra/auth_refusal.json)."""
    async def go() -> tuple[dict[str, Any], int | None, str | None]:
        async with connect(f"{sb.url}", additional_headers=_bad_token(bad)) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return first, ws.close_code, ws.close_reason

    with running_sandbox() as sb:
        first, code, reason = asyncio.run(go())
    assert (first["type"], first["error_code"], code, reason) == ("error_message", "AUTH_FAILED", 1008, "Authentication failed")


def test_token_accepted_as_subprotocol_and_query_parameter():
    async def go(url: str, **kw: Any) -> str:
        async with connect(url, **kw) as ws:
            return json.loads(await ws.recv())["type"]

    with running_sandbox() as sb:
        assert asyncio.run(go(sb.url, subprotocols=[f"jwt.{token()}"])) == "connection_established"
        assert asyncio.run(go(f"{sb.url}?token={token()}")) == "connection_established"


def test_generic_auth_close_accepts_then_closes_1008_naming_auth():
    with running_sandbox("auth_close", dialect="generic") as sb:
        async def go() -> Any:
            async with connect(sb.url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
                first = json.loads(await ws.recv())
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return first, ws.close_code, ws.close_reason
        first, code, reason = asyncio.run(go())
    assert first["payload"]["code"] == "AUTH_FAILED" and code == 1008 and "Authentication" in reason


@pytest.mark.parametrize(("dialect", "types", "reason"), [
    # routes/websocket_ssot.py:1801-1827 at aebb16f7: error_message, then close 1011 "main mode error".
    ("netra", ["connection_established", "agent_started", "error_message"], "main mode error"),
    ("generic", ["connection_established", "agent_started"], "Internal error"),
])
def test_orchestrator_crash_closes_1011_and_logs_the_traceback(dialect, types, reason):  # type: ignore[no-untyped-def]
    with running_sandbox("orchestrator_crash", time_scale=SCALE, dialect=dialect) as sb:
        t0 = time.monotonic()
        got, ws = asyncio.run(golden_path(sb.url, session="sess-crash"))
        took = time.monotonic() - t0
        errors = [e for e in sb.log.entries() if e["severity"] == "ERROR"]
    assert [m["type"] for m in got] == types
    assert (ws.close_code, ws.close_reason) == (1011, reason)
    assert 7.0 * SCALE <= took < 7.0 * SCALE + 0.3
    assert len(errors) == 1
    e = errors[0]
    assert e["labels"]["pathwatch_run"] == "sess-crash" and e["resource"]["type"] == "cloud_run_revision"
    assert e["textPayload"].splitlines()[-1].startswith("AttributeError: 'NoneType' object has no attribute")
    assert 'agent_service_core.py", line 544' in e["textPayload"]


@pytest.mark.parametrize(
    ("scenario", "overrides", "types", "close"),
    [
        ("partial", None, ["agent_started", "agent_thinking"], 1000),
        ("going_away", None, ["agent_started", "agent_thinking"], 1012),
        ("going_away", {"close_code": 1001}, ["agent_started", "agent_thinking"], 1001),
        ("out_of_order", None, ["agent_started", "tool_executing", "agent_thinking", "tool_completed", "agent_completed"], None),
    ],
)
@pytest.mark.parametrize("dialect", ["netra", "generic"])
def test_scenarios_that_end_early_or_out_of_order(scenario, overrides, types, close, dialect):  # type: ignore[no-untyped-def]
    with running_sandbox(scenario, overrides=overrides, time_scale=SCALE, dialect=dialect) as sb:
        got, ws = asyncio.run(golden_path(sb.url))
    assert [{"reasoning": "agent_thinking"}.get(m["type"], m["type"]) for m in got[1:]] == types
    if close is not None:
        assert ws.close_code == close


def test_silent_stall_keeps_talking_but_never_sends_an_agent_event():
    async def go(url: str) -> list[str]:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "start_agent", "thread_id": "t-1", "payload": {}}))
            seen = []
            end = time.monotonic() + 0.5
            while (left := end - time.monotonic()) > 0:
                try:
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), left))["type"])
                except TimeoutError:
                    break
            return seen

    with running_sandbox("silent_stall", time_scale=SCALE) as sb:
        seen = asyncio.run(go(sb.url))
    assert "heartbeat" in seen and not set(seen) & set(AGENT_EVENTS)


def test_malformed_sends_garbage_binary_and_unknown_types():
    with running_sandbox("malformed", time_scale=SCALE) as sb:
        async def go() -> list[Any]:
            async with connect(sb.url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "start_agent", "thread_id": "t-1", "payload": {}}))
                return [await asyncio.wait_for(ws.recv(), 5) for _ in range(4)]
        frames = asyncio.run(go())
    assert json.loads(frames[0])["type"] == "agent_started"
    assert frames[1] == "{not json" and frames[2] == b"\x00\x01\x02" and json.loads(frames[3])["type"] == "mystery_event"


def test_time_scale_multiplies_timings():
    durations = {}
    for scale in (0.05, 0.2):
        with running_sandbox(time_scale=scale) as sb:
            t0 = time.monotonic()
            asyncio.run(golden_path(sb.url))
            durations[scale] = time.monotonic() - t0
    assert 1.5 * 0.05 <= durations[0.05] < 1.5 * 0.05 + 0.2
    assert 1.5 * 0.2 <= durations[0.2] < 1.5 * 0.2 + 0.2


def test_flaky_is_seeded_and_repeatable():
    def outcomes(seed: int) -> list[int | None]:
        with running_sandbox("flaky", overrides={"crash_rate": 0.5, "crash_after_s": 0.1}, time_scale=SCALE, seed=seed) as sb:
            return [asyncio.run(golden_path(sb.url))[1].close_code for _ in range(16)]

    a, b = outcomes(7), outcomes(7)
    assert a == b
    assert set(a) == {1011, 1000}  # crashed runs and healthy runs (closed by the client) both occur


def test_story_switches_revisions_and_health_follows_and_deploys_are_logged():
    story = parse_story("t", [
        {"revision": "rev-a", "scenario": "healthy", "duration_s": 0.4},
        {"revision": "rev-b", "scenario": "orchestrator_crash", "duration_s": 0.4, "set": {"crash_after_s": 0.05}},
        {"revision": "rev-c", "scenario": "healthy"},
    ])
    with running_sandbox(story=story, time_scale=1.0) as sb:
        seen = []
        for _ in range(200):
            rev = sb.get_json("/health")["revision"]
            if not seen or seen[-1] != rev:
                seen.append(rev)
            if rev == "rev-c":
                break
            time.sleep(0.01)
        deploys = poll(lambda: [e["jsonPayload"]["revision"] for e in sb.log.entries() if e.get("jsonPayload", {}).get("event") == "deploy"] if len(sb.log.entries()) >= 3 else None)
    assert seen == ["rev-a", "rev-b", "rev-c"]
    assert deploys == ["rev-a", "rev-b", "rev-c"]


def test_builtin_incident_story_has_the_four_revisions():
    story = load_story("golden-path-incident")
    assert [c.scenario.name for c in story.chapters] == ["healthy", "orchestrator_crash", "silent_stall", "healthy"]
    assert all(c.revision.startswith("netra-backend-staging-0029") for c in story.chapters)


def test_every_connection_message_and_close_is_logged_with_the_session():
    with running_sandbox(time_scale=SCALE) as sb:
        asyncio.run(golden_path(sb.url, session="sess-42"))
        entries = poll(lambda: [e for e in sb.log.entries() if e["labels"].get("pathwatch_run") == "sess-42" and e["jsonPayload"].get("event") == "close"] and sb.log.entries())
    mine = [e for e in entries if e["labels"].get("pathwatch_run") == "sess-42"]
    events = [e["jsonPayload"]["event"] for e in mine]
    assert events[0] == "connect" and events[-1] == "close" and events.count("send") == 6 and "start_agent" in events
    for e in mine:
        assert e["resource"]["labels"]["service_name"] == "netra-backend-staging"
        assert e["resource"]["labels"]["revision_name"] and e["timestamp"].endswith("Z") and e["severity"]
        assert e["trace"].endswith("/sess-42")


def test_ground_truth_records_each_send_on_a_monotonic_clock():
    with running_sandbox(time_scale=SCALE) as sb:
        asyncio.run(golden_path(sb.url, session="sess-truth"))
        truth = sb.truth("sess-truth")
    assert [t["type"] for t in truth] == ["connection_established", *AGENT_EVENTS]
    sent = [t["sent_ns"] for t in truth]
    assert sent == sorted(sent)
    gap_ms = (sent[2] - sent[1]) / 1e6
    assert 0.4 * SCALE * 1000 - 1 <= gap_ms <= 0.4 * SCALE * 1000 + 20


def test_hundreds_of_concurrent_connections_stay_isolated():
    async def many(url: str) -> list[tuple[list[dict[str, Any]], Any]]:
        return await asyncio.gather(*(golden_path(url, sub=f"user-{i}") for i in range(200)))

    with running_sandbox(time_scale=SCALE) as sb:
        results = asyncio.run(many(sb.url))
    for i, (got, _) in enumerate(results):
        assert {m["user_id"] for m in got[1:]} == {f"user-{i}"}
        assert [m["type"] for m in got[1:]] == ["agent_started", "reasoning", "tool_executing", "tool_completed", "agent_completed"]
        assert len({m["thread_id"] for m in got[1:]}) == 1
    assert len({got[1]["thread_id"] for got, _ in results}) == 200


@pytest.mark.parametrize(
    ("send", "reason"),
    [("{oops", "invalid JSON"), (b"\x00\xff", "binary frames"), (json.dumps({"type": "launch_missiles"}), "unsupported message type"), (json.dumps({"type": "start_agent"}), "thread_id")],
)
def test_garbage_from_a_client_gets_a_clear_close_and_the_server_keeps_serving(send, reason):  # type: ignore[no-untyped-def]
    async def go(url: str) -> tuple[int | None, str | None]:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
            await ws.recv()
            await ws.send(send)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return ws.close_code, ws.close_reason

    with running_sandbox(time_scale=SCALE) as sb:
        code, why = asyncio.run(go(sb.url))
        got, _ = asyncio.run(golden_path(sb.url))
    assert code == 1003 and reason in why
    assert got[-1]["type"] == "agent_completed"


def test_handshake_hang_accepts_tcp_and_never_answers():
    with running_sandbox("handshake_hang") as sb:
        s = socket.create_connection(("127.0.0.1", sb.port), timeout=2)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(100)
        s.close()


def test_unknown_scenario_setting_is_refused():
    from probes.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown setting 'crash_speed'"):
        get_scenario("flaky", {"crash_speed": 3})


def test_netra_cross_talk_sends_another_threads_event_never_our_own():
    async def go(url: str) -> list[dict[str, Any]]:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "start_agent", "thread_id": "abcdef12-0000", "payload": {}}))
            return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]

    with running_sandbox("cross_talk", time_scale=SCALE) as sb:
        frames = asyncio.run(go(sb.url))
    ours, foreign = frames[0]["thread_id"], frames[1]["thread_id"]
    assert "_abcdef12_session_" in ours and "_abcdef12_session_" not in foreign
