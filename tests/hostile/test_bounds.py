"""Everything from outside is bounded: events and bytes kept per run, every text field, message and
fragment sizes, JSON depth (frames and health bodies), health body size, and the probe's own file
descriptors, whatever a server sends. Each case drives the real CLI against a byte-level server.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes import jsonsafe
from probes.record import MAX_EVENTS_KEPT, MAX_TEXT_FIELD
from probes.runner import MAX_MESSAGE_BYTES, MAX_QUEUED_BYTES, _Wire
from probes.stamped import READ_SIZE, StampedTransport
from store.sqlite import open_store
from tests.conftest import leaks
from tests.hostile.rawserver import BINARY, CONT, PING, TEXT, Conn, Health, RawServer, frame, run_probe, store_bytes, text

TIMEOUT_S = 5.0
SLACK_S = 3.0


def _stored(db: Path, run: dict) -> None:  # type: ignore[type-arg]
    """The run is in the store with every event the JSON line shows."""
    with open_store(db) as store:
        stored = store.get_run(run["run_id"])
    assert stored is not None, "the run was lost"
    assert (stored.outcome, len(stored.events)) == (run["outcome"], len(run["events"]))


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]


async def _flood_after_start(conn: Conn, unit: bytes) -> None:
    await conn.welcome()
    await conn.start_agent()
    await conn.flood(unit, count=100_000)


@pytest.mark.parametrize("size", [20, 2000], ids=["tiny", "2KB"])
def test_a_flood_of_frames_ends_as_a_named_protocol_error_with_bounded_record_and_store(tmp_path: Path, size: int) -> None:
    """100,000 heartbeats once made a 10 s run take 1.3 GB, 390 MB of store and a 340 MB ``--json`` line."""
    unit = text({"type": "heartbeat", "pad": "h" * max(0, size - 30)})

    async def script(conn: Conn) -> None:
        await _flood_after_start(conn, unit)

    db = tmp_path / "runs.db"
    open_store(db).close()
    empty = store_bytes(db)
    with RawServer(script) as srv:
        result = run_probe(srv, db, timeout_s=TIMEOUT_S)
    assert result.took_s < TIMEOUT_S + SLACK_S, result.took_s
    run = result.run
    assert run["outcome"] == "protocol_error" and run["error"].startswith("message flood: more than 1000 frames"), run["error"]
    assert run["failed_phase"] == "agent_started"
    assert len(run["events"]) <= MAX_EVENTS_KEPT
    assert all(len(e["detail"]) <= 512 for e in run["events"])
    assert result.json_line_bytes < 1_500_000, result.json_line_bytes
    assert store_bytes(db) - empty < 2_000_000, store_bytes(db) - empty
    _stored(db, run)
    _no_traceback(result.stderr)


async def _ping_flood(conn: Conn) -> None:
    await conn.welcome()
    await conn.flood(frame(PING, b"are you there"), count=100_000)  # and never reads the pongs


async def _endless_fragments(conn: Conn, piece: int) -> None:
    await conn.welcome()
    await conn.send(frame(TEXT, b'{"type": "heartbeat", "pad": "', fin=False))
    await conn.flood(frame(CONT, b"x" * piece, fin=False), seconds=30)


async def _endless_small_fragments(conn: Conn) -> None:
    await _endless_fragments(conn, 10)


async def _endless_large_fragments(conn: Conn) -> None:
    await _endless_fragments(conn, 64 * 1024)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (_ping_flood, "message flood: more than 1000 frames"),
        (_endless_small_fragments, "message flood: more than 1000 frames"),
        (_endless_large_fragments, f"exceeds limit of {MAX_MESSAGE_BYTES} bytes"),
    ],
    ids=["pings", "fragments-10B", "fragments-64KB"],
)
def test_frames_that_never_become_events_are_bounded_too(tmp_path: Path, script, expected: str) -> None:  # type: ignore[no-untyped-def]
    with RawServer(script) as srv:
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=TIMEOUT_S)
    assert result.took_s < TIMEOUT_S + SLACK_S, result.took_s
    run = result.run
    assert run["outcome"] == "protocol_error" and expected in run["error"], run["error"]
    assert len(run["events"]) <= 3
    _stored(tmp_path / "runs.db", run)


async def _one_big_frame(conn: Conn) -> None:
    await conn.welcome()
    await conn.send(text(b'{"type": "heartbeat", "pad": "' + b"x" * MAX_MESSAGE_BYTES + b'"}'))
    await conn.hang()


def test_one_frame_over_the_message_limit_is_a_protocol_error_naming_its_size(tmp_path: Path) -> None:
    with RawServer(_one_big_frame) as srv:
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=TIMEOUT_S)
    run = result.run
    size = MAX_MESSAGE_BYTES + len(b'{"type": "heartbeat", "pad": ""}')
    assert run["outcome"] == "protocol_error", run["error"]
    assert f"{size} bytes" in run["error"] and str(MAX_MESSAGE_BYTES) in run["error"], run["error"]
    assert result.json_line_bytes < 20_000


async def _nested_frame(conn: Conn) -> None:
    await conn.welcome()
    await conn.send(text('{"type": "heartbeat", "payload": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    await conn.hang()


def test_deeply_nested_json_in_a_frame_is_a_protocol_error_not_a_recursion_error(tmp_path: Path) -> None:
    with RawServer(_nested_frame) as srv:
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=TIMEOUT_S)
    run = result.run
    assert run["outcome"] == "protocol_error" and "JSON" in run["error"], run["error"]
    _no_traceback(result.stderr)
    _stored(tmp_path / "runs.db", run)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (text(b'{"type": "heartbeat", "x": "\xff\xfe"}'), "UTF-8"),
        (frame(TEXT, b'{"type": "heartbeat"}', mask=b"\x01\x02\x03\x04"), "invalid frame"),
        (frame(TEXT, b'{"type": "heartbeat"}', rsv=4), "invalid frame"),
        (frame(PING, b"p" * 126), "invalid frame"),
        (frame(BINARY, b"\x00" * 10), "binary"),
    ],
    ids=["invalid-utf8", "masked", "rsv-bits", "oversized-control", "binary"],
)
def test_malformed_frames_are_named_protocol_errors(tmp_path: Path, raw: bytes, expected: str) -> None:
    async def script(conn: Conn) -> None:
        await conn.welcome()
        await conn.send(raw)
        await conn.hang()

    with RawServer(script) as srv:
        result = run_probe(srv, tmp_path / "runs.db", timeout_s=TIMEOUT_S)
    run = result.run
    assert run["outcome"] == "protocol_error" and expected in run["error"], run["error"]
    _no_traceback(result.stderr)


#: A JWT-shaped token placed so that a cut at MAX_TEXT_FIELD would split it: redaction must come first.
_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0." + "s" * 43


async def _long_agent_failure(conn: Conn) -> None:
    await conn.welcome()
    await conn.start_agent()
    message = "e" * (MAX_TEXT_FIELD - 40) + _TOKEN + " " + "f" * 5000
    await conn.send(text({"type": "agent_failed", "payload": {"error": message}}))
    await conn.hang()


async def _long_foreign_thread(conn: Conn) -> None:
    await conn.welcome()
    await conn.start_agent()
    await conn.send(text({"type": "agent_started", "thread_id": "t" * (MAX_TEXT_FIELD - 40) + _TOKEN + " " + "u" * 5000}))
    await conn.hang()


@pytest.mark.parametrize(("script", "outcome"), [(_long_agent_failure, "server_error"), (_long_foreign_thread, "isolation_breach")],
                         ids=["error-text", "thread-id"])
def test_a_5kb_text_from_the_server_is_kept_redacted_and_capped(tmp_path: Path, script, outcome: str) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "runs.db"
    with RawServer(script) as srv:
        result = run_probe(srv, db, timeout_s=TIMEOUT_S)
    run = result.run
    assert run["outcome"] == outcome, run["error"]
    assert len(run["error"]) <= MAX_TEXT_FIELD and run["error"].endswith("chars]"), len(run["error"])
    assert all(len(e["detail"]) <= 512 for e in run["events"])
    assert not leaks(result.stdout + result.stderr + db.read_bytes().decode("latin-1"), (_TOKEN[:30],))
    assert "eyJ" not in result.stdout
    with open_store(db) as store:
        stored = store.get_run(run["run_id"])
    assert stored is not None and stored.error == run["error"]


@pytest.mark.parametrize(
    "health",
    [
        Health(body=b'{"revision": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        Health(body=b'{"revision": "x", "pad": "' + b"p" * 10_000_000 + b'"}', framing="close"),
        Health(body=b'{"revision": "x", "pad": "' + b"p" * 10_000_000 + b'"}', framing="chunked"),
        Health(body=b'{"revision": "' + b"r" * 5000 + b'"}'),
    ],
    ids=["nested-100000", "10MB-until-close", "10MB-chunked", "5KB-revision"],
)
def test_a_hostile_health_body_costs_the_revision_at_most_never_the_run(tmp_path: Path, health: Health) -> None:
    db = tmp_path / "runs.db"
    with RawServer(health=health) as srv:
        result = run_probe(srv, db, timeout_s=TIMEOUT_S)
        assert srv.stats.health_requests >= 1
    _no_traceback(result.stderr)
    assert "RecursionError" not in result.stderr
    run = result.run
    assert (result.returncode, run["outcome"]) == (0, "ok"), result.stderr[-2000:]
    assert run["revision"] is None or len(run["revision"]) <= MAX_TEXT_FIELD
    if health.body.startswith(b'{"revision": "r'):
        assert run["revision"].startswith("rrr")  # a long revision is clipped, not dropped
    else:
        assert run["revision"] is None
    _stored(db, run)


def test_users_beyond_the_open_files_limit_are_probe_errors_never_connect_timeouts(tmp_path: Path) -> None:
    """With 64 file descriptors, 150 sessions cannot all open a socket: those are the probe's own failures."""
    limit = 64

    def few_fds() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

    db = tmp_path / "runs.db"
    with RawServer() as srv:
        result = run_probe(srv, db, "--users", "150", "--quiet", timeout_s=10, preexec_fn=few_fds)
    outcomes = [r["outcome"] for r in result.runs]
    assert len(outcomes) == 150, result.stderr[-2000:]
    assert set(outcomes) <= {"ok", "probe_error"}, sorted(set(outcomes))
    overloaded = [r for r in result.runs if r["outcome"] == "probe_error"]
    assert overloaded and outcomes.count("ok") >= 1
    assert all(r["error"].startswith("probe overloaded: cannot open a socket") and "ulimit -n" in r["error"] for r in overloaded)
    assert all(r["failed_phase"] == "connect" for r in overloaded)
    assert result.returncode == 3  # Pathwatch itself could not do the job, not the target
    _no_traceback(result.stderr)
    with open_store(db) as store:
        assert store.count_runs() == 150


