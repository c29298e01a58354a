"""The golden path as a pure state machine: fed time marks, frames and closes; says the outcome.

Like the sans-I/O core of ``websockets``, this never touches a socket or a clock.
The runner (``probes.runner``) owns the socket and calls the methods below with
``t``, seconds since the run started on a monotonic clock. Every time mark is
taken by the runner; this module only records what it is told.

    RESOLVING -> CONNECTING -> SECURING (wss only) -> UPGRADING -> AWAITING_WELCOME
      -> READY (send start_agent) -> AWAITING_EVENTS -> COMPLETED
    any state -> FAILED (with exactly one outcome and the phase that did not complete)
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from probes.dialects import AGENT_FAILED, AUTO, DIALECTS, ERROR, EVIDENCE, WELCOME, derived_from
from probes.outcomes import Outcome, outcome_for_close
from probes.phases import AGENT_EVENTS, CONNECTION_PHASES, MARK_FAILURE, MARK_START_AGENT_SENT, PHASES
from probes.protocol import Message, MessageError, is_auth_error, parse_message
from probes.record import MAX_BYTES_KEPT, MAX_EVENT_DETAIL, MAX_EVENT_TYPE, MAX_EVENTS_KEPT, EventRecord
from probes.redact import clip

#: Longest server-assigned id (run id, user id) kept on a run.
MAX_ID = 128


class State(IntEnum):
    RESOLVING = 0
    CONNECTING = 1
    SECURING = 2
    UPGRADING = 3
    AWAITING_WELCOME = 4
    READY = 5
    AWAITING_EVENTS = 6
    COMPLETED = 7
    FAILED = 8


_PHASE_OF_STATE = {
    State.RESOLVING: "dns",
    State.CONNECTING: "connect",
    State.SECURING: "tls",
    State.UPGRADING: "upgrade",
    State.AWAITING_WELCOME: "welcome",
    State.READY: AGENT_EVENTS[0],
}

#: The outcome of a deadline that passes while waiting in each connection phase.
_TIMEOUT_OUTCOME = {
    "dns": Outcome.DNS_ERROR,
    "connect": Outcome.CONNECT_TIMEOUT,
    "tls": Outcome.TLS_ERROR,
    "upgrade": Outcome.UPGRADE_TIMEOUT,
}


class GoldenPath:
    """One run's progress along the golden path."""

    def __init__(
        self,
        *,
        thread_id: str,
        user_id: str,
        secure: bool,
        welcome_any_first: bool = False,
        secrets: Sequence[str] = (),
        dialect: str = AUTO,
        max_events: int = MAX_EVENTS_KEPT,
        max_bytes: int = MAX_BYTES_KEPT,
    ) -> None:
        self.thread_id = thread_id
        self.dialect = dialect
        self.user_id = user_id
        self.secure = secure
        self.welcome_any_first = welcome_any_first
        self._secrets = tuple(secrets)
        self.state = State.RESOLVING
        self.marks: dict[str, float] = {}
        self.events: list[EventRecord] = []
        self.outcome: Outcome | None = None
        self.failed_phase: str | None = None
        self.error: str | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.http_status: int | None = None
        #: What the server said about itself: its run id, the user it assigned, the dialects it spoke.
        self.server_run_id: str | None = None
        self.server_user_id: str | None = None
        self.server_thread_id: str | None = None
        #: An error frame said the token was refused: whatever ends the run next, it is auth_rejected.
        self.auth_refused = False
        self.dialects_seen: list[str] = []
        self._next_event = 0
        # The run's caps on what it keeps, and what it has been sent (for the flood error's counts).
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._bytes_kept = 0
        self._frames_seen = 0
        self._bytes_seen = 0

    # -- what the runner asks -------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in (State.COMPLETED, State.FAILED)

    @property
    def wants_start_agent(self) -> bool:
        return self.state is State.READY

    @property
    def phase(self) -> str | None:
        """The phase being waited for now (None once finished)."""
        if self.state is State.AWAITING_EVENTS:
            return AGENT_EVENTS[self._next_event]
        return _PHASE_OF_STATE.get(self.state)

    # -- connection phases ----------------------------------------------------
    def resolved(self, t: float) -> None:
        self._expect(State.RESOLVING)
        self.marks["dns"] = t
        self.state = State.CONNECTING

    def connected(self, t: float) -> None:
        self._expect(State.CONNECTING)
        self.marks["connect"] = t
        self.state = State.SECURING if self.secure else State.UPGRADING

    def secured(self, t: float) -> None:
        self._expect(State.SECURING)
        self.marks["tls"] = t
        self.state = State.UPGRADING

    def upgrade_response(self, status: int, t: float, reason: str = "") -> None:
        """The HTTP answer to the upgrade arrived (101 or an error status)."""
        self._expect(State.UPGRADING)
        self.http_status = status
        if status != 101:
            detail = f"HTTP {status} {reason}".strip()
            self._fail(Outcome.UPGRADE_REJECTED, t, f"upgrade rejected: {detail}")
            return
        self.marks["upgrade"] = t
        self.state = State.AWAITING_WELCOME

    def start_agent_sent(self, t: float) -> None:
        self._expect(State.READY)
        self.marks[MARK_START_AGENT_SENT] = t
        self.state = State.AWAITING_EVENTS

    # -- frames ---------------------------------------------------------------
    def text_received(self, text: str, t: float) -> None:
        if self.finished:
            return
        try:
            msg = parse_message(text, self.dialect)
        except MessageError as exc:
            self._record("<invalid>", t, text)
            self._fail(Outcome.PROTOCOL_ERROR, t, str(exc))
            return
        self._record(msg.type if msg.type in AGENT_EVENTS else msg.wire_type, t, text)
        if not self.finished:  # a flood caught while recording has decided the run
            self._on_message(msg, t)

    def binary_received(self, size: int, t: float) -> None:
        if self.finished:
            return
        self._record("<binary>", t, f"{size} bytes")
        self._fail(Outcome.PROTOCOL_ERROR, t, f"unexpected binary frame ({size} bytes)")

    def invalid_frame(self, what: str, t: float) -> None:
        """A frame the wire layer could not decode (invalid UTF-8, too big)."""
        if self.finished:
            return
        self._record("<invalid>", t, what)
        self._fail(Outcome.PROTOCOL_ERROR, t, what)

    def closed(self, code: int | None, reason: str, t: float) -> None:
        """The server's close frame arrived, or (``code=None``) the TCP connection dropped."""
        if self.finished:
            return
        self.close_code = 1006 if code is None else code
        self.close_reason = self._clip(reason) if reason else reason
        if self.state is State.UPGRADING and code is None:
            self._fail(Outcome.UPGRADE_REJECTED, t, "connection closed before the upgrade was answered")
            return
        outcome = Outcome.AUTH_REJECTED if self.auth_refused else outcome_for_close(code, completed=False)
        what = f"closed with {self.close_code}" + (f" {self.close_reason!r}" if reason else "")
        if code is None:
            what = "connection dropped without a close frame (1006)"
        self._fail(outcome, t, self.error or what)

    def late_close(self, code: int | None, reason: str) -> None:
        """A close that arrived after the outcome was decided: kept as evidence, outcome unchanged."""
        if self.close_code is None and code is not None:
            self.close_code = code
            self.close_reason = self._clip(reason) if reason else reason

    def failed(self, outcome: Outcome, error: str, t: float) -> None:
        """A failure the runner observed at the transport (DNS, refused, TLS, probe bug)."""
        if not self.finished:
            self._fail(outcome, t, error)

    def deadline(self, t: float) -> None:
        if self.finished:
            return
        phase = self.phase or "?"
        if self.auth_refused:
            self._fail(Outcome.AUTH_REJECTED, t, self.error or "auth refused")
            return
        outcome = _TIMEOUT_OUTCOME.get(phase, Outcome.EVENT_TIMEOUT)
        self._fail(outcome, t, f"timed out waiting for {phase}")

    # -- results --------------------------------------------------------------
    def phases_ms(self) -> dict[str, float | None]:
        return phase_durations(self.marks)

    def elapsed_ms(self) -> dict[str, float]:
        return {k: _ms(v) for k, v in self.marks.items()}

    # -- internals ------------------------------------------------------------
    def _on_message(self, msg: Message, t: float) -> None:
        if self.state is State.AWAITING_WELCOME and (msg.type == WELCOME or (self.welcome_any_first and msg.type != ERROR)):
            self.marks["welcome"] = t
            self.state = State.READY
            return
        if not msg.known:
            pinned = f" (protocol {self.dialect})" if self.dialect != AUTO else ""
            self._fail(Outcome.PROTOCOL_ERROR, t, f"unknown message type {msg.wire_type[:60]!r}{pinned}")
            return
        if msg.dialect not in self.dialects_seen:
            self.dialects_seen.append(msg.dialect)  # type: ignore[arg-type]
        if msg.type == ERROR:
            # Kept as the run's error; the close that follows decides the outcome, except that after an auth error
            # any close (or the deadline) is auth_rejected (websocket_ssot.py:826-843: error_message AUTH_FAILED, then 1008).
            self.error = self._clip(msg.error_text or msg.wire_type)
            self.auth_refused = self.auth_refused or is_auth_error(msg)
            return
        if msg.type in (EVIDENCE, WELCOME):
            return  # heartbeats, connection_error, notices, a repeated welcome: evidence only
        if self._breach(msg, t):
            return
        if msg.type == AGENT_FAILED:
            self._fail(Outcome.SERVER_ERROR, t, f"{msg.wire_type}: {msg.error_text}")
            return
        if msg.type in AGENT_EVENTS[1 : self._next_event] and msg.type != AGENT_EVENTS[-1]:
            # A re-sent event ("attempt": N), or an agent that thinks or calls tools more than once: evidence, not
            # disorder. Each phase is timed by its first event; agent_started and agent_completed come once.
            return
        if msg.retry and msg.type in AGENT_EVENTS[: self._next_event]:
            return  # a re-send of agent_started
        if self.state is not State.AWAITING_EVENTS:
            self._fail(Outcome.PROTOCOL_ERROR, t, f"{msg.wire_type} arrived before start_agent was sent")
            return
        # The bridge path sends agent_started without thread_id (agent_websocket_bridge.py:2090-2100).
        if msg.thread_id is None and msg.type != AGENT_EVENTS[0]:
            self._fail(Outcome.PROTOCOL_ERROR, t, f"{msg.wire_type} carries no thread_id")
            return
        expected = AGENT_EVENTS[self._next_event]
        if msg.type != expected:
            self._fail(Outcome.PROTOCOL_ERROR, t, f"out of order: {msg.wire_type} while waiting for {expected}")
            return
        self.marks[expected] = t
        self._next_event += 1
        if self._next_event == len(AGENT_EVENTS):
            self.outcome = Outcome.OK
            self.state = State.COMPLETED

    def _breach(self, msg: Message, t: float) -> bool:
        """Fail the run if ``msg`` belongs to another thread or another server run; learn the server's ids.

        Isolation is judged by the client's own fresh ``thread_id`` and the server's ``run_id``, not the user
        id: a server may assign identities of its own (DEMO mode makes every user ``demo-user-001``), which
        is recorded on the run (``server_user_id``) but is not a breach.
        """
        if msg.thread_id is not None and msg.thread_id not in (self.thread_id, self.server_thread_id):
            if self.server_thread_id is None and derived_from(DIALECTS[msg.dialect or ""], msg.thread_id, self.thread_id):
                self.server_thread_id = msg.thread_id
            else:
                ours = self.thread_id + (f", server's {self.server_thread_id}" if self.server_thread_id else "")
                self._fail(Outcome.ISOLATION_BREACH, t, f"{msg.wire_type} for thread {msg.thread_id} (ours: {ours})")
                return True
        if msg.run_id is not None:
            run_id = clip(msg.run_id, MAX_ID, self._secrets)
            if self.server_run_id is None:
                self.server_run_id = run_id
            elif run_id != self.server_run_id:
                self._fail(Outcome.ISOLATION_BREACH, t, f"{msg.wire_type} for run {msg.run_id} (ours: {self.server_run_id})")
                return True
        if msg.user_id is not None and msg.user_id != self.user_id and self.server_user_id is None:
            self.server_user_id = clip(msg.user_id, MAX_ID, self._secrets)
        return False

    def _clip(self, text: str) -> str:
        return clip(text, MAX_EVENT_DETAIL, self._secrets)

    def _record(self, kind: str, t: float, detail: str) -> None:
        """Keep one event, redacted and then cut; past the run's caps, fail as a flood instead of growing."""
        self._frames_seen += 1
        self._bytes_seen += len(detail.encode("utf-8", "surrogatepass"))
        flood = None
        if len(self.events) >= self.max_events:
            flood = f"message flood: more than {self.max_events} frames ({self._bytes_seen} bytes)"
        else:
            kind = clip(kind, MAX_EVENT_TYPE, self._secrets)
            detail = clip(detail, MAX_EVENT_DETAIL, self._secrets)
            if self._bytes_kept + len(kind) + len(detail) > self.max_bytes:
                flood = f"message flood: more than {self.max_bytes} bytes kept ({self._frames_seen} frames)"
        if flood is not None:
            self._fail(Outcome.PROTOCOL_ERROR, t, flood)
            return
        self._bytes_kept += len(kind) + len(detail)
        self.events.append(EventRecord(kind, _ms(t), detail))

    def _fail(self, outcome: Outcome, t: float, error: str) -> None:
        if self.finished:  # the first failure decides (``_record`` can fail a run in the middle of a handler)
            return
        self.failed_phase = self.phase
        self.outcome = outcome
        self.error = self._clip(error)  # every run error is redacted, then cut, here once
        self.marks[MARK_FAILURE] = t
        self.state = State.FAILED

    def _expect(self, state: State) -> None:
        if self.state is not state:
            raise RuntimeError(f"golden path is in {self.state.name}, not {state.name}")


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def phase_durations(marks: dict[str, float]) -> dict[str, float | None]:
    """Each phase's own duration (ms) from the end of the one before; null if not reached.

    Raw time points are recorded and durations derived afterwards, as
    blackbox_exporter does. ``agent_started`` counts from ``start_agent_sent``.
    """
    out: dict[str, float | None] = dict.fromkeys(PHASES)
    previous = 0.0
    for phase in CONNECTION_PHASES:
        if phase in marks:
            out[phase] = _ms(marks[phase] - previous)
            previous = marks[phase]
    previous_event = marks.get(MARK_START_AGENT_SENT)
    for phase in AGENT_EVENTS:
        if phase not in marks or previous_event is None:
            break
        out[phase] = _ms(marks[phase] - previous_event)
        previous_event = marks[phase]
    return out
