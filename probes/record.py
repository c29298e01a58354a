"""The run record: what one probe run observed. Defined once; stored, printed and analysed as is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from probes.phases import PHASES
from probes.redact import clip

#: Longest message text kept in a run's event list.
MAX_EVENT_DETAIL = 512
#: Longest message type kept (the type is the server's text too).
MAX_EVENT_TYPE = 64
#: Per run: most events kept; a server sending more ends the run as ``protocol_error`` ("message flood").
MAX_EVENTS_KEPT = 1000
#: Per run: most bytes of event text kept (the sum of the kept details).
MAX_BYTES_KEPT = 1 << 20
#: Longest any one text field of a run is kept (error, close reason, thread id, user id, revisions).
MAX_TEXT_FIELD = 512
#: The fields :data:`MAX_TEXT_FIELD` applies to: each can carry text a server chose.
TEXT_FIELDS = ("error", "close_reason", "thread_id", "user_id", "revision", "revision_after")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One message received: its type and when (ms since the run started)."""

    type: str
    elapsed_ms: float
    detail: str = ""


@dataclass(slots=True)
class ProbeRun:
    run_id: str
    target: str
    url: str
    started_at: str
    outcome: str
    failed_phase: str | None = None
    revision: str | None = None
    revision_after: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    close_code: int | None = None
    close_reason: str | None = None
    http_status: int | None = None
    error: str | None = None
    phases_ms: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(PHASES))
    elapsed_ms: dict[str, float] = field(default_factory=dict)
    total_ms: float | None = None
    thread_id: str | None = None
    user_id: str | None = None
    events: list[EventRecord] = field(default_factory=list)
    #: The dialect(s) the server's frames were read under (``netra``, ``generic``; comma-joined if mixed).
    dialect: str | None = None
    #: The server's own run id, and the user it assigned when that differs from the token's ``sub``.
    server_run_id: str | None = None
    server_user_id: str | None = None
    #: The auth canary's verdict when one ran: ``rejected`` (auth enforced), ``accepted`` or ``inconclusive: ...``.
    auth_canary: str | None = None
    #: The W3C trace this run sent in ``traceparent`` (32 hex), and its root span (16 hex; not stored): the backend's
    #: spans and log lines carry the trace id, so they join the run even when nothing is exported.
    trace_id: str | None = None
    span_id: str | None = None

    def __post_init__(self) -> None:
        """Cap every text field a server can fill, whoever built the record (redacted, then cut)."""
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > MAX_TEXT_FIELD:
                setattr(self, name, clip(value, MAX_TEXT_FIELD))

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def served(self) -> bool:
        """The golden path reached the user (``ok``, or ``auth_not_enforced``)."""
        from probes.outcomes import SERVED

        return self.outcome in SERVED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["phases_ms"] = {p: self.phases_ms.get(p) for p in PHASES}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeRun:
        data = dict(d)
        data["events"] = [EventRecord(**e) for e in data.get("events") or []]
        phases = data.get("phases_ms") or {}
        data["phases_ms"] = {p: phases.get(p) for p in PHASES}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
