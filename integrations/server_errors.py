"""Fetch the backend's errors for a time window (Cloud Logging or the sandbox's log file), sign them, link them
to runs, and keep them in the store, so the client's "1011 after 7 s" sits next to the server's traceback."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from analysis import server_logs
from integrations import cloud_logging
from probes.redact import known_secrets, redact_data
from store import server_logs as stored
from store.sqlite import Store

SERVER_LOG_ENV = "PATHWATCH_SERVER_LOG"
MARGIN_S = 60.0


@dataclass(frozen=True)
class Source:
    """Where server logs come from: a local JSON-lines file, or a Cloud Logging project."""

    log_file: str | None = None
    project: str | None = None

    @property
    def name(self) -> str:
        return f"file:{self.log_file}" if self.log_file else f"cloud:{self.project}"


def default_source(project: str | None = None, log_file: str | None = None, environ: dict[str, str] | None = None) -> Source | None:
    env = environ if environ is not None else os.environ
    if log_file or env.get(SERVER_LOG_ENV):
        return Source(log_file=log_file or env.get(SERVER_LOG_ENV))
    proj = project or env.get(cloud_logging.PROJECT_ENV)
    return Source(project=proj) if proj else None


def collect(store: Store, source: Source, start_ts: float, end_ts: float, *, service: str | None = None,
            revisions: tuple[str, ...] = (), margin_s: float = MARGIN_S, skips: cloud_logging.Skips | None = None) -> list[dict[str, Any]]:
    """Fetch ERROR+ entries of the window (plus a margin), link each to a run, store them; returns the stored rows.

    Every entry is redacted (the secrets in this process's environment, then token shapes) before it is parsed,
    cut or stored. Entries that cannot be read are skipped and counted in ``skips`` (default: reported on stderr).
    """
    skips = skips if skips is not None else cloud_logging.Skips(report=lambda line: print(f"pathwatch: {line}", file=sys.stderr))
    lo, hi = start_ts - margin_s, end_ts + margin_s
    if source.log_file:
        entries = cloud_logging.read_log_file(source.log_file, lo, hi, service, skips=skips)
    else:
        if not service:
            from probes.errors import ConfigError

            raise ConfigError("fetching server logs from Cloud Logging needs the service name (service_name in the target's config, or --service)")
        entries = []
        for rev in revisions or (None,):
            entries += cloud_logging.fetch_server_errors(str(source.project), service, lo, hi, rev, skips=skips)
    secrets = known_secrets()
    entries = [redact_data(e, secrets) for e in entries]
    errors = [server_logs.parse_entry(e, secrets) for e in entries]
    runs = store.run_rows(("run_id", "started_ts", "total_ms"), since_ts=lo - 300, until_ts=hi)
    ids = [r[0] for r in runs]
    starts = [r[1] for r in runs]
    ends = [r[1] + (r[2] or 0.0) / 1000.0 for r in runs]
    links = server_logs.link_to_runs(errors, ids, starts, ends)
    rows = [{"insert_id": err.insert_id, "ts": err.ts, "severity": err.severity, "service": err.service, "revision": err.revision,
             "session": err.session, "signature": err.signature, "run_id": run_id, "source": source.name, "entry": entry}
            for err, run_id, entry in zip(errors, links, entries, strict=True)]
    if rows:
        stored.save(store, rows)
    return rows
