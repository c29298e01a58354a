"""Golden-path wire messages (see shared/PROTOCOL.md): names, builders, parsing.

Pure: no sockets, no clock. Shared by the probe and the sandbox so that the two
can never drift apart on a field name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from probes.phases import AGENT_EVENTS

WELCOME = "connection_established"
START_AGENT = "start_agent"
AGENT_FAILED = "agent_failed"
ERROR = "error"
#: Messages the server may send at any time; the probe tolerates and records them.
TOLERATED: frozenset[str] = frozenset(
    {"system_message", "heartbeat", "ping", "pong", WELCOME}
)
#: Every message type a client may legitimately receive.
KNOWN_SERVER_TYPES: frozenset[str] = frozenset(AGENT_EVENTS) | TOLERATED | {AGENT_FAILED, ERROR}

#: Close codes of the protocol, by name.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_ABNORMAL = 1006
CLOSE_POLICY_VIOLATION = 1008
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012

#: Headers that mark synthetic traffic on the upgrade request.
HEADER_TEST_TYPE = "X-Test-Type"
HEADER_TEST_ENVIRONMENT = "X-Test-Environment"
HEADER_TEST_SESSION = "X-Test-Session"

#: Subprotocol prefix for clients that cannot set an Authorization header.
JWT_SUBPROTOCOL_PREFIX = "jwt."

#: Error codes in ``error`` messages that mean the token was refused.
AUTH_ERROR_CODES: frozenset[str] = frozenset(
    {"AUTH_FAILED", "AUTH_REQUIRED", "TOKEN_EXPIRED", "INVALID_TOKEN", "UNAUTHORIZED"}
)


class MessageError(ValueError):
    """A text frame that is not a golden-path message (not JSON, not an object, no type)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One parsed server message. ``raw`` keeps the decoded object for the record."""

    type: str
    thread_id: str | None
    user_id: str | None
    payload: dict[str, Any]
    raw: dict[str, Any]


def parse_message(text: str) -> Message:
    """Parse a text frame; raise :class:`MessageError` naming what is wrong."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MessageError(f"message is not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(obj, dict):
        raise MessageError(f"message is JSON {type(obj).__name__}, not an object")
    kind = obj.get("type")
    if not isinstance(kind, str) or not kind:
        raise MessageError("message has no string 'type' field")
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        payload = {}
    thread_id = obj.get("thread_id")
    user_id = obj.get("user_id", payload.get("user_id"))
    return Message(
        type=kind,
        thread_id=thread_id if isinstance(thread_id, str) else None,
        user_id=user_id if isinstance(user_id, str) else None,
        payload=payload,
        raw=obj,
    )


def start_agent_message(*, user_id: str, thread_id: str, timestamp: str, user_request: str) -> str:
    """The ``start_agent`` frame a client sends after the welcome."""
    return json.dumps(
        {
            "type": START_AGENT,
            "payload": {"user_request": user_request, "user_id": user_id},
            "thread_id": thread_id,
            "timestamp": timestamp,
        }
    )


def error_text(message: Message) -> str:
    """The human error carried by an ``agent_failed`` or ``error`` message."""
    p = message.payload
    text = p.get("error") or p.get("message") or message.raw.get("message") or ""
    code = p.get("code") or message.raw.get("code")
    text = str(text)
    return f"{code}: {text}" if code else text


def is_auth_error(message: Message) -> bool:
    code = message.payload.get("code") or message.raw.get("code")
    return isinstance(code, str) and (code.upper() in AUTH_ERROR_CODES or "AUTH" in code.upper())