# ---------------------------------------------------------------- probes.jsonsafe


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_strings = st.text(alphabet=st.sampled_from('ab"\\[]{}é\n'), max_size=6)
_documents = st.recursive(
    st.none() | st.integers() | _strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_strings, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(doc=_documents, limit=st.integers(0, 8), ascii_only=st.booleans())
def test_jsonsafe_measures_depth_exactly_and_ignores_brackets_in_strings(doc: object, limit: int, ascii_only: bool) -> None:
    encoded = json.dumps(doc, ensure_ascii=ascii_only)
    assert jsonsafe.exceeds(encoded, limit) == (_depth(doc) > limit)
    if _depth(doc) <= limit:
        assert jsonsafe.loads(encoded, max_depth=limit) == doc
    else:
        with pytest.raises(jsonsafe.JsonTooDeep):
            jsonsafe.loads(encoded, max_depth=limit)


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "[" * 1_000_000, '{"a":' * 50_000 + "1" + "}" * 50_000, '["\\\\"' + ",[" * 100_000],
    ids=["arrays", "unclosed", "objects", "escaped-quote-then-deep"],
)
def test_jsonsafe_refuses_deep_nesting_with_its_own_error_before_json_recurses(text: str) -> None:
    with pytest.raises(jsonsafe.JsonTooDeep):
        jsonsafe.loads(text)
    with pytest.raises(jsonsafe.JsonTooDeep):
        jsonsafe.loads(text.encode())


