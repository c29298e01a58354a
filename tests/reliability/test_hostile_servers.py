"""Fuzzed server behaviour against the real runner: never a crash, never a hang, always one outcome, always stored."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from probes.config import Timeouts, target_from_url
from probes.outcomes import OUTCOMES
from probes.runner import MAX_MESSAGE_BYTES, run_session
from store.sqlite import open_store

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEADLINE_S = 0.3


def _accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _event(kind: str) -> bytes:
    return json.dumps({"type": kind, "thread_id": "?"}).encode()


# One server action: a frame to send, raw bytes, a pause, a close, or an abrupt reset.
actions = st.one_of(
    st.tuples(st.just("text"), st.one_of(st.binary(max_size=64), st.sampled_from([b'{"type":"connection_established"}', _event("agent_started"), b"\xff\xfe", b"{"]))),
    st.tuples(st.just("binary"), st.binary(max_size=64)),
    st.tuples(st.just("big"), st.sampled_from([MAX_MESSAGE_BYTES - 100, MAX_MESSAGE_BYTES + 10])),
    st.tuples(st.just("ping"), st.integers(1, 50)),
    st.tuples(st.just("fragment"), st.binary(max_size=16)),
    st.tuples(st.just("raw"), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("pause"), st.floats(0, 0.05)),
    st.tuples(st.just("close"), st.sampled_from([1000, 1001, 1002, 1003, 1008, 1011, 1012, 4000, 3000])),
    st.tuples(st.just("reset"), st.none()),
)


async def _serve_script(script: list[tuple[str, object]], handshake: str) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            key = next(line.split(b":", 1)[1].strip().decode() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
            if handshake == "hang":
                await asyncio.sleep(10)
            elif handshake == "garbage":
                writer.write(b"HTTP/1.1 ??? nonsense\r\n\r\n")
            elif handshake == "bad_accept":
                writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n")
            else:
                writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {_accept(key)}\r\n\r\n".encode())
            for kind, arg in script:
                if kind == "text":
                    writer.write(Frame(Opcode.TEXT, arg).serialize(mask=False, extensions=[]))  # type: ignore[arg-type]
                elif kind == "binary":
                    writer.write(Frame(Opcode.BINARY, arg).serialize(mask=False, extensions=[]))  # type: ignore[arg-type]
                elif kind == "big":
                    writer.write(Frame(Opcode.TEXT, b"x" * int(arg)).serialize(mask=False, extensions=[]))  # type: ignore[call-overload]
                elif kind == "ping":
                    for _ in range(int(arg)):  # type: ignore[call-overload]
                        writer.write(Frame(Opcode.PING, b"p").serialize(mask=False, extensions=[]))
                elif kind == "fragment":
                    writer.write(Frame(Opcode.TEXT, arg, fin=False).serialize(mask=False, extensions=[]))  # type: ignore[arg-type]
                elif kind == "raw":
                    writer.write(arg)  # type: ignore[arg-type]
                elif kind == "pause":
                    await writer.drain()
                    await asyncio.sleep(float(arg))  # type: ignore[arg-type]
                elif kind == "close":
                    from websockets.frames import Close

                    writer.write(Frame(Opcode.CLOSE, Close(int(arg), "bye").serialize()).serialize(mask=False, extensions=[]))  # type: ignore[call-overload]
                elif kind == "reset":
                    writer.transport.abort()
                    return
                await writer.drain()
            await asyncio.sleep(10)  # then say nothing: the probe's deadline must end the run
        except (ConnectionError, asyncio.IncompleteReadError, StopIteration, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _probe_against(script: list[tuple[str, object]], handshake: str):  # type: ignore[no-untyped-def]
    server = await _serve_script(script, handshake)
    port = server.sockets[0].getsockname()[1]
    target = replace(target_from_url(f"ws://127.0.0.1:{port}/ws"), timeouts=Timeouts(total=DEADLINE_S))
    t0 = time.monotonic()
    try:
        run = await run_session(target)
    finally:
        server.close()
    return run, time.monotonic() - t0


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):  # type: ignore[no-untyped-def]
    with open_store(tmp_path_factory.mktemp("hostile") / "runs.db") as store:
        yield store


@settings(max_examples=int(os.environ.get("PATHWATCH_RELIABILITY_EXAMPLES", "50")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(actions, max_size=8), handshake=st.sampled_from(["ok", "ok", "ok", "ok", "hang", "garbage", "bad_accept"]))
def test_hostile_server_never_crashes_or_hangs_the_probe(script, handshake, hostile_store):  # type: ignore[no-untyped-def]
    run, took = asyncio.run(_probe_against(script, handshake))
    assert run.outcome in OUTCOMES and run.outcome != "probe_error", run.error
    assert (run.failed_phase is None) == (run.outcome == "ok")
    assert took <= DEADLINE_S + 0.1 + 0.5, took  # deadline + 100 ms, plus the bounded close grace
    assert run.total_ms <= DEADLINE_S * 1000 + 100
    assert hostile_store.save_run(run), "whatever the server sent, the run is recorded"
    stored = hostile_store.get_run(run.run_id)
    assert stored is not None and (stored.outcome, stored.failed_phase, stored.close_code) == (run.outcome, run.failed_phase, run.close_code)
    assert len(stored.events) == len(run.events)


def test_a_server_that_stalls_at_each_phase_fails_in_that_phase():
    welcome = b'{"type":"connection_established"}'
    cases = {
        "upgrade": ([], "hang"),
        "welcome": ([], "ok"),
        "agent_started": ([("text", welcome)], "ok"),
    }
    for phase, (script, handshake) in cases.items():
        run, _ = asyncio.run(_probe_against(script, handshake))
        assert run.failed_phase == phase, (phase, run.outcome, run.error)
        assert run.outcome in ("upgrade_timeout", "event_timeout")
        assert DEADLINE_S * 1000 <= run.total_ms <= DEADLINE_S * 1000 + 100


def test_oversized_message_is_a_protocol_error_not_a_memory_problem():
    run, _ = asyncio.run(_probe_against([("text", b'{"type":"connection_established"}'), ("big", MAX_MESSAGE_BYTES + 10)], "ok"))
    assert run.outcome == "protocol_error" and "invalid frame" in run.error


def test_abrupt_reset_is_abnormal_close():
    run, _ = asyncio.run(_probe_against([("text", b'{"type":"connection_established"}'), ("reset", None)], "ok"))
    assert (run.outcome, run.close_code) == ("abnormal_close", 1006)
