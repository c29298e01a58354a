"""Scenarios: how the stand-in backend behaves, each with realistic default timings.

Timings are in seconds at ``time_scale`` 1.0; the server multiplies them.
Any field can be overridden by name (``--set crash_rate=0.5``) so that tests
and stories can shape a scenario without new code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from probes.errors import ConfigError
from probes.phases import AGENT_EVENTS

#: The healthy cadence: about 1.5 s from start_agent to agent_completed.
HEALTHY_DELAYS: dict[str, float] = {
    "agent_started": 0.1,
    "agent_thinking": 0.4,
    "tool_executing": 0.3,
    "tool_completed": 0.5,
    "agent_completed": 0.2,
}


@dataclass(frozen=True)
class Scenario:
    name: str
    #: What the server does; one of BEHAVIOURS.
    behaviour: str = "healthy"
    welcome_delay_s: float = 0.02
    delays: dict[str, float] = field(default_factory=lambda: dict(HEALTHY_DELAYS))
    #: orchestrator_crash / flaky: seconds after start_agent when the server closes with 1011.
    crash_after_s: float = 7.0
    #: flaky: the fraction of runs that crash (seeded).
    crash_rate: float = 0.3
    #: slow_thinking: agent_thinking is this many times slower (drawn uniformly, seeded).
    thinking_factor_min: float = 5.0
    thinking_factor_max: float = 10.0
    #: going_away: the close code (1012 service restart, or 1001 going away).
    close_code: int = 1012
    #: silent_stall: seconds between heartbeats.
    heartbeat_s: float = 2.0
    #: netra dialect: the real backend heartbeats a client silent this long (35 s on staging, websocket_ssot.py:1574-1582).
    client_silence_s: float = 35.0
    #: handshake_hang: how long the upgrade is left unanswered.
    hang_s: float = 600.0

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with fields set by name; values are coerced to the field's type."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        delays = dict(self.delays)
        for key, value in overrides.items():
            if key in AGENT_EVENTS:
                delays[key] = _number(key, value)
            elif key in known and key not in ("name", "behaviour", "delays"):
                kind = type(getattr(self, key))
                changes[key] = int(_number(key, value)) if kind is int else _number(key, value)
            else:
                allowed = sorted(k for k in known if k not in ("name", "behaviour", "delays")) + list(AGENT_EVENTS)
                raise ConfigError(f"scenario {self.name}: unknown setting {key!r}; settings are {allowed}")
        if "crash_rate" in changes and not 0.0 <= changes["crash_rate"] <= 1.0:
            raise ConfigError(f"scenario {self.name}: crash_rate must be between 0 and 1")
        if "close_code" in changes and not 1000 <= changes["close_code"] <= 4999:
            raise ConfigError(f"scenario {self.name}: close_code must be a WebSocket close code from 1000 to 4999")
        return replace(self, delays=delays, **changes)


def _number(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"scenario setting {key}: {value!r} is not a number") from None
    if not 0 <= number <= 86400:  # also refuses nan and inf
        raise ConfigError(f"scenario setting {key}: must be a number from 0 to 86400, got {value!r}")
    return number


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy"),
        Scenario("orchestrator_crash", behaviour="crash"),
        Scenario("silent_stall", behaviour="stall"),
        Scenario("auth_reject", behaviour="auth_reject"),
        Scenario("auth_close", behaviour="auth_close"),
        Scenario("slow_thinking", behaviour="slow_thinking"),
        Scenario("flaky", behaviour="flaky"),
        Scenario("going_away", behaviour="going_away"),
        Scenario("partial", behaviour="partial"),
        Scenario("out_of_order", behaviour="out_of_order"),
        Scenario("malformed", behaviour="malformed"),
        Scenario("cross_talk", behaviour="cross_talk"),
        Scenario("handshake_hang", behaviour="handshake_hang"),
    )
}


def get_scenario(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    try:
        scenario = SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; scenarios are {sorted(SCENARIOS)}") from None
    return scenario.with_overrides(overrides) if overrides else scenario
