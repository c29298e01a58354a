"""Dialects: how one backend spells the golden-path frames, as data.

A dialect says where a frame's type lives and what it is called, which envelope holds the body
(``payload``, ``data`` or none), and where the thread, run and user ids and the error code and text
are found. The state machine (:mod:`probes.golden_path`) only sees the canonical :class:`probes.protocol.Message`
that :func:`probes.protocol.parse_message` makes from a frame under the dialect it matches.

``netra`` is what the real backend sends (netra-systems/zen ``netra_backend/`` at aebb16f7, see
shared/PROTOCOL.md and tests/fixtures/netra/); ``generic`` is the tidier shape of the backend's client-side
tests and of other backends. With no dialect pinned (``auto``) each frame is read under the dialect it matches:
the type name first (``reasoning`` is only netra's, ``agent_thinking`` only generic's), then the envelope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from probes.phases import AGENT_EVENTS

# Canonical kinds a frame can be, besides the five agent events.
WELCOME = "connection_established"
ERROR = "error"
AGENT_FAILED = "agent_failed"
#: Frames kept as evidence and otherwise ignored (heartbeats, delivery trouble, notices).
EVIDENCE = "evidence"

Path = tuple[str, ...]


@dataclass(frozen=True)
class Dialect:
    """How one backend spells its frames. Every table maps a wire name to a canonical one."""

    name: str
    #: Where the body of a frame lives: a key holding an object, or None for flat frames.
    envelope: str | None
    #: wire type -> canonical kind (an agent event name, WELCOME, ERROR, AGENT_FAILED or EVIDENCE).
    types: Mapping[str, str]
    thread_id: tuple[Path, ...]
    run_id: tuple[Path, ...]
    user_id: tuple[Path, ...]
    error_code: tuple[Path, ...]
    error_text: tuple[Path, ...]
    #: The exception class a server error names, where the dialect carries one.
    error_type: tuple[Path, ...] = ()
    #: Error codes that mean the token was refused (matched case-insensitively; any code containing AUTH counts too).
    auth_error_codes: frozenset[str] = frozenset()
    #: Where a re-sent frame says which attempt it is: a repeat of an event already received is evidence, not disorder.
    retry: tuple[Path, ...] = ()
    #: Top-level keys that mark a frame as this dialect's even when its type is not in ``types`` (a custom
    #: notification): such a frame is kept as evidence instead of failing the run.
    markers: tuple[str, ...] = ()
    #: How the server derives its own thread id from the client's (``{prefix}``: the client's first 8 characters).
    derived_thread: str | None = None


_AUTH_CODES = frozenset({"AUTH_FAILED", "AUTH_REQUIRED", "AUTH_ERROR", "TOKEN_EXPIRED", "INVALID_TOKEN", "UNAUTHORIZED", "AUTHENTICATION_FAILED"})

NETRA = Dialect(
    name="netra",
    envelope="data",
    types={
        # The five events leave UnifiedWebSocketEmitter flat; agent_thinking goes out as "reasoning"
        # (websocket_core/unified_emitter.py:695 overrides the type, unified_manager.py:807-816).
        "agent_started": "agent_started",
        "reasoning": "agent_thinking",
        "agent_thinking": "agent_thinking",
        "tool_executing": "tool_executing",
        "tool_completed": "tool_completed",
        "agent_completed": "agent_completed",
        "connection_established": WELCOME,
        # "error" is normalised to "error_message" (websocket_core/types.py:639).
        "error_message": ERROR,
        "error": ERROR,
        "agent_error": AGENT_FAILED,
        "agent_failed": AGENT_FAILED,
        "agent_death": AGENT_FAILED,
        "progress_update": EVIDENCE,
        # Evidence, not violations: delivery trouble (unified_emitter.py), heartbeats after client silence
        # (routes/websocket_ssot.py:1574-1582), and the server's other notices.
        "connection_error": EVIDENCE,
        "heartbeat": EVIDENCE,
        "heartbeat_ack": EVIDENCE,
        "ping": EVIDENCE,
        "pong": EVIDENCE,
        "system_message": EVIDENCE,
        "connection_ready": EVIDENCE,
        "agent_progress": EVIDENCE,
        "agent_update": EVIDENCE,
        "partial_result": EVIDENCE,
        "status_update": EVIDENCE,
    },
    thread_id=(("thread_id",), ("data", "thread_id"), ("payload", "thread_id")),
    run_id=(("run_id",), ("data", "run_id"), ("payload", "run_id")),
    user_id=(("user_id",), ("data", "user_id")),
    error_code=(("data", "error_code"), ("error_code",), ("data", "code"), ("code",)),
    error_text=(("data", "error_message"), ("error_message",), ("data", "message"), ("message",), ("data", "error"), ("error",)),
    error_type=(("data", "details", "error_type"), ("details", "error_type")),
    auth_error_codes=_AUTH_CODES,
    # A retried send carries "attempt": N (websocket_core/unified_manager.py:530-531).
    retry=(("attempt",),),
    # Emitter frames carry "critical", server messages "server_id" (unified_emitter.py:525-547, websocket_core/types.py:339).
    markers=("critical", "server_id"),
    # The handler's session manager names the thread thread_<user[:8]>_<client thread[:8]>_session_<ms>_<n>_<hex8>
    # (dependencies.py:752-789, shared/id_generation/unified_id_generator.py:412-419; tests/fixtures/netra/README.md).
    derived_thread=r"thread_.{1,8}_{prefix}_session_",
)

GENERIC = Dialect(
    name="generic",
    envelope="payload",
    types={
        **{event: event for event in AGENT_EVENTS},
        "connection_established": WELCOME,
        "error": ERROR,
        "agent_failed": AGENT_FAILED,
        "heartbeat": EVIDENCE,
        "ping": EVIDENCE,
        "pong": EVIDENCE,
        "system_message": EVIDENCE,
    },
    thread_id=(("thread_id",), ("payload", "thread_id")),
    run_id=(("run_id",), ("payload", "run_id")),
    user_id=(("user_id",), ("payload", "user_id")),
    error_code=(("payload", "code"), ("code",)),
    error_text=(("payload", "error"), ("payload", "message"), ("message",)),
    auth_error_codes=_AUTH_CODES,
)

#: Every dialect by name, in the order ``auto`` tries them.
DIALECTS: dict[str, Dialect] = {d.name: d for d in (NETRA, GENERIC)}
AUTO = "auto"
DIALECT_NAMES: tuple[str, ...] = (AUTO, *DIALECTS)


def candidates(pinned: str) -> tuple[Dialect, ...]:
    """The dialects a frame may be read under: the pinned one, or all of them for ``auto``."""
    return tuple(DIALECTS.values()) if pinned == AUTO else (DIALECTS[pinned],)


def match(obj: Mapping[str, object], kind: str, pinned: str = AUTO) -> Dialect | None:
    """The dialect a frame is written in: the ones that know its type, then the one whose envelope it uses;
    for a type nobody knows, the dialect whose marker keys the frame carries (None if none does)."""
    knowing = [d for d in candidates(pinned) if kind in d.types]
    if not knowing:
        return next((d for d in candidates(pinned) if any(key in obj for key in d.markers)), None)
    if len(knowing) == 1:
        return knowing[0]
    for dialect in knowing:
        if dialect.envelope is not None and isinstance(obj.get(dialect.envelope), Mapping):
            return dialect
    return knowing[0]


def lookup(obj: Mapping[str, object], paths: tuple[Path, ...]) -> object | None:
    """The first value found along ``paths`` that is not None."""
    for path in paths:
        value: object = obj
        for key in path:
            if not isinstance(value, Mapping):
                value = None
                break
            value = value.get(key)
        if value is not None:
            return value
    return None


def derived_from(dialect: Dialect, server_thread: str, client_thread: str) -> bool:
    """Whether ``server_thread`` is the id the server derives from the client's own thread id."""
    if dialect.derived_thread is None or len(client_thread) < 8:
        return False
    return re.match(dialect.derived_thread.replace("{prefix}", re.escape(client_thread[:8])), server_thread) is not None
