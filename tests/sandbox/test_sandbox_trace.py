"""The sandbox reads the W3C traceparent as Cloud Run does: a valid one puts every log line of the connection in the
caller's trace; a malformed one (hostile input) is ignored and the server carries on."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.logs import SPAN_KEY, TRACE_KEY
from tests.conftest import poll, running_sandbox
from tests.sandbox.test_sandbox import SCALE, golden_path

TID, SID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def _lines(sb, session: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    """The connection's log lines, once its close was logged."""
    def closed() -> list[dict]:  # type: ignore[type-arg]
        mine = [e for e in sb.log.entries() if e["labels"].get("pathwatch_run") == session]
        return mine if any(e.get("jsonPayload", {}).get("event") == "close" for e in mine) else []
    return poll(closed)  # type: ignore[no-any-return]


def test_a_valid_traceparent_puts_every_line_of_the_run_in_its_trace() -> None:
    with running_sandbox("orchestrator_crash", time_scale=SCALE) as sb:
        asyncio.run(golden_path(sb.url, session="traced", headers={"traceparent": f"00-{TID}-{SID}-01"}))
        mine = _lines(sb, "traced")
    assert any(e["severity"] == "ERROR" for e in mine)  # the crash's traceback line too
    for e in mine:
        assert e["trace"] == e[TRACE_KEY] == f"projects/pathwatch-sandbox/traces/{TID}"
        assert e["spanId"] == e[SPAN_KEY] == SID and e["traceSampled"] is True


@pytest.mark.parametrize("bad", ["garbage", f"00-{TID.upper()}-{SID}-01", f"ff-{TID}-{SID}-01", f"00-{'0' * 32}-{SID}-01", "00-" + "f" * 3000])
def test_a_malformed_traceparent_is_ignored(bad: str) -> None:
    with running_sandbox(time_scale=SCALE) as sb:
        got, _ = asyncio.run(golden_path(sb.url, session="sess-bad", headers={"traceparent": bad}))
        mine = _lines(sb, "sess-bad")
    assert got[-1]["type"] == "agent_completed"  # served as usual
    for e in mine:
        assert TRACE_KEY not in e and "spanId" not in e
        assert e["trace"].endswith("/sess-bad")  # the run id, as before: nothing of the header


def test_a_header_sent_twice_is_joined_not_a_server_error() -> None:
    """W3C Trace Context lets tracestate span several header lines; a client may repeat traceparent too."""
    with running_sandbox(time_scale=SCALE) as sb:
        got, _ = asyncio.run(golden_path(sb.url, session="twice", repeated=[
            ("traceparent", f"00-{TID}-{SID}-01"), ("traceparent", f"00-{TID}-{SID}-01"), ("tracestate", "a=1"), ("tracestate", "b=2")]))
        mine = _lines(sb, "twice")
    assert got[-1]["type"] == "agent_completed"
    connect = next(e for e in mine if e["jsonPayload"].get("event") == "connect")
    assert connect["jsonPayload"]["headers"]["tracestate"] == "a=1,b=2"
    assert all(TRACE_KEY not in e for e in mine), "two traceparents: which trace is ambiguous, so none"
