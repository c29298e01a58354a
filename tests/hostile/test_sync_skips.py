"""Rule 5: readers skip what they cannot read.

``probes sync`` (Cloud Logging's ``pathwatch-probe`` log, through the local Logging API stand-in) and the server-error
readers (the sandbox's JSON-lines log, Cloud Logging server errors) meet malformed entries among good ones: bad JSON
payloads, missing fields, wrong types, huge ones. The good entries around them are imported, each bad one is counted
and reported once with its id (insertId, or FILE:LINE), and the sync cursor moves past it, so a second sync imports
nothing new and says nothing more about it (decided: reported once, ever; the count of a sync is of new reports).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from integrations import cloud_logging
from sandbox.logs import ORCHESTRATOR_TRACEBACK, CloudLog
from services.sync import SYNC_CURSOR, sync_probe_runs
from store import kv
from store.sqlite import iso_to_ts, open_store
from tests.fakes.logging_api import FakeLogging, fake_logging
from tests.fixtures.record import load_fixture
from tests.pages.harness import app_test, open_page, shown_text

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pw-test"
SERVICE = "netra-backend-staging"
PROBE_LOG = f"projects/{PROJECT}/logs/pathwatch-probe"


def _cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def _bad_runs(good: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """insertId -> (jsonPayload, the field the report must name), one per way a payload can be unreadable."""
    def run(name: str, **changes: Any) -> dict[str, Any]:
        return {**good, "run_id": f"bad-{name}", **changes}

    return {
        "bad-json": ('{"run_id": "x", "outcome": ', "jsonPayload"),
        "no-run-id": ({k: v for k, v in good.items() if k != "run_id"}, "run_id"),
        "no-started-at": (run("a", started_at=None), "started_at"),
        "bad-time": (run("b", started_at="yesterday"), "started_at"),
        "close-code-text": (run("c", close_code="1011"), "close_code"),
        "phases-list": (run("d", phases_ms=[1, 2, 3]), "phases_ms"),
        "negative-phase": (run("e", phases_ms={**good["phases_ms"], "dns": -5}), "phases_ms.dns"),
        "unknown-outcome": (run("f", outcome="pwned"), "outcome"),
        "events-text": (run("g", events="none"), "events"),
        "huge": (run("h", error="E" * 300_000), "too large"),
    }


def _probe_entry(payload: Any, ts: str, insert_id: str) -> dict[str, Any]:
    return {"logName": PROBE_LOG, "timestamp": ts, "insertId": insert_id, "severity": "ERROR", "resource": {"type": "global", "labels": {}},
            "jsonPayload": payload}


def _filled(fake: FakeLogging, n_good: int = 12) -> tuple[list[str], dict[str, str]]:
    """Good runs written through the real sink, malformed entries between them; one shares the last good timestamp."""
    runs = load_fixture()[:n_good]
    cloud_logging.ProbeSink(PROJECT, {"PATHWATCH_LOGGING_ENDPOINT": fake.endpoint}).write(runs)
    good_entries = sorted((e for e in fake.entries if "run_id" in (e.get("jsonPayload") or {})), key=lambda e: e["timestamp"])
    bad = _bad_runs(runs[0].to_dict())
    fields = {}
    for i, (insert_id, (payload, field)) in enumerate(bad.items()):
        ts = good_entries[min(i, len(good_entries) - 1)]["timestamp"]
        ts = ts if insert_id == "huge" else cloud_logging.rfc3339(iso_to_ts(ts) + 0.0005)  # "huge" ties with a good run's time
        fake.entries.append(_probe_entry(payload, ts, insert_id))
        fields[insert_id] = field
    last = good_entries[-1]["timestamp"]
    fake.entries.append({**_probe_entry(None, last, "zz-text-at-the-cursor"), "jsonPayload": None, "textPayload": "not a run"})
    fields["zz-text-at-the-cursor"] = "jsonPayload"
    return [r.run_id for r in runs], fields


def test_probes_sync_imports_the_good_entries_and_skips_each_bad_one_once(tmp_path: Path) -> None:
    db = tmp_path / "sync.db"
    with fake_logging() as fake:
        good, bad = _filled(fake)
        env = {"PATH": "/usr/bin:/bin", "PATHWATCH_LOGGING_ENDPOINT": fake.endpoint, "PATHWATCH_GCP_PROJECT": PROJECT}
        first = _cli("probes", "sync", "--since", "3650d", "--db", str(db), env=env)
        second = _cli("probes", "sync", "--since", "3650d", "--db", str(db), env=env)
        last_ts = max(e["timestamp"] for e in fake.entries)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["added"] == len(good), "every good run around the bad entries is imported"
    assert one["skipped"] == len(bad) and sorted(one["skipped_ids"]) == sorted(bad)
    for insert_id, field in bad.items():
        lines = [ln for ln in first.stderr.splitlines() if f"skipped malformed entry {insert_id}:" in ln]
        assert len(lines) == 1, (insert_id, first.stderr)
        assert field in lines[0], f"the report names the field: {lines[0]}"
    with open_store(db) as s:
        stored = sorted(r[0] for r in s.run_rows(("run_id",)))
        cursor = float(kv.get(s, SYNC_CURSOR) or 0)
    assert stored == sorted(good), "nothing half-read was stored"
    assert cursor == iso_to_ts(last_ts), "the cursor moved to the newest entry, past the bad ones"
    assert two["added"] == 0 and two["skipped"] == 0, two
    assert "skipped malformed" not in second.stderr, "an entry read again at the cursor is not reported again"
    assert all("\x1b" not in ln and len(ln) < 600 for ln in first.stderr.splitlines()), "reports are short printable lines"


def test_a_page_of_nothing_but_bad_entries_still_moves_the_cursor(tmp_path: Path) -> None:
    """In small pages, one page holds only malformed entries: the sync goes on, and resuming starts after it."""
    with fake_logging(FakeLogging(max_page_size=4)) as fake, open_store(tmp_path / "p.db") as store:
        good, bad = _filled(fake, n_good=3)
        reports: list[str] = []
        cl = cloud_logging.client(PROJECT, {"PATHWATCH_LOGGING_ENDPOINT": fake.endpoint})
        res = sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=4, progress=reports.append)
        again = sync_probe_runs(store, PROJECT, since_ts=0, cl=cl, page_size=4, progress=reports.append)
        stored = sorted(r[0] for r in store.run_rows(("run_id",)))
    assert stored == sorted(good) and res["added"] == len(good)
    assert res["skipped"] == len(bad) and again["skipped"] == 0 and again["added"] == 0
    assert sum("skipped malformed entry" in r for r in reports) == len(bad)


# ---------------------------------------------------------------- the server-error readers

def _server_lines(t0: float) -> tuple[list[str], dict[int, str]]:
    """The sandbox's own ERROR entries with malformed lines between them; line number -> what the report must say."""
    out = io.StringIO()
    log = CloudLog(out, SERVICE)
    from datetime import UTC, datetime

    for i in range(5):
        log.entry("ERROR", f"{SERVICE}-00291-abc", session=f"s{i}", text="Error in start_agent\n" + ORCHESTRATOR_TRACEBACK,
                  when=datetime.fromtimestamp(t0 + i, UTC))
    good = out.getvalue().splitlines()
    ts = cloud_logging.rfc3339(t0 + 2.5)
    res = {"type": "cloud_run_revision", "labels": {"service_name": SERVICE}}
    bad = {
        "not json {": "not JSON",
        "[1, 2, 3]": "not a JSON object",
        json.dumps({"severity": "ERROR", "textPayload": "no time"}): "timestamp",
        json.dumps({"timestamp": "yesterday", "severity": "ERROR", "textPayload": "x"}): "timestamp",
        json.dumps({"timestamp": ts, "severity": "ERROR", "resource": "cloud_run"}): "resource",
        json.dumps({"timestamp": ts, "severity": "ERROR", "resource": {"labels": {"service_name": {"x": 1}}}}): "resource.labels",
        json.dumps({"timestamp": ts, "severity": "ERROR", "resource": res, "textPayload": 42}): "textPayload",
        json.dumps({"timestamp": ts, "severity": ["ERROR"], "resource": res, "textPayload": "x"}): "severity",
        json.dumps({"timestamp": ts, "severity": "ERROR", "resource": res, "textPayload": "E" * 300_000}): "too large",
    }
    lines: list[str] = []
    expect: dict[int, str] = {}
    for i, line in enumerate(good):
        lines.append(line)
        for text, why in list(bad.items())[i * 2: i * 2 + 2]:
            lines.append(text)
            expect[len(lines)] = why
    return lines, expect


