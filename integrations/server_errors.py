"""Fetch the backend's ERROR+ log entries for a time window, from the sandbox's JSON-lines file or Cloud Logging.

Only the fetching: entries come back as the REST API's dicts, unparsed. Signing them, linking them to runs and
keeping them is ``services.server_errors``.
"""

from __future__ import annotations

from typing import Any

from integrations import cloud_logging
from probes.errors import ConfigError


def fetch_errors(*, log_file: str | None, project: str | None, start_ts: float, end_ts: float, service: str | None = None,
                 revisions: tuple[str, ...] = (), skips: cloud_logging.Skips | None = None) -> list[dict[str, Any]]:
    """ERROR+ entries with ``start_ts <= timestamp <= end_ts``: from ``log_file`` when given, else from Cloud Logging in
    ``project`` (which needs ``service``; one query per revision when ``revisions`` are named). Unreadable entries are
    skipped and counted in ``skips``."""
    if log_file:
        return cloud_logging.read_log_file(log_file, start_ts, end_ts, service, skips=skips)
    if not project:
        raise ConfigError("no log source: pass --log-file or --project (or set PATHWATCH_SERVER_LOG / PATHWATCH_GCP_PROJECT)")
    if not service:
        raise ConfigError("fetching server logs from Cloud Logging needs the service name (service_name in the target's config, or --service)")
    entries: list[dict[str, Any]] = []
    for rev in revisions or (None,):
        entries += cloud_logging.fetch_server_errors(project, service, start_ts, end_ts, rev, skips=skips)
    return entries
