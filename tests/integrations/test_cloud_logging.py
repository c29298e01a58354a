"""Cloud Logging with the real google-cloud-logging client against the local Logging API stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import server_logs
from integrations import cloud_logging
from integrations.server_errors import Source, collect
from sandbox.logs import ORCHESTRATOR_TRACEBACK
from store import kv
from store.sqlite import open_store
from tests.conftest import TEST_SECRET, running_sandbox
from tests.fakes.logging_api import FakeLogging, fake_logging
from tests.fixtures.record import load_fixture

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pw-test"


def _env(fake: FakeLogging) -> dict[str, str]:
    return {"PATHWATCH_LOGGING_ENDPOINT": fake.endpoint, "PATHWATCH_GCP_PROJECT": PROJECT}


def _fill(fake: FakeLogging, n: int) -> list[str]:
    """Write n recorded runs through the real sink (the client's entries:write)."""
    runs = load_fixture()[:n]
    cloud_logging.ProbeSink(PROJECT, _env(fake)).write(runs)
    return [r.run_id for r in runs]


def test_probe_run_writes_one_structured_entry_per_run(tmp_path: Path) -> None:
    with fake_logging() as fake, running_sandbox("orchestrator_crash", time_scale=0.02) as sb:
        env = {"PATH": "/usr/bin:/bin", "PATHWATCH_JWT_SECRET": TEST_SECRET, **_env(fake)}
        p = subprocess.run([sys.executable, "-m", "probes", "run", "--url", sb.url, "--health-url", sb.health_url, "--cloud-logging",
                            "--db", str(tmp_path / "p.db"), "--timeout", "5"], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
        assert p.returncode == 1, p.stderr
        # The client library adds one diagnostic entry per process; the run's entry is the one with a run_id.
        (entry,) = [e for e in fake.entries if "run_id" in (e.get("jsonPayload") or {})]
    assert entry["logName"] == f"projects/{PROJECT}/logs/pathwatch-probe"
    assert entry["severity"] == "ERROR"
    assert entry["jsonPayload"]["outcome"] == "server_error" and entry["jsonPayload"]["close_code"] == 1011
    assert entry["labels"] == {"target": entry["jsonPayload"]["target"], "outcome": "server_error", "revision": entry["jsonPayload"]["revision"]}
    assert TEST_SECRET not in json.dumps(fake.requests)


def test_sync_pages_through_everything_once_and_resumes(tmp_path: Path) -> None:
    with fake_logging(FakeLogging(max_page_size=7)) as fake:
        ids = _fill(fake, 30)
        with open_store(tmp_path / "s.db") as store:
            cl = cloud_logging.client(PROJECT, _env(fake))
            first = cloud_logging.sync(store, PROJECT, since_ts=0, cl=cl, page_size=7)
            again = cloud_logging.sync(store, PROJECT, since_ts=0, cl=cl, page_size=7)
            stored = [r[0] for r in store.run_rows(("run_id",))]
            cursor = kv.get(store, cloud_logging.SYNC_CURSOR)
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
        res = cloud_logging.sync(store, PROJECT, since_ts=0, cl=cloud_logging.client(PROJECT, _env(fake)), sleep=waits.append, page_size=10)
    assert res["added"] == 12
    assert waits == [1.0, 2.0, 4.0], "exponential back-off, then the same page again"


def test_an_interrupted_sync_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with fake_logging(FakeLogging(max_page_size=5)) as fake:
        ids = _fill(fake, 20)
        fake.fail_call = 3
        with open_store(tmp_path / "s.db") as store:
            cl = cloud_logging.client(PROJECT, _env(fake))
            with pytest.raises(cloud_logging.CloudLoggingError, match="injected failure"):
                cloud_logging.sync(store, PROJECT, since_ts=0, cl=cl, page_size=5)
            partial = store.count_runs()
            cloud_logging.sync(store, PROJECT, since_ts=0, cl=cl, page_size=5)
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


def _cloud_run_entry(ts: str, payload: dict | None = None, text: str | None = None, session: str | None = None) -> dict:  # type: ignore[type-arg]
    e = {"timestamp": ts, "severity": "ERROR", "insertId": f"i{ts}", "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstderr",
         "resource": {"type": "cloud_run_revision", "labels": {"service_name": "netra-backend-staging", "revision_name": "netra-backend-staging-00291-abc"}},
         "labels": {"x_test_session": session} if session else {}}
    if text is not None:
        e["textPayload"] = text
    else:
        e["jsonPayload"] = payload or {}
    return e


EXPECTED = "AttributeError: 'NoneType' object has no attribute 'create_execution_context' at agent_service_core.py:544"


@pytest.mark.parametrize("entry", [
    _cloud_run_entry("2026-11-25T00:00:01Z", text="Error in start_agent\n" + ORCHESTRATOR_TRACEBACK),
    _cloud_run_entry("2026-11-25T00:00:02Z", {"message": "start_agent failed", "stack_trace": ORCHESTRATOR_TRACEBACK}),
    _cloud_run_entry("2026-11-25T00:00:03Z", {"message": "start_agent failed", "error": {"stack": ORCHESTRATOR_TRACEBACK}}),
    _cloud_run_entry("2026-11-25T00:00:04Z", {"exception": ORCHESTRATOR_TRACEBACK}),
    _cloud_run_entry("2026-11-25T00:00:05Z", {"message": ORCHESTRATOR_TRACEBACK}),
], ids=["textPayload", "json-stack_trace", "json-error.stack", "json-exception", "json-message"])
def test_traceback_signature_from_every_payload_shape(entry: dict) -> None:  # type: ignore[type-arg]
    assert server_logs.parse_entry(entry).signature == EXPECTED


def test_non_traceback_errors_still_get_a_signature() -> None:
    err = server_logs.parse_entry(_cloud_run_entry("2026-11-25T00:00:06Z", {"message": "upstream connect error or disconnect/reset"}))
    assert err.exc_type is None and err.signature == "upstream connect error or disconnect/reset"


def test_server_errors_from_cloud_are_linked_to_runs_and_stored(tmp_path: Path) -> None:
    runs = [r for r in load_fixture() if r.close_code == 1011][:3]
    from store.sqlite import iso_to_ts

    with fake_logging() as fake, open_store(tmp_path / "l.db") as store:
        store.save_runs(runs)
        t0 = iso_to_ts(runs[0].started_at)
        from integrations.cloud_logging import rfc3339

        fake.entries += [
            _cloud_run_entry(rfc3339(iso_to_ts(runs[0].started_at) + 0.1), text=ORCHESTRATOR_TRACEBACK, session=runs[0].run_id),
            _cloud_run_entry(rfc3339(iso_to_ts(runs[1].started_at) + 0.05), {"message": "boom", "stack_trace": ORCHESTRATOR_TRACEBACK}),
            {**_cloud_run_entry(rfc3339(t0), text="other service"), "resource": {"type": "cloud_run_revision", "labels": {"service_name": "other"}}},
        ]
        import os

        os.environ.update(_env(fake))
        try:
            rows = collect(store, Source(project=PROJECT), t0, t0 + 60, service="netra-backend-staging")
        finally:
            for k in _env(fake):
                os.environ.pop(k, None)
        filters = [c["filter"] for c in fake.list_calls()]
        from store import server_logs as stored

        kept = stored.for_run(store, runs[0].run_id)
    assert len(rows) == 2 and {r["signature"] for r in rows} == {EXPECTED}
    assert rows[0]["run_id"] == runs[0].run_id, "linked by the X-Test-Session run id"
    assert rows[1]["run_id"] is not None, "linked by time proximity"
    assert 'resource.type="cloud_run_revision"' in filters[0] and "severity>=ERROR" in filters[0]
    assert kept and kept[0]["signature"] == EXPECTED


def test_logs_cli_reads_the_sandbox_log_file(tmp_path: Path) -> None:
    """The local source: the sandbox's own log next to real probe runs, no cloud at all."""
    db = tmp_path / "f.db"
    env = {"PATH": "/usr/bin:/bin", "PATHWATCH_JWT_SECRET": TEST_SECRET, "PATHWATCH_DB": str(db)}
    with running_sandbox("orchestrator_crash", time_scale=0.02) as sb:
        for _ in range(3):
            subprocess.run([sys.executable, "-m", "probes", "run", "--url", sb.url, "--health-url", sb.health_url, "--timeout", "5", "--quiet"],
                           env=env, timeout=60, cwd=ROOT, check=False)
        log = tmp_path / "sandbox.log"
        log.write_text(sb.log.getvalue(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect"], env=env, timeout=60, cwd=ROOT, check=True, capture_output=True)
    with open_store(db) as s:
        from store import incidents as store_incidents

        inc = store_incidents.list_incidents(s)[0]["id"]
    p = subprocess.run([sys.executable, "-m", "analysis", "logs", "--incident", inc, "--log-file", str(log), "--json"],
                       capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["signatures"][0]["signature"] == EXPECTED and out["signatures"][0]["count"] == 3
    assert out["linked_to_runs"] == 3
