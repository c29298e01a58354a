"""Probe runs written to Cloud Logging from many locations, pulled into the store; and the probe's own sink.

The adapter (``integrations.cloud_logging``) lists and checks the entries; this module writes the runs and the cursor,
so a sync that is interrupted loses nothing and resumes where it stopped. It imports no pandas and no analysis:
``python -m probes`` calls it (lazily) on the ``sync`` command and for ``--cloud-logging``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from integrations import cloud_logging
from integrations.cloud_logging import ForeignEntry, MalformedEntry, ProbeSink, Skips
from probes.timeutil import rfc3339
from services.settings import gcp_project
from store import kv

SYNC_CURSOR = "cloud_logging_probe_sync"
#: The malformed entries already reported that a later sync may read again (those at or after its cursor).
SYNC_REPORTED = "cloud_logging_probe_sync_reported"
MAX_REMEMBERED = 1000


def open_sink(project: str | None = None) -> ProbeSink:
    """The Cloud Logging sink of ``probes run --cloud-logging``: ``project``, else ``PATHWATCH_GCP_PROJECT``."""
    return ProbeSink(gcp_project(project))


def sync_probe_runs(store: Any, project: str, *, since_ts: float, cl: Any = None, progress: Callable[[str], None] | None = None,
                    sleep: Callable[[float], None] = time.sleep, page_size: int = cloud_logging.PAGE_SIZE) -> dict[str, Any]:
    """Pull probe entries into the store, page by page, resuming from the saved cursor.

    Each page's runs and the cursor (the newest readable timestamp of the page) are written in one transaction,
    so an interruption loses nothing and a rerun re-reads at most one page, whose runs are skipped by run_id.

    An entry that is not a readable run is skipped: counted in ``skipped``, its insertId in ``skipped_ids`` (the
    first 20) and reported once through ``progress``; the good entries around it are imported and the cursor moves
    past it. A later sync that reads it again (it shares the cursor's timestamp) neither counts nor reports it again.
    """
    cl = cl or cloud_logging.client(project)
    cursor = kv.get(store, SYNC_CURSOR)
    start = max(since_ts, float(cursor)) if cursor else since_ts
    try:
        remembered: dict[str, float | None] = dict(json.loads(kv.get(store, SYNC_REPORTED) or "{}"))
    except (ValueError, TypeError):  # a damaged memory costs at most a repeated report, never the sync
        remembered = {}

    skips = Skips(report=(lambda line: progress(f"sync: {line}")) if progress else None)
    seen = added = ignored = 0
    last_ts = start
    for page in cloud_logging.batches(cl, project, lambda ts: cloud_logging.probe_filter(project, ts), start, batch_size=page_size,
                                      sleep=sleep):
        runs = []
        for entry in page:
            try:
                runs.append(cloud_logging.run_from_entry(entry))
            except ForeignEntry:
                ignored += 1
            except MalformedEntry as exc:
                eid = cloud_logging.entry_id(entry)
                if eid not in remembered or eid == "(no insertId)":
                    remembered[eid] = cloud_logging.entry_ts(entry)
                    skips.add(eid, str(exc))
        last_ts = cloud_logging.page_ts(page, last_ts)
        remembered = dict(list({k: v for k, v in remembered.items() if v is None or v >= last_ts}.items())[-MAX_REMEMBERED:])
        added += store.save_runs(runs, kv_updates={SYNC_CURSOR: repr(last_ts), SYNC_REPORTED: json.dumps(remembered)})
        seen += len(page)
        if progress:
            progress(f"sync: {seen} entries read, {added} new runs, up to {rfc3339(last_ts)}")
    return {"entries": seen, "added": added, "skipped": skips.count, "skipped_ids": skips.ids, "ignored": ignored}
