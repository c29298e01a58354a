"""The run record: what one probe run observed. Defined once; stored, printed and analysed as is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from probes.phases import PHASES

#: Longest message text kept in a run's event list.
MAX_EVENT_DETAIL = 512


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
