"""Google Cloud Logging: the probe sink, reading probe runs written from many locations, and the backend's own errors.

Thin adapter over the google-cloud-logging client library (HTTP transport). Entries are handled as
the REST API's JSON dicts (``LogEntry.to_api_repr()``), the same shape the sandbox writes to its log
file, so the cloud and the local source share every line of parsing. Plain data in and out: what is
done with the entries (runs saved with a cursor, errors linked to runs) is ``services.sync`` and
``services.server_errors``.

Configuration: the project is passed in; credentials by Application Default Credentials;
``PATHWATCH_LOGGING_ENDPOINT`` overrides the API endpoint (a loopback ``http://`` endpoint is then used
with anonymous credentials: tests and private endpoints).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from probes.errors import ConfigError, PathwatchError
from probes.outcomes import OUTCOMES
from probes.phases import PHASES
from probes.record import MAX_EVENT_DETAIL, EventRecord, ProbeRun
from probes.redact import clip, known_secrets, printable, redact_data
from probes.timeutil import parse_iso, parse_iso_datetime, rfc3339
from probes.tracecontext import is_span_id, is_trace_id, trace_of_log

PROBE_LOG = "pathwatch-probe"
ENDPOINT_ENV = "PATHWATCH_LOGGING_ENDPOINT"
PAGE_SIZE = 500


class CloudLoggingError(PathwatchError):
    """Cloud Logging could not be reached or refused the request; the message says which and why."""


def client(project: str, environ: dict[str, str] | None = None) -> Any:
    """A Cloud Logging client on the HTTP transport; anonymous only for a loopback http endpoint."""
    from google.cloud import logging as gcl

    env = environ if environ is not None else os.environ
    endpoint = env.get(ENDPOINT_ENV)
    if not endpoint:
        return gcl.Client(project=project, _use_grpc=False)
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{ENDPOINT_ENV}={endpoint!r}: must be an http(s) URL")
    credentials = None
    if parts.scheme == "http":
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"{ENDPOINT_ENV}={endpoint!r}: plain http is only allowed to a loopback address")
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    return gcl.Client(project=project, credentials=credentials, _use_grpc=False, client_options={"api_endpoint": endpoint.rstrip("/")})


# ---------------------------------------------------------------- what a reader could not read

class MalformedEntry(ValueError):
    """A log entry Pathwatch cannot read: readers count it, report it once with its id, and go on. Names the field."""


#: An entry bigger than Cloud Logging's own limit (256 KB) is not a log entry.
MAX_ENTRY_CHARS = 256 * 1024


def check_entry(entry: Any) -> None:
    """Raise :class:`MalformedEntry` naming the first field of ``entry`` that is not what Cloud Logging sends."""
    if not isinstance(entry, dict):
        raise MalformedEntry(f"not a JSON object ({type(entry).__name__})")
    if not isinstance(entry.get("timestamp"), str):
        raise MalformedEntry("timestamp: missing or not text")
    try:
        parse_iso_datetime(entry["timestamp"])
    except ValueError:
        raise MalformedEntry(f"timestamp: not RFC 3339 ({printable(clip(entry['timestamp'], 40))!r})") from None
    for key, kind in (("insertId", str), ("severity", str), ("textPayload", str), ("jsonPayload", dict), ("labels", dict), ("resource", dict)):
        if entry.get(key) is not None and not isinstance(entry[key], kind):
            raise MalformedEntry(f"{key}: must be {'text' if kind is str else 'an object'}, not {type(entry[key]).__name__}")
    labels = (entry.get("resource") or {}).get("labels")
    if labels is not None and (not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values())):
        raise MalformedEntry("resource.labels: must be an object of text values")
    _check_size(entry, "")


def _check_size(data: object, where: str) -> None:
    """Refuse what is not JSON data or is larger than Cloud Logging ever stores (``where`` prefixes the message)."""
    try:
        size = len(json.dumps(data))
    except (TypeError, ValueError, RecursionError):
        raise MalformedEntry(f"{where}not JSON data") from None
    if size > MAX_ENTRY_CHARS:
        raise MalformedEntry(f"{where}too large ({size} characters; Cloud Logging's limit is {MAX_ENTRY_CHARS})")


@dataclass
class Skips:
    """Entries a reader skipped because it could not read them: counted, each reported once (with its id), then left behind.

    ``report`` receives one line per skipped entry (already printable); the first ``keep`` ids are kept for summaries.
    """

    report: Callable[[str], None] | None = None
    count: int = 0
    ids: list[str] = field(default_factory=list)
    keep: int = 20

    def add(self, where: str, why: str) -> None:
        self.count += 1
        where = printable(clip(where, 120))
        if len(self.ids) < self.keep:
            self.ids.append(where)
        if self.report is not None:
            self.report(f"skipped malformed entry {where}: {printable(clip(why, 300))}")


def entry_id(entry: Any) -> str:
    """The entry's insertId for reports (or what stands for it when it has none)."""
    if isinstance(entry, dict) and isinstance(entry.get("insertId"), str) and entry["insertId"]:
        return entry["insertId"]
    return "(no insertId)"


