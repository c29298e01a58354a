"""The phases of one golden-path run, in order, defined once for all of Pathwatch."""

from __future__ import annotations

from collections.abc import Mapping

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


def reached(phases_ms: Mapping[str, float | None], elapsed_ms: Mapping[str, float]) -> list[tuple[str, float, float, float]]:
    """(phase, start, end, duration) in ms since the run began, for each phase reached, in order. A phase ends at its
    elapsed mark and lasted its recorded duration (so it starts that long before): one reading for every chart and span."""
    out = []
    for phase in PHASES:
        end, dur = elapsed_ms.get(phase), phases_ms.get(phase)
        if end is not None and dur is not None:
            out.append((phase, end - dur, end, dur))
    return out
