"""``services.server_errors``: the backend's errors fetched (Cloud Logging through the real client and the local
Logging API stand-in, or the sandbox's own log file), signed, linked to real runs and kept in a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.incidents import manual
from probes.timeutil import rfc3339
from sandbox.logs import ORCHESTRATOR_TRACEBACK
from services.server_errors import collect_incident_errors, collect_server_errors, service_for
from services.settings import Source
from store import server_logs as stored
from store.sqlite import iso_to_ts, open_store
from tests.conftest import TEST_SECRET, running_sandbox
from tests.fakes.logging_api import fake_logging
from tests.fixtures.record import load_fixture
from tests.integrations.test_cloud_logging import EXPECTED, PROJECT, ROOT, _cloud_run_entry, _env


def test_server_errors_from_cloud_are_linked_to_runs_and_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [r for r in load_fixture() if r.close_code == 1011][:3]
    with fake_logging() as fake, open_store(tmp_path / "l.db") as store:
        store.save_runs(runs)
        t0 = iso_to_ts(runs[0].started_at)
        fake.entries += [
            _cloud_run_entry(rfc3339(iso_to_ts(runs[0].started_at) + 0.1), text=ORCHESTRATOR_TRACEBACK, session=runs[0].run_id),
            _cloud_run_entry(rfc3339(iso_to_ts(runs[1].started_at) + 0.05), {"message": "boom", "stack_trace": ORCHESTRATOR_TRACEBACK}),
            {**_cloud_run_entry(rfc3339(t0), text="other service"), "resource": {"type": "cloud_run_revision", "labels": {"service_name": "other"}}},
        ]
        for k, v in _env(fake).items():
            monkeypatch.setenv(k, v)
        rows = collect_server_errors(store, Source(project=PROJECT), t0, t0 + 60, service="netra-backend-staging")
        filters = [c["filter"] for c in fake.list_calls()]
        kept = stored.for_run(store, runs[0].run_id)
    assert len(rows) == 2 and {r["signature"] for r in rows} == {EXPECTED}
    assert rows[0]["run_id"] == runs[0].run_id, "linked by the X-Test-Session run id"
    assert rows[1]["run_id"] is not None, "linked by time proximity"
    assert 'resource.type="cloud_run_revision"' in filters[0] and "severity>=ERROR" in filters[0]
    assert kept and kept[0]["signature"] == EXPECTED


def test_an_incidents_errors_come_from_its_window_and_name_its_service(tmp_path: Path) -> None:
    """The window is the incident's own (an open one runs to now), widened by the margin; nothing outside it is kept."""
    t0 = 1_795_600_000.0
    log = tmp_path / "server.log"
    times = {"before the margin": t0 - 120, "in the margin": t0 - 30, "inside": t0 + 100, "after, open": t0 + 500}
    log.write_text("".join(json.dumps(_cloud_run_entry(rfc3339(ts), text=f"{name}\n" + ORCHESTRATOR_TRACEBACK)) + "\n"
                           for name, ts in times.items()), encoding="utf-8")
    inc = manual("MAN-1", "crash", t0, None, ("staging",))
    with open_store(tmp_path / "w.db") as store:
        got = collect_incident_errors(store, inc, Source(log_file=str(log)), now=t0 + 600)
        closed = collect_incident_errors(store, manual("MAN-2", "crash", t0, t0 + 200), Source(log_file=str(log)), now=t0 + 600)
    assert sorted(r["ts"] for r in got.rows) == [t0 - 30, t0 + 100, t0 + 500]
    assert sorted(r["ts"] for r in closed.rows) == [t0 - 30, t0 + 100]
    assert got.signatures[0]["count"] == 3 and got.skipped == 0 and got.source == f"file:{log}"
    assert service_for(inc, {"other": "svc-b", "staging": "svc-a"}) == "svc-a"
    assert service_for(manual("MAN-3", "x", t0, None), {"a": "svc-a"}) == "svc-a", "no targets: the first configured service"


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
    listed = subprocess.run([sys.executable, "-m", "analysis", "incidents", "list", "--json"], env=env, timeout=60, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    inc = json.loads(listed.stdout)[0]["id"]
    p = subprocess.run([sys.executable, "-m", "analysis", "logs", "--incident", inc, "--log-file", str(log), "--json"],
                       capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["signatures"][0]["signature"] == EXPECTED and out["signatures"][0]["count"] == 3
    assert out["linked_to_runs"] == 3
