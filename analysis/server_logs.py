"""The server's side of a failure: error signatures from log entries, and which run each entry belongs to.

Entries are Cloud Logging REST dicts (from the API or the sandbox's file). A traceback may sit in
``textPayload`` or in ``jsonPayload`` (``message``, ``stack_trace``, ``exception``, ``traceback``, or
Error Reporting's ``error.stack``); the signature is the exception type and message plus the last
frame's file:line, e.g. ``AttributeError: 'NoneType' object has no attribute 'create_execution_context'
at agent_service_core.py:544``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from probes.protocol import RUN_ID_HEADERS
from probes.redact import clip, printable
from probes.timeutil import parse_iso
from probes.tracecontext import trace_of_log

_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in (\S+))?')
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault)|[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s*(.*))?$")
_JSON_TEXT_FIELDS = ("stack_trace", "traceback", "exception", "message", "msg", "error")
MAX_TEXT = 8000


@dataclass(frozen=True)
class ServerError:
    insert_id: str
    ts: float
    severity: str
    service: str | None
    revision: str | None
    session: str | None
    exc_type: str | None
    exc_message: str | None
    frame: str | None
    text: str
    #: The W3C trace id the entry was logged under (from the probe's traceparent), when it names a valid one.
    trace_id: str | None = None

    @property
    def signature(self) -> str:
        """One inert line: the exception and its last frame, or the first line of the text."""
        if self.exc_type is None:
            first = self.text.strip().splitlines()[0] if self.text.strip() else "error without text"
            return printable(first[:200])
        msg = f"{self.exc_type}: {self.exc_message}" if self.exc_message else self.exc_type
        return printable(f"{msg} at {self.frame}" if self.frame else msg)


def entry_text(entry: dict[str, Any], secrets: Iterable[str] = ()) -> str:
    """The entry's human text, redacted before it is cut: textPayload, or the most telling field of jsonPayload."""
    secrets = tuple(secrets)

    def cut(text: str) -> str:
        return clip(text, MAX_TEXT, secrets)

    if isinstance(entry.get("textPayload"), str):
        return cut(entry["textPayload"])
    payload = entry.get("jsonPayload") or {}
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict) and isinstance(err.get("stack"), str):
            return cut(err["stack"])
        # A traceback field wins; else message and the rest joined.
        for k in ("stack_trace", "traceback", "exception"):
            if isinstance(payload.get(k), str) and "Traceback" in payload[k]:
                message = payload.get("message")
                return cut(((message if isinstance(message, str) else "") + "\n" + payload[k]).strip())
        return cut("\n".join(payload[k] for k in _JSON_TEXT_FIELDS if isinstance(payload.get(k), str) and payload.get(k)))
    return cut(str(payload))


def parse_traceback(text: str) -> tuple[str | None, str | None, str | None]:
    """(exception type, message, last frame 'file.py:line') from a Python traceback, where there is one."""
    frames = _FRAME.findall(text)
    frame = None
    if frames:
        path, line, _ = frames[-1]
        frame = f"{path.rsplit('/', 1)[-1]}:{line}"
    exc_type = exc_msg = None
    for line in reversed([ln.strip() for ln in text.splitlines() if ln.strip()]):
        m = _EXC_LINE.match(line)
        if m:
            exc_type, exc_msg = m.group(1), (m.group(2) or None)
            break
    return exc_type, exc_msg, frame


def _ts(entry: dict[str, Any]) -> float:
    return parse_iso(str(entry["timestamp"]))


def _spellings(header: str) -> tuple[str, ...]:
    """How a log may name a run-id header: as sent (lower case), with underscores, and without the ``x-``."""
    h = header.lower()
    return tuple(dict.fromkeys((h, h.replace("-", "_"), h.removeprefix("x-").replace("-", "_"))))


#: Label and payload keys that hold a probe's run id, from :data:`probes.protocol.RUN_ID_HEADERS` (the sandbox logs
#: ``pathwatch_run``), plus the plain ``session`` some backends log in their payload.
_RUN_ID_KEYS: tuple[str, ...] = tuple(k for h in RUN_ID_HEADERS for k in _spellings(h))
_RUN_ID_HEADER_NAMES = frozenset(h.lower() for h in RUN_ID_HEADERS)


