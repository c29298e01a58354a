"""Google Cloud Logging: the probe sink, syncing probe runs from many locations, and the backend's own errors.

Thin adapter over the google-cloud-logging client library (HTTP transport). Entries are handled as
the REST API's JSON dicts (``LogEntry.to_api_repr()``), the same shape the sandbox writes to its log
file, so the cloud and the local source share every line of parsing.

Configuration: project from ``--project`` or ``PATHWATCH_GCP_PROJECT``; credentials by Application
Default Credentials; ``PATHWATCH_LOGGING_ENDPOINT`` overrides the API endpoint (a loopback ``http://``
endpoint is then used with anonymous credentials: tests and private endpoints).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from probes.errors import ConfigError, PathwatchError
from probes.record import ProbeRun

PROBE_LOG = "pathwatch-probe"
PROJECT_ENV = "PATHWATCH_GCP_PROJECT"
ENDPOINT_ENV = "PATHWATCH_LOGGING_ENDPOINT"
SYNC_CURSOR = "cloud_logging_probe_sync"
PAGE_SIZE = 500


class CloudLoggingError(PathwatchError):
    """Cloud Logging could not be reached or refused the request; the message says which and why."""


def project_from(arg: str | None, environ: dict[str, str] | None = None) -> str:
    project = arg or (environ if environ is not None else os.environ).get(PROJECT_ENV)
    if not project:
        raise ConfigError(f"no Google Cloud project: pass --project or set {PROJECT_ENV}")
    return project


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


# ---------------------------------------------------------------- probe sink

def run_labels(run: ProbeRun) -> dict[str, str]:
    return {"target": run.target, "outcome": run.outcome, "revision": run.revision or "unknown"}


class ProbeSink:
    """Writes one structured entry per run to the ``pathwatch-probe`` log."""

    def __init__(self, project: str, environ: dict[str, str] | None = None) -> None:
        self.logger = client(project, environ).logger(PROBE_LOG)

    def write(self, runs: Iterable[ProbeRun]) -> None:
        for run in runs:
            try:
                self.logger.log_struct(run.to_dict(), severity="INFO" if run.ok else "ERROR", labels=run_labels(run),
                                       insert_id=run.run_id, timestamp=_parse_ts(run.started_at))
            except Exception as exc:  # noqa: BLE001 - the client raises many types; one message for the user
                raise CloudLoggingError(f"writing run {run.run_id} to Cloud Logging failed: {_why(exc)}") from exc


# ---------------------------------------------------------------- listing with quota back-off

def _is_quota(exc: BaseException) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, (gexc.TooManyRequests, gexc.ResourceExhausted)) or "RESOURCE_EXHAUSTED" in str(exc)


def _why(exc: BaseException) -> str:
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.Unauthorized | gexc.Forbidden):
        return f"permission denied ({exc.message}); check Application Default Credentials and the logging.viewer role"
    if isinstance(exc, gexc.NotFound):
        return f"not found ({exc.message}); check the project id"
    return str(exc).splitlines()[0][:300]


def batches(cl: Any, project: str, make_filter: Callable[[float], str], start_ts: float, *, batch_size: int = PAGE_SIZE,
            max_retries: int = 8, sleep: Callable[[float], None] = time.sleep, backoff_s: float = 1.0) -> Iterator[list[dict[str, Any]]]:
    """Entries (REST dicts) in time order, in batches; the library pages underneath.

    On 429/RESOURCE_EXHAUSTED it waits (exponential back-off) and re-queries from the last timestamp already
    handed out, so at most the entries sharing that timestamp are seen twice (callers dedupe by id).
    """
    cursor = start_ts
    retries = 0
    while True:
        batch: list[dict[str, Any]] = []
        try:
            for entry in cl.list_entries(resource_names=[f"projects/{project}"], filter_=make_filter(cursor), order_by="timestamp asc",
                                         page_size=batch_size):
                batch.append(entry.to_api_repr())
                if len(batch) >= batch_size:
                    yield batch
                    cursor = _parse_ts(batch[-1]["timestamp"]).timestamp()
                    batch, retries = [], 0
        except Exception as exc:  # noqa: BLE001
            if _is_quota(exc) and retries < max_retries:
                if batch:
                    yield batch
                    cursor = _parse_ts(batch[-1]["timestamp"]).timestamp()
                sleep(backoff_s * 2 ** retries)
                retries += 1
                continue
            raise CloudLoggingError(f"listing Cloud Logging entries failed: {_why(exc)}") from exc
        if batch:
            yield batch
        return


def _parse_ts(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- sync probe runs into the store

def run_from_entry(entry: dict[str, Any]) -> ProbeRun:
    payload = entry.get("jsonPayload")
    if not isinstance(payload, dict) or "run_id" not in payload:
        raise ValueError("not a Pathwatch probe entry (no jsonPayload.run_id)")
    return ProbeRun.from_dict(payload)


def sync(store: Any, project: str, *, since_ts: float, cl: Any = None, progress: Callable[[str], None] | None = None,
         sleep: Callable[[float], None] = time.sleep, page_size: int = PAGE_SIZE) -> dict[str, int]:
    """Pull probe entries into the store, page by page, resuming from the saved cursor.

    Each page's runs and the cursor (the last entry's timestamp) are written in one transaction, so an
    interruption loses nothing and a rerun re-reads at most one page, whose runs are skipped by run_id.
    """
    from store import kv

    cl = cl or client(project)
    cursor = kv.get(store, SYNC_CURSOR)
    start = max(since_ts, float(cursor)) if cursor else since_ts

    def make_filter(ts: float) -> str:
        return f'logName="projects/{project}/logs/{PROBE_LOG}" AND timestamp>="{rfc3339(ts)}"'

    seen = added = skipped = 0
    for page in batches(cl, project, make_filter, start, batch_size=page_size, sleep=sleep):
        runs = []
        for entry in page:
            try:
                runs.append(run_from_entry(entry))
            except (ValueError, KeyError, TypeError):
                skipped += 1
        last_ts = _parse_ts(page[-1]["timestamp"]).timestamp()
        added += store.save_runs(runs, kv_updates={SYNC_CURSOR: repr(last_ts)})
        seen += len(page)
        if progress:
            progress(f"sync: {seen} entries read, {added} new runs, up to {page[-1]['timestamp']}")
    return {"entries": seen, "added": added, "skipped": skipped}


# ---------------------------------------------------------------- server error logs

def server_filter(service: str, start_ts: float, end_ts: float, revision: str | None = None) -> str:
    parts = ['resource.type="cloud_run_revision"', f'resource.labels.service_name="{service}"', "severity>=ERROR",
             f'timestamp>="{rfc3339(start_ts)}"', f'timestamp<="{rfc3339(end_ts)}"']
    if revision:
        parts.insert(2, f'resource.labels.revision_name="{revision}"')
    return " AND ".join(parts)


def fetch_server_errors(project: str, service: str, start_ts: float, end_ts: float, revision: str | None = None, *,
                        cl: Any = None, sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    cl = cl or client(project)
    out: dict[str, dict[str, Any]] = {}
    for page in batches(cl, project, lambda ts: server_filter(service, ts, end_ts, revision), start_ts, sleep=sleep):
        out.update({str(e.get("insertId")): e for e in page})
    return list(out.values())


def read_log_file(path: str | Path, start_ts: float, end_ts: float, service: str | None = None, min_severity: str = "ERROR") -> list[dict[str, Any]]:
    """The local source: the sandbox's JSON-lines log (entries shaped like Cloud Logging's), same window and severity."""
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
            e = json.loads(line)
            ts = _parse_ts(e["timestamp"]).timestamp()
        except (ValueError, KeyError, TypeError):
            print(f"pathwatch: {path}:{n}: skipped a line that is not a log entry", file=sys.stderr)
            continue
        sev = e.get("severity", "DEFAULT")
        in_scope = service is None or (e.get("resource") or {}).get("labels", {}).get("service_name") == service
        if in_scope and start_ts <= ts <= end_ts and (order.index(sev) if sev in order else 0) >= floor:
            out.append(e)
    return out
