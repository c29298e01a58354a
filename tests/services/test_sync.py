"""``services.sync``: probe runs written to Cloud Logging (through the real client and the local Logging API stand-in)
pulled into a real SQLite store, page by page, resuming from a cursor; and ``python -m probes sync`` on top of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from integrations import cloud_logging
from services.sync import SYNC_CURSOR, sync_probe_runs
from store import kv
from store.sqlite import open_store
from tests.fakes.logging_api import FakeLogging, fake_logging
from tests.integrations.test_cloud_logging import PROJECT, ROOT, _env, _fill


def test_sync_pages_through_everything_once_and_resumes(tmp_path: Path) -> None:
    with fake_logging(FakeLogging(max_page_size=7)) as fake:
        ids = _fill(fake, 30)
        with open_store(tmp_path / "s.db") as store:
            cl = cloud_logging.client(PROJECT, _env(fake))
            first = sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=7)
            again = sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=7)
            stored = [r[0] for r in store.run_rows(("run_id",))]
            cursor = kv.get(store, SYNC_CURSOR)
        calls = fake.list_calls()
    assert first["added"] == 30 and first["skipped"] <= 1, "the library's diagnostic entry is skipped, not an error"
    assert sorted(stored) == sorted(ids), "every run exactly once"
    assert again["added"] == 0 and again["entries"] <= 7, "the second sync resumes at the cursor: at most one page is re-read"
    assert cursor is not None and any(c.get("pageToken") for c in calls), "paging was used"


def test_sync_backs_off_on_resource_exhausted() -> None:
    waits: list[float] = []
    with fake_logging(FakeLogging(max_page_size=10)) as fake, open_store(":memory:") as store:
        _fill(fake, 12)
        fake.throttle_next = 3
        res = sync_probe_runs(store, PROJECT, since_ts=0, cl=cloud_logging.client(PROJECT, _env(fake)), sleep=waits.append, page_size=10)
    assert res["added"] == 12
    assert waits == [1.0, 2.0, 4.0], "exponential back-off, then the same page again"


def test_an_interrupted_sync_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with fake_logging(FakeLogging(max_page_size=5)) as fake:
        ids = _fill(fake, 20)
        fake.fail_call = 3
        with open_store(tmp_path / "s.db") as store:
            cl = cloud_logging.client(PROJECT, _env(fake))
            with pytest.raises(cloud_logging.CloudLoggingError, match="injected failure"):
                sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=5)
            partial = store.count_runs()
            sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=5)
            stored = [r[0] for r in store.run_rows(("run_id",))]
    assert partial == 10, "the two pages before the failure were committed with their cursor"
    assert sorted(stored) == sorted(ids) and len(stored) == len(set(stored))


def test_sync_cli_reports_progress_and_counts(tmp_path: Path) -> None:
    with fake_logging(FakeLogging(max_page_size=500)) as fake:
        _fill(fake, 15)
        env = {"PATH": "/usr/bin:/bin", **_env(fake)}
        p = subprocess.run([sys.executable, "-m", "probes", "sync", "--since", "3650d", "--db", str(tmp_path / "c.db")],
                           capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
        missing = subprocess.run([sys.executable, "-m", "probes", "sync", "--db", str(tmp_path / "c.db")],
                                 capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["added"] == 15 and "sync: 15 entries read" in p.stderr
    assert missing.returncode == 2 and "PATHWATCH_GCP_PROJECT" in missing.stderr




def test_a_plain_probe_run_imports_no_integration_no_service_and_no_pandas() -> None:
    """The cron path (``probes run`` without --cloud-logging) stays lean: only ``sync`` reaches Cloud Logging, lazily."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "probes", "run", "--url", "ws://127.0.0.1:9/ws", "--no-store",
                        "--timeout", "5", "--quiet"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 1, p.stderr  # nothing listens on port 9: connect_refused, a failed check
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in p.stderr.splitlines() if ln.startswith("import time:")}
    assert "probes.runner" in imported, "the import log was read"
    assert not {m for m in imported if m.split(".")[0] in ("integrations", "services", "analysis", "pandas", "google", "github")}