# ---------------------------------------------------------------- probe sink

def run_labels(run: ProbeRun) -> dict[str, str]:
    return {"target": run.target, "outcome": run.outcome, "revision": run.revision or "unknown"}


class ProbeSink:
    """Writes one structured entry per run to the ``pathwatch-probe`` log (redacted once more on the way out)."""

    def __init__(self, project: str, environ: dict[str, str] | None = None) -> None:
        self.project = project
        self.logger = client(project, environ).logger(PROBE_LOG)
        self.secrets = known_secrets(environ)

    def write(self, runs: Iterable[ProbeRun]) -> None:
        for run in runs:
            # The entry sits in the run's trace (Logs Explorer shows it beside the backend's spans and log lines).
            trace = {"trace": f"projects/{self.project}/traces/{run.trace_id}", "trace_sampled": True} if is_trace_id(run.trace_id) else {}
            if trace and is_span_id(run.span_id):
                trace["span_id"] = run.span_id
            try:
                self.logger.log_struct(redact_data(run.to_dict(), self.secrets), severity="INFO" if run.ok else "ERROR",
                                       labels=redact_data(run_labels(run), self.secrets), insert_id=run.run_id,
                                       timestamp=parse_iso_datetime(run.started_at), **trace)
            except Exception as exc:  # noqa: BLE001 - the client raises many types; one message for the user
                raise CloudLoggingError(f"writing run {run.run_id} to Cloud Logging failed: {_why(exc)}") from exc


# ---------------------------------------------------------------- listing with quota back-off

def _is_quota(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, (gexc.TooManyRequests, gexc.ResourceExhausted)) or "RESOURCE_EXHAUSTED" in str(exc)


def _why(exc: BaseException) -> str:
    """The library's reason, redacted, bounded and on one line (it may quote a server's words)."""
    from google.api_core import exceptions as gexc

    def said(text: Any) -> str:
        return printable(clip(str(text), 300, known_secrets()))

    if isinstance(exc, gexc.Unauthorized | gexc.Forbidden):
        return f"permission denied ({said(exc.message)}); check Application Default Credentials and the logging.viewer role"
    if isinstance(exc, gexc.NotFound):
        return f"not found ({said(exc.message)}); check the project id"
    return said((str(exc).splitlines() or [""])[0])


def _entries(cl: Any, project: str, filter_: str, page_size: int) -> Iterator[Any]:
    """The ``entries:list`` items as the API sent them (JSON dicts), paged by the library's HTTP iterator.

    Not ``Client.list_entries``: that turns each item into a ``LogEntry`` and raises on one it cannot build (no
    logName, a bad timestamp), which ends the whole listing; here every item reaches our own checks, which skip it.
    """
    from google.api_core import page_iterator

    it = page_iterator.HTTPIterator(
        client=cl, api_request=cl._connection.api_request, path="/entries:list", item_to_value=lambda _it, item: item,
        items_key="entries",
        extra_params={"resourceNames": [f"projects/{project}"], "filter": filter_, "orderBy": "timestamp asc", "pageSize": page_size},
    )
    it._HTTP_METHOD = "POST"  # entries:list is a read with a POST body, as in the library's own _LoggingAPI
    return iter(it)


def entry_ts(entry: Any) -> float | None:
    """The entry's time in seconds since the epoch, or None when it has no readable one."""
    try:
        return parse_iso(entry["timestamp"])
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def page_ts(page: list[Any], default: float) -> float:
    """The newest readable timestamp of a page (a page's unreadable entries never stop the cursor)."""
    stamps = [ts for e in page if (ts := entry_ts(e)) is not None]
    return max(stamps) if stamps else default


def batches(cl: Any, project: str, make_filter: Callable[[float], str], start_ts: float, *, batch_size: int = PAGE_SIZE,
            max_retries: int = 8, sleep: Callable[[float], None] = time.sleep, backoff_s: float = 1.0) -> Iterator[list[Any]]:
    """Entries (REST dicts, unchecked) in time order, in batches; the library pages underneath.

    On 429/RESOURCE_EXHAUSTED it waits (exponential back-off) and re-queries from the last timestamp already
    handed out, so at most the entries sharing that timestamp are seen twice (callers dedupe by id).
    """
    cursor = start_ts
    retries = 0
    while True:
        batch: list[Any] = []
        try:
            for entry in _entries(cl, project, make_filter(cursor), batch_size):
                batch.append(entry)
                if len(batch) >= batch_size:
                    yield batch
                    cursor = page_ts(batch, cursor)
                    batch, retries = [], 0
        except Exception as exc:  # noqa: BLE001
            if _is_quota(exc) and retries < max_retries:
                if batch:
                    yield batch
                    cursor = page_ts(batch, cursor)
                sleep(backoff_s * 2 ** retries)
                retries += 1
                continue
            raise CloudLoggingError(f"listing Cloud Logging entries failed: {_why(exc)}") from exc
        if batch:
            yield batch
        return