def test_jsonsafe_size_limit_and_plain_errors() -> None:
    with pytest.raises(jsonsafe.JsonTooBig):
        jsonsafe.loads(b"[" + b"1," * 1000 + b"1]", max_bytes=1000)
    assert jsonsafe.loads(b'\xef\xbb\xbf{"a": ["[", "]]]]"]}', max_bytes=1000) == {"a": ["[", "]]]]"]}
    with pytest.raises(ValueError, match="UTF-8"):
        jsonsafe.loads(b'{"a": "\xff"}')
    with pytest.raises(json.JSONDecodeError):
        jsonsafe.loads("[1, 2")


# ---------------------------------------------------------------- backpressure


def test_backpressure_a_session_that_falls_behind_stops_reading_instead_of_buffering() -> None:
    """A server writing 16 MB at once while the session takes nothing: the wire holds about 1 MB and pauses the
    socket (the rest waits in the kernel and TCP's window); taking the chunks resumes it, and every byte arrives in order."""
    total = 16 << 20
    payload = bytes(range(256)) * (total // 256)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.setblocking(False)
        wire = _Wire(time.perf_counter)
        transport = StampedTransport(loop, ours, wire)
        sending = loop.create_task(loop.sock_sendall(theirs, payload))
        for _ in range(200):  # let the loop run its reader for a while without the session taking anything
            await asyncio.sleep(0.005)
        assert not transport.is_reading()
        assert MAX_QUEUED_BYTES < wire.queued <= MAX_QUEUED_BYTES + READ_SIZE, wire.queued
        assert not sending.done()  # the sender is held back by TCP, not by our memory
        received = bytearray()
        while len(received) < total:
            kind, _, data = await asyncio.wait_for(wire.queue.get(), 10)
            assert kind == "data"
            received += data  # type: ignore[operator]
            assert wire.queued <= MAX_QUEUED_BYTES + READ_SIZE
        assert received == payload
        await sending
        transport.abort()
        theirs.close()

    asyncio.run(scenario())
