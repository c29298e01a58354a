"""Cloud Logging with the real google-cloud-logging client against the local Logging API stand-in: the adapter alone
(plain data in and out). What is done with the entries (the sync into the store, server errors linked to runs) is
tested in tests/services."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import server_logs
from integrations import cloud_logging
from integrations.server_errors import fetch_errors
from probes.errors import ConfigError
from probes.timeutil import rfc3339
from sandbox.logs import ORCHESTRATOR_TRACEBACK
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


def test_fetch_errors_returns_the_services_error_entries_as_plain_dicts() -> None:
    """The adapter fetches and checks; it neither links nor stores (no store is passed, none is opened)."""
    t0 = 1_795_600_000.0
    mine = [_cloud_run_entry(rfc3339(t0 + i), text=ORCHESTRATOR_TRACEBACK) for i in range(3)]
    other = {**_cloud_run_entry(rfc3339(t0), text="other service"), "resource": {"type": "cloud_run_revision", "labels": {"service_name": "other"}}}
    with fake_logging() as fake:
        fake.entries += [*mine, other]
        cl = cloud_logging.client(PROJECT, _env(fake))
        got = cloud_logging.fetch_server_errors(PROJECT, "netra-backend-staging", t0 - 1, t0 + 10, cl=cl)
        filters = [c["filter"] for c in fake.list_calls()]
    assert sorted(e["insertId"] for e in got) == sorted(e["insertId"] for e in mine)
    assert 'resource.labels.service_name="netra-backend-staging"' in filters[0] and "severity>=ERROR" in filters[0]
    with pytest.raises(ConfigError, match="service name"):
        fetch_errors(log_file=None, project=PROJECT, start_ts=t0, end_ts=t0 + 1)
    with pytest.raises(ConfigError, match="no log source"):
        fetch_errors(log_file=None, project=None, start_ts=t0, end_ts=t0 + 1)


def test_the_probe_log_filter_starts_at_the_cursor() -> None:
    assert cloud_logging.probe_filter("p", 0.5) == 'logName="projects/p/logs/pathwatch-probe" AND timestamp>="1970-01-01T00:00:00.500000Z"'
