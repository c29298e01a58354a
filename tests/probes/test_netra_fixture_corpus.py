"""The corpus of real netra backend sequences (tests/fixtures/netra/) is well formed and says where each frame comes from.

Checks the schema of every file, that each server frame and close carries a file:line citation under
``netra_backend/`` at the one pinned commit, and the few facts about the real frames that the probe's
dialect depends on (derived thread ids, DEMO identities, float vs ISO timestamps).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest

from probes.outcomes import OUTCOMES
from probes.phases import PHASES
from tests.fixtures import netra_frames
from tests.fixtures.netra_frames import COMMIT, load, names, server_frames, to_wire

EXPECTED = {
    "healthy", "healthy_demo_identities", "orchestrator_crash", "crash_no_error_frame", "silent_stall", "auth_refusal",
    "bridge_agent_started", "cross_talk", "connection_error_evidence", "normal_close_early",
}
CITE = re.compile(r"^netra_backend/[\w./-]+\.py:(\d+)(?:-(\d+))?$")
AGENT_TYPES = {"agent_started", "reasoning", "tool_executing", "tool_completed", "agent_completed"}


def _check_cite(cite: object) -> None:
    assert isinstance(cite, str), cite
    m = CITE.match(cite)
    assert m, f"cite {cite!r} is not netra_backend/<path>.py:<line>[-<line>]"
    if m.group(2):
        assert int(m.group(1)) <= int(m.group(2)), cite


def _derived_from(thread_id: str, client_thread: str) -> bool:
    """The client's own thread, or the session id get_user_execution_context() derives from it."""
    return thread_id == client_thread or (thread_id.startswith("thread_") and f"_{client_thread[:8]}_session_" in thread_id)


def test_corpus_holds_exactly_the_named_sequences() -> None:
    assert set(names()) == EXPECTED
    assert netra_frames.FIXTURE_DIR.joinpath("README.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_schema_and_citations(name: str) -> None:
    fx = load(name)
    assert set(fx) == {"name", "description", "source", "client", "steps", "expect"}
    assert fx["name"] == name and isinstance(fx["description"], str) and len(fx["description"]) > 40
    src = fx["source"]
    assert src["repo"] == "netra-systems/zen" and src["commit"] == COMMIT == "aebb16f778b51847c4ffdabedd1ccdbcec9de0fc"
    assert src["cites"], "a fixture cites the code it encodes"
    for cite in src["cites"]:
        _check_cite(cite)
    assert isinstance(fx["client"]["sub"], str) and fx["client"]["sub"]
    uuid.UUID(fx["client"]["thread_id"])

    steps = fx["steps"]
    assert steps
    seen_welcome = starts = 0
    for i, step in enumerate(steps):
        keys = set(step)
        assert keys in ({"server", "cite"}, {"client"}, {"close", "cite"}, {"silence"}), f"step {i}: {sorted(keys)}"
        if "server" in step:
            _check_cite(step["cite"])
            assert isinstance(step["server"].get("type"), str), f"step {i} has no type"
            seen_welcome += step["server"]["type"] == "connection_established"
        elif "client" in step:
            assert step["client"] == "start_agent"
            assert seen_welcome and "server" in steps[i - 1] and steps[i - 1]["server"]["type"] == "connection_established", (
                "the probe sends start_agent right after the welcome"
            )
            starts += 1
        elif "close" in step:
            _check_cite(step["cite"])
            assert set(step["close"]) == {"code", "reason"} and isinstance(step["close"]["code"], int)
            assert isinstance(step["close"]["reason"], str)
        else:
            assert step["silence"] is True
        if "close" in step or "silence" in step:
            assert i == len(steps) - 1, "close and silence end a sequence"
    assert starts == (1 if seen_welcome else 0)
    assert "close" in steps[-1] or "silence" in steps[-1]

    exp = fx["expect"]
    assert set(exp) == {"outcome", "failed_phase", "close_code", "error_contains"}
    assert exp["outcome"] in OUTCOMES
    assert (exp["failed_phase"] is None) == (exp["outcome"] == "ok")
    assert exp["failed_phase"] is None or exp["failed_phase"] in PHASES
    close = steps[-1].get("close")
    assert exp["close_code"] == (close["code"] if close else None)
    assert exp["error_contains"] is None or isinstance(exp["error_contains"], str)


def test_load_names_an_unknown_fixture() -> None:
    with pytest.raises(KeyError, match="no netra fixture named 'nope'.*healthy"):
        load("nope")


def test_server_frames_in_order_and_on_the_wire() -> None:
    fx = load("healthy")
    frames = server_frames(fx)
    assert [f["type"] for f in frames] == [
        "connection_established", "agent_started", "reasoning", "tool_executing", "tool_completed", "agent_completed",
    ]
    wire = to_wire(frames[1])
    assert ", " not in wire and ": " not in wire and json.loads(wire) == frames[1]


def test_event_thread_ids_are_the_clients_or_derived_from_it() -> None:
    """Real events carry a session thread id derived from the client's thread; only cross_talk carries a foreign one."""
    foreign = {}
    for name in EXPECTED:
        fx = load(name)
        client_thread = fx["client"]["thread_id"]
        ids = [f["thread_id"] for f in server_frames(fx) if "thread_id" in f]
        foreign[name] = [t for t in ids if not _derived_from(t, client_thread)]
        if fx["expect"]["outcome"] == "ok":
            assert ids and all(t != client_thread for t in ids), f"{name}: events carry the derived id, not the raw uuid"
    assert {n for n, bad in foreign.items() if bad} == {"cross_talk"}


def test_identities_follow_demo_mode() -> None:
    real, demo = load("healthy"), load("healthy_demo_identities")
    sub = real["client"]["sub"]
    for fx, user, shown in ((real, sub, sub[:8] + "..."), (demo, "demo-user-001", "demo-use...")):
        frames = server_frames(fx)
        assert frames[0]["data"]["user_id"] == shown
        assert {f["user_id"] for f in frames[1:]} == {user}
    assert demo["client"]["sub"] != "demo-user-001"


def test_timestamps_keep_the_backends_types() -> None:
    """Server messages: float at the top, ISO inside data; flat events and connection_error: ISO; ErrorMessage: float."""
    for name in EXPECTED:
        for f in server_frames(load(name)):
            if f["type"] in ("connection_established", "heartbeat") or (f["type"] == "error_message" and "data" in f):
                assert isinstance(f["timestamp"], float) and f["server_id"] is None and f["correlation_id"] is None
                datetime.fromisoformat(f["data"]["timestamp"])
            elif f["type"] == "error_message":
                assert isinstance(f["timestamp"], float) and "data" not in f
            else:
                datetime.fromisoformat(f["timestamp"])
                if f["type"] in AGENT_TYPES and "data" not in f:
                    assert f["critical"] is True and f["run_id"] and f["request_id"]
