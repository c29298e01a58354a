"""Failure classes: the ``outcome`` of a run, and how close codes map onto them.

Defined once here; the store, analysis and pages import them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    DNS_ERROR = "dns_error"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    TLS_ERROR = "tls_error"
    UPGRADE_REJECTED = "upgrade_rejected"
    UPGRADE_TIMEOUT = "upgrade_timeout"
    AUTH_REJECTED = "auth_rejected"
    SERVER_ERROR = "server_error"
    GOING_AWAY = "going_away"
    ABNORMAL_CLOSE = "abnormal_close"
    PROTOCOL_ERROR = "protocol_error"
    EVENT_TIMEOUT = "event_timeout"
    INCOMPLETE = "incomplete"
    ISOLATION_BREACH = "isolation_breach"
    PROBE_ERROR = "probe_error"
    AUTH_NOT_ENFORCED = "auth_not_enforced"


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)

#: One sentence per outcome, for people (pages, reports, the CLI).
DESCRIPTIONS: dict[Outcome, str] = {
    Outcome.OK: "all five agent events arrived in order",
    Outcome.DNS_ERROR: "the host name did not resolve",
    Outcome.CONNECT_REFUSED: "the TCP connection was refused",
    Outcome.CONNECT_TIMEOUT: "the TCP connection did not open before the deadline",
    Outcome.TLS_ERROR: "the TLS handshake failed",
    Outcome.UPGRADE_REJECTED: "the server answered the WebSocket upgrade with an HTTP error",
    Outcome.UPGRADE_TIMEOUT: "TCP connected but the server never answered the upgrade",
    Outcome.AUTH_REJECTED: "the server accepted, then closed the connection for auth",
    Outcome.SERVER_ERROR: "the server closed with 1011 (internal error)",
    Outcome.GOING_AWAY: "the server closed with 1001/1012 (shutdown or restart)",
    Outcome.ABNORMAL_CLOSE: "the connection dropped without a close frame (1006)",
    Outcome.PROTOCOL_ERROR: "the server sent something the protocol does not allow",
    Outcome.EVENT_TIMEOUT: "the deadline passed while waiting for the next event",
    Outcome.INCOMPLETE: "the connection closed before agent_completed",
    Outcome.ISOLATION_BREACH: "an event for another thread or user arrived",
    Outcome.PROBE_ERROR: "the probe itself failed",
    Outcome.AUTH_NOT_ENFORCED: "the golden path completed, but the server also accepted a deliberately wrong token",
}

#: Outcomes in which the golden path reached the user: availability, the SLO and impact count them as served.
#: ``auth_not_enforced`` is served (users got their answer) yet still a failed check: the probe exits 1 and the
#: overview says that the target's auth is not being exercised.
SERVED: frozenset[str] = frozenset({Outcome.OK.value, Outcome.AUTH_NOT_ENFORCED.value})

_CLOSE_CODE_OUTCOMES: dict[int, Outcome] = {
    1001: Outcome.GOING_AWAY,
    1002: Outcome.PROTOCOL_ERROR,
    1003: Outcome.PROTOCOL_ERROR,
    1006: Outcome.ABNORMAL_CLOSE,
    1007: Outcome.PROTOCOL_ERROR,
    1008: Outcome.AUTH_REJECTED,
    1009: Outcome.PROTOCOL_ERROR,
    1010: Outcome.PROTOCOL_ERROR,
    1011: Outcome.SERVER_ERROR,
    1012: Outcome.GOING_AWAY,
    1013: Outcome.GOING_AWAY,
}


def outcome_for_close(code: int | None, completed: bool) -> Outcome:
    """The outcome of a run that ended with a close frame carrying ``code``.

    1000 (and 1005, no status) after ``agent_completed`` is ``ok``; any other
    close before completion is ``incomplete`` unless the code names a failure.
    """
    if code is None:
        return Outcome.ABNORMAL_CLOSE
    if code in _CLOSE_CODE_OUTCOMES:
        return _CLOSE_CODE_OUTCOMES[code]
    return Outcome.OK if completed else Outcome.INCOMPLETE
