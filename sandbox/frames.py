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
            "golden_path_events": list(AGENT_EVENTS),
            "features": {"full_business_logic": True, "golden_path_integration": True, "cloud_run_optimized": True,
                         "emergency_fallback": True, "agent_orchestration": True},
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
        # A flat ErrorMessage (websocket_ssot.py:826-842, websocket_core/types.py:348-355), then close 1008 (:843).
        return {"type": "error_message", "error_code": "AUTH_FAILED", "error_message": "Authentication failed", "details": {},
                "timestamp": time.time(), "recovery_suggestions": None}

    def heartbeat(self, n: int, connection_id: str = "") -> dict[str, Any]:
        # Sent each time the client has been silent for the receive timeout (routes/websocket_ssot.py:1551-1582).
        return self._server_message("heartbeat", {"connection_id": f"main_{connection_id[:8]}",
                                                  "stats": {"messages_processed": 1, "agent_events_processed": 0}})

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

    def heartbeat(self, n: int, connection_id: str = "") -> dict[str, Any]:
        if n % 3 == 0:
            return {"type": "system_message", "payload": {"message": "Connection healthy"}, "timestamp": iso()}
        return {"type": "heartbeat", "timestamp": iso()}

    def notice(self, thread_id: str | None, message: str) -> dict[str, Any] | None:
        return {"type": "system_message", "thread_id": thread_id, "payload": {"message": message}, "timestamp": iso()}


Frames = NetraFrames | GenericFrames
FRAMES: dict[str, Frames] = {f.name: f for f in (NetraFrames(), GenericFrames())}


def new_ids() -> tuple[str, str]:
    """A server run id and request id for one start_agent, in the real backend's formats
    (``run_session_<ms>_<n>_<hex8>``, ``req_<ms>_<n>_<hex8>``; shared/id_generation/unified_id_generator.py)."""
    global _counter
    _counter += 1
    ms = int(time.time() * 1000)
    return f"run_session_{ms}_{_counter}_{uuid.uuid4().hex[:8]}", f"req_{ms}_{_counter}_{uuid.uuid4().hex[:8]}"


_counter = 0


def server_thread(frames: Frames, user_id: str, client_thread: str) -> str:
    """The thread id the server puts on its events: the real backend derives its own from the client's
    (``thread_<user[:8]>_<client thread[:8]>_session_<ms>_<n>_<hex8>``, dependencies.py:752-789); generic echoes it."""
    if frames.name != "netra":
        return client_thread
    global _counter
    _counter += 1
    return f"thread_{user_id[:8]}_{client_thread[:8]}_session_{int(time.time() * 1000)}_{_counter}_{uuid.uuid4().hex[:8]}"
