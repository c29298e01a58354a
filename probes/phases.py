"""The phases of one golden-path run, in order, defined once for all of Pathwatch."""

from __future__ import annotations

#: Phases before ``start_agent`` is sent: the connection being set up.
CONNECTION_PHASES: tuple[str, ...] = ("dns", "connect", "tls", "upgrade", "welcome")

#: The five critical agent events, in the order the server must send them.
AGENT_EVENTS: tuple[str, ...] = (
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
)

#: Every phase, in order. A phase that was not reached is recorded as null, never 0.
PHASES: tuple[str, ...] = CONNECTION_PHASES + AGENT_EVENTS

#: Extra time marks kept beside the phases in ``elapsed_ms``.
MARK_START_AGENT_SENT = "start_agent_sent"
MARK_FAILURE = "failure"