def session_of(entry: dict[str, Any]) -> str | None:
    """The probe's run id where the backend logged it: the X-Pathwatch-Run header (or X-Test-Session, sent with
    ``backend_test_headers``) as a label, a payload field or a request header."""
    labels = entry.get("labels") or {}
    for key in _RUN_ID_KEYS:
        if isinstance(labels, dict) and labels.get(key):
            return _run_id_or_none(labels[key])
    payload = entry.get("jsonPayload") or {}
    if isinstance(payload, dict):
        for key in (*_RUN_ID_KEYS, "session"):
            if isinstance(payload.get(key), str):
                return _run_id_or_none(payload[key])
        headers = payload.get("headers")
        if isinstance(headers, dict):
            for k, v in headers.items():
                if k.lower() in _RUN_ID_HEADER_NAMES:
                    return _run_id_or_none(v)
    return None


def _run_id_or_none(value: Any) -> str | None:
    """A session id as logged, when it could be a run id (short, one line); anything else links nothing."""
    text = str(value)
    return text if 0 < len(text) <= 200 and text == printable(text) else None


#: Where a Cloud Logging entry names its trace: the LogEntry field, then the structured-logging key (top level or in
#: ``jsonPayload``), as an application on Cloud Run writes it.
TRACE_KEYS: tuple[str, ...] = ("trace", "logging.googleapis.com/trace")


def trace_of(entry: dict[str, Any]) -> str | None:
    """The trace id an entry was logged under (``projects/<p>/traces/<trace id>``), or None; anything malformed is ignored."""
    payload = entry.get("jsonPayload")
    for where in (entry, payload if isinstance(payload, dict) else {}):
        for key in TRACE_KEYS:
            if (trace_id := trace_of_log(where.get(key))) is not None:
                return trace_id
    return None


def parse_entry(entry: dict[str, Any], secrets: Iterable[str] = ()) -> ServerError:
    """The entry as a :class:`ServerError`, its text redacted with ``secrets`` before any cut.

    Readers check entries first (``integrations.cloud_logging.check_entry``) and skip what they cannot read.
    """
    text = entry_text(entry, secrets)
    exc_type, exc_msg, frame = parse_traceback(text)
    labels = (entry.get("resource") or {}).get("labels") or {}
    digest = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:8]
    return ServerError(
        insert_id=str(entry.get("insertId") or f"{entry.get('timestamp')}-{digest}"), ts=_ts(entry),
        severity=str(entry.get("severity", "DEFAULT")), service=labels.get("service_name"), revision=labels.get("revision_name"),
        session=session_of(entry), exc_type=exc_type, exc_message=exc_msg, frame=frame, text=text, trace_id=trace_of(entry),
    )


def link_to_runs(errors: Sequence[ServerError], run_ids: Sequence[str], starts: Sequence[float], ends: Sequence[float],
                 max_gap_s: float = 30.0, trace_ids: Sequence[str | None] = ()) -> list[str | None]:
    """For each error, the run it belongs to: by trace id (``trace_ids``, one per run, from the traceparent each run
    sent) when the entry names the trace, else by session id when logged, else the run whose span (or nearest edge)
    is closest in time, within ``max_gap_s``. The trace is the strongest link: it holds whatever the clocks say."""
    known = set(run_ids)
    by_trace = {t: r for r, t in zip(run_ids, trace_ids, strict=False) if t}
    s, e = np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    out: list[str | None] = []
    for err in errors:
        if err.trace_id and err.trace_id in by_trace:
            out.append(by_trace[err.trace_id])
            continue
        if err.session and err.session in known:
            out.append(err.session)
            continue
        if not len(s):
            out.append(None)
            continue
        gap = np.where((s <= err.ts) & (err.ts <= e), 0.0, np.minimum(np.abs(s - err.ts), np.abs(e - err.ts)))
        i = int(np.argmin(gap))
        out.append(run_ids[i] if gap[i] <= max_gap_s else None)
    return out


def summarise(errors: Iterable[ServerError]) -> list[dict[str, Any]]:
    """Signatures with counts, first and last time and revisions, most frequent first."""
    groups: dict[str, dict[str, Any]] = {}
    for err in errors:
        g = groups.setdefault(err.signature, {"signature": err.signature, "count": 0, "first_ts": err.ts, "last_ts": err.ts, "revisions": set()})
        g["count"] += 1
        g["first_ts"], g["last_ts"] = min(g["first_ts"], err.ts), max(g["last_ts"], err.ts)
        if err.revision:
            g["revisions"].add(err.revision)
    return sorted(({**g, "revisions": sorted(g["revisions"])} for g in groups.values()), key=lambda g: (-g["count"], g["signature"]))


def signatures_by_run(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """run id -> the server's signature for it, from stored entries (dicts with ``run_id``, ``ts``, ``signature``):
    the earliest entry linked to the run that has one, since the first error is the cause and later ones its echoes."""
    out: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: float(r["ts"])):
        if row.get("run_id") and row.get("signature") and row["run_id"] not in out:
            out[str(row["run_id"])] = str(row["signature"])
    return out
