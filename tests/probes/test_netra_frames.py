"""The real backend's frames (tests/fixtures/netra/, each step cited at netra-systems/zen aebb16f7) classified right:
by the pure state machine with no sockets, over a real socket from a replaying server, and under every dialect
setting that should read them. The sandbox's netra frames are checked against the same corpus for shape."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from probes.config import target_from_url
from probes.golden_path import GoldenPath
from probes.runner import run_session
from sandbox.frames import FRAMES
from tests.fixtures.netra_frames import load, names

NETRA = names()


def _feed(gp: GoldenPath, fixture: dict[str, Any]) -> None:
    """Play a fixture into the state machine, one step every 10 ms of pretend time."""
    gp.resolved(0.001)
    gp.connected(0.002)
    gp.upgrade_response(101, 0.003)
    t = 0.01
    for step in fixture["steps"]:
        t += 0.01
        if "server" in step:
            gp.text_received(json.dumps(step["server"]), t)
        elif "client" in step:
            assert gp.wants_start_agent, f"{fixture['name']}: start_agent step before the welcome"
            gp.start_agent_sent(t)
        elif "close" in step:
            gp.closed(step["close"]["code"], step["close"].get("reason", ""), t)
        elif step.get("silence"):
            gp.deadline(t + 1.0)
    if not gp.finished:
        gp.deadline(t + 1.0)


def _check(fixture: dict[str, Any], outcome: str, failed_phase: str | None, close_code: int | None, error: str | None) -> None:
    want = fixture["expect"]
    assert (outcome, failed_phase) == (want["outcome"], want.get("failed_phase")), (fixture["name"], error)
    if "close_code" in want:
        assert close_code == want["close_code"], fixture["name"]
    if want.get("error_contains"):
        assert error and want["error_contains"] in error, (fixture["name"], error)


@pytest.mark.parametrize("name", NETRA)
@pytest.mark.parametrize("dialect", ["auto", "netra"])
def test_state_machine_classifies_each_real_sequence(name: str, dialect: str) -> None:
    fixture = load(name)
    gp = GoldenPath(thread_id=fixture["client"]["thread_id"], user_id=fixture["client"]["sub"], secure=False, dialect=dialect)
    _feed(gp, fixture)
    _check(fixture, str(gp.outcome), gp.failed_phase, gp.close_code, gp.error)
    if gp.outcome == "ok":
        assert gp.dialects_seen == ["netra"] and gp.server_run_id


@pytest.mark.parametrize(("name", "outcome", "says"), [
    ("healthy", "isolation_breach", "for thread thread_5f0c2b7e_0c5b1f4e_session_"),    # the server's derived thread id
    ("orchestrator_crash", "protocol_error", "unknown message type 'error_message' (protocol generic)"),
])
def test_the_generic_dialect_alone_cannot_read_the_real_frames(name: str, outcome: str, says: str) -> None:
    """Pinning the wrong dialect fails loudly and names the frame, as the pre-dialect probe did against the real backend."""
    fixture = load(name)
    gp = GoldenPath(thread_id=fixture["client"]["thread_id"], user_id=fixture["client"]["sub"], secure=False, dialect="generic")
    _feed(gp, fixture)
    assert gp.outcome == outcome and says in gp.error


@contextmanager
def replaying(fixture: dict[str, Any]) -> Iterator[str]:
    """A real WebSocket server on 127.0.0.1 that plays a fixture, with the probe's own thread id in place of the fixture's."""
    theirs = fixture["client"]["thread_id"]

    async def handler(ws: ServerConnection) -> None:
        ours = theirs
        for step in fixture["steps"]:
            if "server" in step:
                # The server derives its thread id from the client's first 8 characters (see probes.dialects.NETRA).
                text = json.dumps(step["server"]).replace(theirs, ours)
                await ws.send(text.replace(f"_{theirs[:8]}_session_", f"_{ours[:8]}_session_"))
            elif "client" in step:
                ours = json.loads(await ws.recv())["thread_id"]
            elif "close" in step:
                await ws.close(step["close"]["code"], step["close"].get("reason", ""))
                return
            elif step.get("silence"):
                await ws.wait_closed()
                return
        await ws.wait_closed()

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> Any:
        return await serve(handler, "127.0.0.1", 0, compression=None)

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    server = holder["server"]
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ws"
    finally:
        server.close()
        asyncio.run_coroutine_threadsafe(server.wait_closed(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.parametrize("name", NETRA)
def test_probe_over_a_real_socket_classifies_each_real_sequence(name: str) -> None:
    fixture = load(name)
    with replaying(fixture) as url:
        target = replace(target_from_url(url, timeout=1.0), auth=replace(target_from_url(url).auth, subject=fixture["client"]["sub"]))
        run = asyncio.run(run_session(target))
    _check(fixture, run.outcome, run.failed_phase, run.close_code, run.error)


def _shape(frame: dict[str, Any]) -> set[str]:
    """The keys of a frame and of its envelope, the way a reader finds fields."""
    keys = set(frame)
    if isinstance(frame.get("data"), dict):
        keys |= {f"data.{k}" for k in frame["data"]}
    return keys


def test_the_sandbox_sends_frames_of_the_real_shape() -> None:
    fixture = load("healthy")
    real = [s["server"] for s in fixture["steps"] if "server" in s]
    sandbox = FRAMES["netra"]
    welcome = sandbox.welcome(user_id="staging-e2e-user-001", connection_id="0b99cec8deadbeef", revision="r")
    by_type = {f["type"]: f for f in real}
    assert _shape(welcome) == _shape(by_type["connection_established"])
    for event in ("agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"):
        ours = sandbox.event(event, thread_id="t", run_id="r", request_id="q", user_id="u")
        assert ours["type"] in by_type, ours["type"]
        assert _shape(ours) == _shape(by_type[ours["type"]]), ours["type"]
    crash = [s["server"] for s in load("orchestrator_crash")["steps"] if "server" in s and s["server"]["type"] == "error_message"]
    assert crash and _shape(sandbox.crash_error()) == _shape(crash[0])