@pytest.fixture
def manual_incident(tmp_path: Path) -> tuple[Path, str, float]:
    db = tmp_path / "logs.db"
    with open_store(db) as s:  # a few runs, so the dashboard has a store to show
        s.save_runs(load_fixture()[:4])
    p = _cli("analysis", "incidents", "create", "--title", "server errors", "--start", "2026-11-25T10:00:00Z", "--end", "2026-11-25T10:05:00Z",
             "--db", str(db), env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    return db, p.stdout.strip(), iso_to_ts("2026-11-25T10:01:00Z")


def test_the_json_lines_reader_skips_counts_and_names_each_bad_line(manual_incident: tuple[Path, str, float], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db, inc, t0 = manual_incident
    lines, expect = _server_lines(t0)
    log = tmp_path / "sandbox.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = _cli("analysis", "logs", "--incident", inc, "--log-file", str(log), "--db", str(db), "--json", env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["entries"] == 5 and out["signatures"][0]["count"] == 5, "the good lines around the bad ones are all read"
    assert out["skipped"] == len(expect) and out["skipped_ids"] == [f"{log}:{n}" for n in sorted(expect)]
    for n, why in expect.items():
        said = [ln for ln in p.stderr.splitlines() if f"{log}:{n}:" in ln]
        assert len(said) == 1 and why in said[0], (n, why, p.stderr)

    at = app_test(db, monkeypatch, PATHWATCH_SERVER_LOG=str(log))
    at.query_params["incident"] = inc
    with sqlite3.connect(db) as conn:  # the page reads the file itself on first view: start from an empty log table
        conn.execute("DELETE FROM server_logs")
    open_page(at, "pages/incidents.py")
    assert not at.exception, [e.message for e in at.exception]
    assert f"Skipped {len(expect)} malformed server log entries" in shown_text(at)
    shown = [m.value for m in at.markdown if "create_execution_context" in m.value]
    assert shown and "\\" not in shown[0], "the good entries' signature is shown, in a code span without backslashes"


def test_the_cloud_logging_server_error_reader_skips_and_counts(manual_incident: tuple[Path, str, float]) -> None:
    db, inc, t0 = manual_incident
    good = [json.loads(x) for x in _server_lines(t0)[0] if x.startswith("{") and "insertId" in x]
    ts = cloud_logging.rfc3339(t0 + 1.5)
    base = {"logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstderr", "timestamp": ts, "severity": "ERROR",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": SERVICE}}}
    bad = {
        "json-as-text": {**base, "insertId": "json-as-text", "jsonPayload": "{not an object"},
        "text-as-number": {**base, "insertId": "text-as-number", "textPayload": 7},
        "labels-list": {**base, "insertId": "labels-list", "labels": ["x"], "textPayload": "x"},
        "huge": {**base, "insertId": "huge", "textPayload": "E" * 300_000},
    }
    with fake_logging() as fake:
        fake.entries += [g for g in good if g.get("insertId")] + list(bad.values())
        env = {**os.environ, "PATHWATCH_LOGGING_ENDPOINT": fake.endpoint}
        p = _cli("analysis", "logs", "--incident", inc, "--project", PROJECT, "--service", SERVICE, "--db", str(db), "--json", env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["entries"] == 5 and out["skipped"] == len(bad) and sorted(out["skipped_ids"]) == sorted(bad)
    for insert_id in bad:
        assert sum(f"skipped malformed entry {insert_id}:" in ln for ln in p.stderr.splitlines()) == 1, p.stderr
