"""Collect the backend's errors for a time window: fetch them, sign them, link them to runs and keep them in the store,
so the client's "1011 after 7 s" sits next to the server's traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from analysis import server_logs
from analysis.incidents import Incident, incident_window
from integrations.cloud_logging import Skips
from integrations.server_errors import fetch_errors
from probes.redact import known_secrets, redact_data
from services.settings import Source
from store import server_logs as stored

__all__ = ["MARGIN_S", "IncidentErrors", "Skips", "Source", "collect_incident_errors", "collect_server_errors", "service_for"]

#: How far around the window entries are fetched (the server's clock and ours differ a little).
MARGIN_S = 60.0


class _Writable(Protocol):
    """What collecting needs of a store: its runs, and a write transaction (a read-only page gives a scratch one)."""

    def run_rows(self, columns: tuple[str, ...], **kwargs: Any) -> list[tuple[Any, ...]]: ...

    def write(self, doing: str) -> Any: ...


def _stderr_skips() -> Skips:
    return Skips(report=lambda line: print(f"pathwatch: {line}", file=sys.stderr))


def collect_server_errors(store: _Writable, source: Source, start_ts: float, end_ts: float, *, service: str | None = None,
                          revisions: tuple[str, ...] = (), margin_s: float = MARGIN_S, skips: Skips | None = None,
                          secrets: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Fetch ERROR+ entries of ``[start_ts - margin_s, end_ts + margin_s]``, link each to a run, store them; returns the stored rows.

    Every entry is redacted (``secrets``, default this process's, then token shapes) before it is parsed, cut or stored.
    Entries that cannot be read are skipped and counted in ``skips`` (default: reported on stderr).
    """
    skips = skips if skips is not None else _stderr_skips()
    secrets = known_secrets() if secrets is None else tuple(secrets)
    lo, hi = start_ts - margin_s, end_ts + margin_s
    entries = fetch_errors(log_file=source.log_file, project=source.project, start_ts=lo, end_ts=hi, service=service,
                           revisions=revisions, skips=skips)
    entries = [redact_data(e, secrets) for e in entries]
    errors = [server_logs.parse_entry(e, secrets) for e in entries]
    runs = store.run_rows(("run_id", "started_ts", "total_ms", "trace_id"), since_ts=lo - 300, until_ts=hi)
    ids = [r[0] for r in runs]
    starts = [r[1] for r in runs]
    ends = [r[1] + (r[2] or 0.0) / 1000.0 for r in runs]
    links = server_logs.link_to_runs(errors, ids, starts, ends, trace_ids=[r[3] for r in runs])
    rows = [{"insert_id": err.insert_id, "ts": err.ts, "severity": err.severity, "service": err.service, "revision": err.revision,
             "session": err.session, "signature": err.signature, "run_id": run_id, "source": source.name, "entry": entry}
            for err, run_id, entry in zip(errors, links, entries, strict=True)]
    if rows:
        stored.save(store, rows)  # type: ignore[arg-type]
    return rows


@dataclass(frozen=True)
class IncidentErrors:
    """The server's errors around one incident, as collected: the rows, their signatures, and what was skipped."""

    incident_id: str
    source: str
    rows: list[dict[str, Any]]
    signatures: list[dict[str, Any]]
    skipped: int = 0
    skipped_ids: list[str] = field(default_factory=list)

    @property
    def linked(self) -> int:
        """How many entries were linked to a probe run."""
        return sum(1 for r in self.rows if r["run_id"])


def service_for(incident: Incident, services: dict[str, str]) -> str | None:
    """The Cloud Run service of the incident's first target that names one (``services``: target -> service_name)."""
    wanted = [services[t] for t in incident.targets or tuple(services) if t in services]
    return wanted[0] if wanted else None


def collect_incident_errors(store: _Writable, incident: Incident, source: Source, *, now: float, service: str | None = None,
                            skips: Skips | None = None, secrets: Iterable[str] | None = None) -> IncidentErrors:
    """:func:`collect_server_errors` over the incident's window (an open incident runs to ``now``), its revisions named."""
    skips = skips if skips is not None else _stderr_skips()
    secrets = known_secrets() if secrets is None else tuple(secrets)
    w = incident_window(incident, now=now)
    rows = collect_server_errors(store, source, w.start_ts, w.end_ts, service=service, revisions=incident.revisions, skips=skips,
                                 secrets=secrets)
    summary = server_logs.summarise(server_logs.parse_entry(r["entry"], secrets) for r in rows)
    return IncidentErrors(incident.id, source.name, rows, summary, skips.count, list(skips.ids))
