"""What the stand-in backend sends, in each dialect: the server side of :mod:`probes.dialects`.

``netra`` frames have the shapes of the real backend (netra-systems/zen ``netra_backend/`` at aebb16f7; see
shared/PROTOCOL.md and the real frames in tests/fixtures/netra/), ``generic`` the earlier sandbox shape.
Closes, too, differ: the real backend accepts and then closes 1008 where others answer 403, and its crash
path sends ``error_message`` before closing 1011 "main mode error".
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from probes.phases import AGENT_EVENTS

#: The user every connection becomes in the real backend's DEMO mode (auth_integration/auth_permissiveness.py:592-622).
DEMO_USER = "demo-user-001"


def iso(dt: datetime | None = None) -> str:
    return (dt or datetime.now(UTC)).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Closes:
    """Close codes and reasons a dialect uses for each way a connection ends."""

    auth: tuple[int, str]
    crash: tuple[int, str]
    cleanup: tuple[int, str]
    #: Whether an auth failure is answered at the HTTP upgrade (403) instead of accept-then-close.
    auth_at_upgrade: bool


class NetraFrames:
    """The real backend's frames (websocket_core/types.py server messages, unified_emitter.py events)."""

    name = "netra"
    closes = Closes(auth=(1008, "Authentication failed"), crash=(1011, "main mode error"), cleanup=(1000, "main cleanup"), auth_at_upgrade=False)

    @staticmethod
    def _server_message(kind: str, data: dict[str, Any]) -> dict[str, Any]:
        # A "server message": a data envelope, a float timestamp at the top, an ISO one inside (websocket_core/types.py:339).
        return {"type": kind, "data": {**data, "timestamp": iso()}, "timestamp": time.time(), "server_id": None, "correlation_id": None}

    def welcome(self, *, user_id: str, connection_id: str, revision: str) -> dict[str, Any]:
        # routes/websocket_ssot.py:974-989: the user id is cut to 8 characters plus "...".
        return self._server_message("connection_established", {
            "mode": "main", "user_id": user_id[:8] + "...", "connection_id": f"main_{connection_id[:8]}",
            "golden_path_events": list(AGENT_EVENTS), "features": {"agent_execution": True, "revision": revision},
        })

    def event(self, kind: str, *, thread_id: str, run_id: str, request_id: str, user_id: str) -> dict[str, Any]:
        # Flat frames from UnifiedWebSocketEmitter.notify_* (unified_emitter.py:646-770); agent_thinking goes out as
        # "reasoning" (unified_emitter.py:695, unified_manager.py:807-816).
        meta = {"run_id": run_id, "request_id": request_id}
        body: dict[str, Any] = {
            "agent_started": {"type": "agent_started", "agent_name": "supervisor", "task_description": "Processing request",
                              "metadata": meta, "status": "started"},
            "agent_thinking": {"type": "reasoning", "reasoning": "Reading the last 3 messages of the thread",
                               "metadata": {"step_number": 1, **meta}},
            "tool_executing": {"type": "tool_executing", "tool_name": "message_history", "tool_args": {}, "parameters": {},
                               "execution_id": None, "metadata": meta, "status": "executing"},
            "tool_completed": {"type": "tool_completed", "tool_name": "message_history", "results": {"messages": 3},
                               "execution_time": 0, "duration": 0, "execution_id": None, "success": True, "metadata": meta,
                               "status": "completed"},
            "agent_completed": {"type": "agent_completed", "status": "completed", "final_response": "Task completed",
                                "agent_name": "supervisor", "metadata": meta},
        }[kind]
        return {"timestamp": iso(), "critical": True, **body, "user_id": user_id, "thread_id": thread_id,
                "run_id": run_id, "request_id": request_id}

    def crash_error(self) -> dict[str, Any] | None:
        # _handle_connection_error (routes/websocket_ssot.py:1801-1827) sends this, then closes 1011 "main mode error".
        return self._server_message("error_message", {
            "error_code": "CONNECTION_ERROR", "error_message": "Connection error in main mode",
            "details": {"error_type": "AttributeError", "mode": "main"},
        })

    def auth_error(self) -> dict[str, Any] | None:
        return None  # the real backend closes 1008 "Authentication failed" with no frame first (websocket_ssot.py:843)

    def heartbeat(self, n: int) -> dict[str, Any]:
        # Sent after client silence (routes/websocket_ssot.py:1574-1582).
        return self._server_message("heartbeat", {"sequence": n})

    def notice(self, thread_id: str | None, message: str) -> dict[str, Any] | None:
        return None  # a stalled netra run sends heartbeats and nothing else


class GenericFrames:
    """The tidier shape of the backend's client-side tests and of other backends: a ``payload`` envelope."""

    name = "generic"
    closes = Closes(auth=(1008, "Authentication failed"), crash=(1011, "Internal error"), cleanup=(1000, ""), auth_at_upgrade=True)

    def welcome(self, *, user_id: str, connection_id: str, revision: str) -> dict[str, Any]:
        return {"type": "connection_established", "connection_id": connection_id, "user_id": user_id, "server_time": iso(), "revision": revision}

    def event(self, kind: str, *, thread_id: str, run_id: str, request_id: str, user_id: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "agent_started": {"agent_name": "supervisor", "user_id": user_id},
            "agent_thinking": {"thought": "Reading the last 3 messages of the thread", "step": 1},
            "tool_executing": {"tool_name": "message_history", "args": {"limit": 3}},
            "tool_completed": {"tool_name": "message_history", "result": {"messages": 3}},
            "agent_completed": {"result": {"summary": "Three messages about the quarterly report."}, "status": "success"},
        }[kind]
        return {"type": kind, "thread_id": thread_id, "run_id": run_id, "timestamp": iso(), "payload": payload}

    def crash_error(self) -> dict[str, Any] | None:
        return None

    def auth_error(self) -> dict[str, Any] | None:
        return {"type": "error", "payload": {"code": "AUTH_FAILED", "message": "Authentication failed: token rejected by auth service"}}

    def heartbeat(self, n: int) -> dict[str, Any]:
        if n % 3 == 0:
            return {"type": "system_message", "payload": {"message": "Connection healthy"}, "timestamp": iso()}
        return {"type": "heartbeat", "timestamp": iso()}

    def notice(self, thread_id: str | None, message: str) -> dict[str, Any] | None:
        return {"type": "system_message", "thread_id": thread_id, "payload": {"message": message}, "timestamp": iso()}


Frames = NetraFrames | GenericFrames
FRAMES: dict[str, Frames] = {f.name: f for f in (NetraFrames(), GenericFrames())}


def new_ids() -> tuple[str, str]:
    """A server run id and request id for one start_agent."""
    return str(uuid.uuid4()), str(uuid.uuid4())