# ---------------------------------------------------------------- probe runs from the probe log

class ForeignEntry(ValueError):
    """An entry in the probe log that is not a run and never was meant to be (the client library's diagnostic entry)."""


#: Bounds on what one synced run may hold (the probe's own records stay far inside them).
MAX_ID = 200
MAX_NAME = 200
MAX_URL = 2000
MAX_TEXT = 2000
MAX_EVENTS = 1000
MAX_TAGS = 50
_RUN_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _text(payload: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedEntry(f"jsonPayload.{key}: {'missing' if value is None else 'must be text'}")
    return clip(value, limit)


def _number(value: Any, where: str, *, nonnegative: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or (nonnegative and value < 0):
        raise MalformedEntry(f"jsonPayload.{where}: must be a finite {'non-negative ' if nonnegative else ''}number")
    return float(value)


def _integer(value: Any, where: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedEntry(f"jsonPayload.{where}: must be a whole number from {low} to {high}")
    return value


def run_from_entry(entry: Any) -> ProbeRun:
    """The run a ``pathwatch-probe`` entry carries, checked field by field and bounded, its text redacted.

    Raises :class:`MalformedEntry` naming the field when the entry cannot be a run (it is then skipped, never
    stored half-read), :class:`ForeignEntry` for the client library's own diagnostic entry.
    """
    if not isinstance(entry, dict):
        raise MalformedEntry(f"not a JSON object ({type(entry).__name__})")
    payload = entry.get("jsonPayload")
    if isinstance(payload, dict) and "run_id" not in payload and any(k.startswith("logging.googleapis.com/") for k in payload):
        raise ForeignEntry("the client library's diagnostic entry")
    if not isinstance(payload, dict):
        raise MalformedEntry("jsonPayload: missing or not an object" + (" (a textPayload entry)" if "textPayload" in entry else ""))
    _check_size(payload, "jsonPayload: ")
    secrets = known_secrets()
    payload = redact_data(payload, secrets)
    run_id = payload.get("run_id")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise MalformedEntry("jsonPayload.run_id: missing, or not a run id (1 to 128 of A-Z a-z 0-9 . _ : -)")
    started_at = _text(payload, "started_at", 64, required=True)
    try:
        parse_iso_datetime(str(started_at))
    except ValueError:
        raise MalformedEntry("jsonPayload.started_at: not an ISO 8601 time") from None
    outcome = payload.get("outcome")
    if outcome not in OUTCOMES:
        raise MalformedEntry("jsonPayload.outcome: not one of Pathwatch's outcomes")
    failed_phase = payload.get("failed_phase")
    if failed_phase is not None and failed_phase not in PHASES:
        raise MalformedEntry("jsonPayload.failed_phase: not a phase")
    trace_id = payload.get("trace_id")
    if trace_id is not None and not is_trace_id(trace_id):
        raise MalformedEntry("jsonPayload.trace_id: not a W3C trace id (32 lowercase hex digits)")
    trace_id = trace_id or trace_of_log(entry.get("trace"))
    tags = payload.get("tags") or {}
    if not isinstance(tags, dict) or len(tags) > MAX_TAGS or not all(isinstance(v, str) for v in tags.values()):
        raise MalformedEntry(f"jsonPayload.tags: must be an object of at most {MAX_TAGS} text values")
    phases = payload.get("phases_ms") or {}
    elapsed = payload.get("elapsed_ms") or {}
    if not isinstance(phases, dict) or not isinstance(elapsed, dict) or len(elapsed) > 4 * len(PHASES):
        raise MalformedEntry("jsonPayload.phases_ms / elapsed_ms: must be objects of times in ms")
    events = payload.get("events") or []
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise MalformedEntry(f"jsonPayload.events: must be a list of at most {MAX_EVENTS} events")
    parsed_events = []
    for i, e in enumerate(events):
        if not isinstance(e, dict) or not isinstance(e.get("type"), str) or not isinstance(e.get("detail", ""), str):
            raise MalformedEntry(f"jsonPayload.events[{i}]: must be an object with text type and detail")
        parsed_events.append(EventRecord(clip(e["type"], 64), _number(e.get("elapsed_ms"), f"events[{i}].elapsed_ms") or 0.0,
                                         clip(e.get("detail") or "", MAX_EVENT_DETAIL)))
    return ProbeRun(
        run_id=run_id, target=str(_text(payload, "target", MAX_NAME, required=True)), url=str(_text(payload, "url", MAX_URL) or ""),
        started_at=str(started_at), outcome=str(outcome), failed_phase=failed_phase,
        revision=_text(payload, "revision", MAX_NAME), revision_after=_text(payload, "revision_after", MAX_NAME),
        tags={clip(str(k), MAX_NAME): clip(v, MAX_NAME) for k, v in tags.items()},
        close_code=_integer(payload.get("close_code"), "close_code", 0, 65535), close_reason=_text(payload, "close_reason", MAX_TEXT),
        http_status=_integer(payload.get("http_status"), "http_status", 0, 999), error=_text(payload, "error", MAX_TEXT),
        phases_ms={p: _number(phases.get(p), f"phases_ms.{p}", nonnegative=True) for p in PHASES},
        elapsed_ms={clip(str(k), 64): v for k, ms in elapsed.items() if (v := _number(ms, f"elapsed_ms.{k}")) is not None},
        total_ms=_number(payload.get("total_ms"), "total_ms", nonnegative=True),
        thread_id=_text(payload, "thread_id", MAX_ID), user_id=_text(payload, "user_id", MAX_ID), events=parsed_events,
        trace_id=trace_id,
    )


def probe_filter(project: str, since_ts: float) -> str:
    """The ``pathwatch-probe`` log's entries from ``since_ts`` on."""
    return f'logName="projects/{project}/logs/{PROBE_LOG}" AND timestamp>="{rfc3339(since_ts)}"'


# ---------------------------------------------------------------- server error logs

def server_filter(service: str, start_ts: float, end_ts: float, revision: str | None = None) -> str:
    parts = ['resource.type="cloud_run_revision"', f'resource.labels.service_name="{service}"', "severity>=ERROR",
             f'timestamp>="{rfc3339(start_ts)}"', f'timestamp<="{rfc3339(end_ts)}"']
    if revision:
        parts.insert(2, f'resource.labels.revision_name="{revision}"')
    return " AND ".join(parts)


def fetch_server_errors(project: str, service: str, start_ts: float, end_ts: float, revision: str | None = None, *,
                        cl: Any = None, sleep: Callable[[float], None] = time.sleep, skips: Skips | None = None) -> list[dict[str, Any]]:
    """ERROR+ entries of the service in the window, deduplicated by insertId; unreadable ones are counted in ``skips``."""
    cl = cl or client(project)
    skips = skips if skips is not None else Skips()
    out: dict[str, dict[str, Any]] = {}
    bad: set[str] = set()  # a re-read after a back-off does not report an entry twice
    for page in batches(cl, project, lambda ts: server_filter(service, ts, end_ts, revision), start_ts, sleep=sleep):
        for e in page:
            try:
                check_entry(e)
            except MalformedEntry as exc:
                key = entry_id(e) if isinstance(e, dict) and e.get("insertId") else json.dumps(e, sort_keys=True, default=str)[:2000]
                if key not in bad:
                    bad.add(key)
                    skips.add(entry_id(e), str(exc))
                continue
            out[str(e.get("insertId") or f"{e['timestamp']}-{len(out)}")] = e
    return list(out.values())


def read_log_file(path: str | Path, start_ts: float, end_ts: float, service: str | None = None, min_severity: str = "ERROR",
                  skips: Skips | None = None) -> list[dict[str, Any]]:
    """The local source: the sandbox's JSON-lines log (entries shaped like Cloud Logging's), same window and severity.

    A line that is not a readable entry is skipped and counted in ``skips`` as ``FILE:LINE`` (by default reported
    on stderr), and reading goes on.
    """
    skips = skips if skips is not None else Skips(report=lambda line: print(f"pathwatch: {line}", file=sys.stderr))
    order = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
    floor = order.index(min_severity)
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ConfigError(f"server log file {str(path)!r}: cannot read ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            if len(line) > MAX_ENTRY_CHARS:
                raise MalformedEntry(f"too large ({len(line)} characters; Cloud Logging's limit is {MAX_ENTRY_CHARS})")
            try:
                e = json.loads(line)
            except (ValueError, RecursionError):
                raise MalformedEntry("not JSON") from None
            check_entry(e)
        except MalformedEntry as exc:
            skips.add(f"{path}:{n}", str(exc))
            continue
        ts = parse_iso(e["timestamp"])
        sev = e.get("severity") or "DEFAULT"
        in_scope = service is None or ((e.get("resource") or {}).get("labels") or {}).get("service_name") == service
        if in_scope and start_ts <= ts <= end_ts and (order.index(sev) if sev in order else 0) >= floor:
            out.append(e)
    return out
